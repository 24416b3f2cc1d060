"""The web app's pages over a real server: lists, search, conversations, downloads, attachments
and imports through the upload page.

Most tests share one server (``library``) over an archive built once per module: the sample
ChatGPT export, a synthetic one of 60 conversations imported twice (the second time without its
last conversation, which becomes "gone upstream"), a small Claude export and an export whose
attachments are a PNG, an HTML page and an SVG drawing. Tests that change the archive or start
imports have their own server.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import socket
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from click.testing import CliRunner

from freehold.archive import conversation_id, open_archive
from freehold.cli import cli
from freehold.exporters._folder import slug
from freehold.safehtml import MAX_DEPTH, RUNNABLE
from freehold.web.imports import Job
from freehold.web.views import _download_name, content_disposition
from tests.builders import chatgpt_chats, ingest, png, write_zip
from tests.web.conftest import Server, start_server

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
BRANCHED = "c19ee96c229f96f6"  # sample: "Data analysis troubleshooting", forks at message 136
PLAIN = "c4cd9d17c96e5a5f"  # sample: no attachment files
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
IMAGE = png(3, 2)
CSV = b"a,b\n1,2\n"
SYNTHETIC = 60
START = datetime(2001, 1, 1, tzinfo=UTC).timestamp()
DAY = 86400.0


# -- exports built here ----------------------------------------------------------------------------


def chatgpt_message(mid: str, role: str, content: Any, t: float, model: str | None) -> Any:
    if isinstance(content, str):
        content = {"content_type": "text", "parts": [content]}
    return {
        "id": mid,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": t,
        "content": content,
        "status": "finished_successfully",
        "metadata": {"model_slug": model} if model else {},
        "recipient": "all",
    }


def chatgpt_conversation(
    cid: str, title: str, t: float, nodes: list[tuple[str, str | None, Any]], current: str
) -> dict[str, Any]:
    """``nodes``: (id, parent id, message or None) in any order."""
    mapping = {
        node: {"id": node, "message": msg, "parent": parent, "children": []}
        for node, parent, msg in nodes
    }
    for node, parent, _ in nodes:
        if parent is not None:
            mapping[parent]["children"].append(node)
    return {
        "id": cid,
        "conversation_id": cid,
        "title": title,
        "create_time": t,
        "update_time": t + 100,
        "mapping": mapping,
        "current_node": current,
    }


def synthetic(i: int) -> dict[str, Any]:
    """Conversation ``syn-ii``: ten days after the previous one; every seventh has a fork."""
    t = START + i * 10 * DAY
    model = "synth-model-a" if i % 2 == 0 else "synth-model-b"
    root = f"r{i}"
    nodes: list[tuple[str, str | None, Any]] = [
        (root, None, None),
        (f"u{i}", root, chatgpt_message(f"u{i}", "user", f"zebra question {i}", t, None)),
        (
            f"a{i}",
            f"u{i}",
            chatgpt_message(f"a{i}", "assistant", f"zebra answer {i}", t + 5, model),
        ),
    ]
    current = f"a{i}"
    if i % 7 == 0:
        again = chatgpt_message(f"b{i}", "assistant", f"regenerated answer {i}", t + 9, model)
        nodes.append((f"b{i}", f"u{i}", again))
        current = f"b{i}"
    return chatgpt_conversation(f"syn-{i:02d}", f"Synthetic {i:02d}", t, nodes, current)


def synthetic_export(path: Path, count: int) -> Path:
    convs = [synthetic(i) for i in range(count)]
    return write_zip(
        path,
        {"conversations.json": json.dumps(convs).encode(), "user.json": b'{"id": "user-synth"}'},
    )


def attachments_export(path: Path) -> Path:
    pointers = ["file-Html1", "file-Svg1", "file-Png1"]
    parts: list[Any] = [
        {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{p}"}
        for p in pointers
    ]
    content = {"content_type": "multimodal_text", "parts": [*parts, "three files"]}
    t = datetime(2000, 6, 1, tzinfo=UTC).timestamp()
    nodes: list[tuple[str, str | None, Any]] = [
        ("root", None, None),
        ("m1", "root", chatgpt_message("m1", "user", content, t, None)),
    ]
    conv = chatgpt_conversation("files", "Files", t, nodes, "m1")
    members = {
        "conversations.json": json.dumps([conv]).encode(),
        "user.json": b'{"id": "user-files"}',
        "file-Html1-page.html": HTML,
        "file-Svg1-drawing.svg": SVG,
        "file-Png1-picture.png": IMAGE,
    }
    return write_zip(path, members)


def claude_export(path: Path) -> Path:
    def message(uuid: str, sender: str, text: str, parent: str) -> dict[str, Any]:
        return {
            "uuid": uuid,
            "text": text,
            "content": [{"type": "text", "text": text, "citations": []}],
            "sender": sender,
            "created_at": "2026-01-02T10:00:00Z",
            "attachments": [],
            "files": [],
            "parent_message_uuid": parent,
        }

    chat = {
        "uuid": "claude-chat",
        "name": "Claude chat about otters",
        "summary": "",
        "created_at": "2026-01-02T10:00:00Z",
        "updated_at": "2026-01-02T10:05:00Z",
        "account": {"uuid": "acc-1"},
        "chat_messages": [
            message("q1", "human", "tell me about otters", "00000000-0000-4000-8000-000000000000"),
            message("r1", "assistant", "otters hold hands", "q1"),
        ],
    }
    users = [{"uuid": "acc-1", "full_name": "A", "email_address": "a@example.org"}]
    return write_zip(
        path,
        {
            "conversations.json": json.dumps([chat]).encode(),
            "users.json": json.dumps(users).encode(),
        },
    )


def cid(source_id: str, kind: str = "chatgpt") -> str:
    return conversation_id(kind, source_id)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("library")
    home = folder / "home"
    with open_archive(home) as archive:
        for path in (
            SAMPLE,
            synthetic_export(folder / "synthetic.zip", SYNTHETIC),
            synthetic_export(folder / "synthetic-later.zip", SYNTHETIC - 1),
            claude_export(folder / "claude.zip"),
            attachments_export(folder / "files.zip"),
        ):
            assert ingest(archive, path).ok, path
        with archive.transaction():
            archive.set_starred(cid("syn-03"), True)
    yield from start_server(home)


@pytest.fixture(scope="module")
def titled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server over an archive of conversations with titles in other scripts (``TITLES``)."""
    folder = tmp_path_factory.mktemp("titled")
    with open_archive(folder / "home") as archive:
        assert ingest(archive, titled_export(folder / "titles.zip")).ok
    for server in start_server(folder / "home"):
        with server.client() as opened:
            yield opened


@pytest.fixture(scope="module")
def client(library: Server) -> Iterator[httpx.Client]:
    with library.client() as opened:
        yield opened


def main(page: httpx.Response) -> str:
    """The page's own content, without the sidebar of recent conversations."""
    assert page.status_code == 200, page.text
    return page.text.split('<main id="main"', 1)[1]


def titles(page: httpx.Response) -> list[str]:
    return re.findall(r'<li class="row" data-item>\s*<a href="[^"]+">([^<]*)</a>', main(page))


def total(page: httpx.Response) -> int:
    found = re.search(r'<p class="meta">(\d+) ', main(page))
    assert found, page.text
    return int(found[1])


def _next(page: httpx.Response) -> str:
    """The pager's link to the next page ("" on the last)."""
    found = re.search(r'<a rel="next" href="([^"]+)"', main(page))
    return found[1].replace("&amp;", "&") if found else ""


# -- the conversation list -------------------------------------------------------------------------


def test_list_pages_of_fifty(client: httpx.Client) -> None:
    first = client.get("/conversations", params={"model": "synth-model*"})
    link = _next(first)
    second = client.get(link)
    third = client.get("/conversations", params={"model": "synth-model*", "page": "3"})
    assert total(first) == SYNTHETIC
    assert titles(first) == [f"Synthetic {i:02d}" for i in range(59, 9, -1)]
    assert "model=synth-model%2A" in link and "page=2" in link
    assert titles(second) == [f"Synthetic {i:02d}" for i in range(9, -1, -1)]
    assert _next(second) == ""
    assert third.status_code == 404 and "no page 3: the last is 2" in third.text  # probe U-5
    everything = client.get("/conversations")
    assert total(everything) == 23 + SYNTHETIC + 2 and len(titles(everything)) == 50


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"source": "claude"}, ["Claude chat about otters"]),
        (
            {"model": "synth-model-b", "since": "2002-07"},
            ["Synthetic 59", "Synthetic 57", "Synthetic 55"],
        ),
        (
            {"model": "synth-model*", "until": "2001-01-21"},
            ["Synthetic 02", "Synthetic 01", "Synthetic 00"],
        ),
        (
            {"model": "synth-model-a", "since": "2001-01-11", "until": "2001-01-31"},
            ["Synthetic 02"],
        ),
        (
            {"model": "synth*", "branched": "1", "until": "2001-06"},
            ["Synthetic 14", "Synthetic 07", "Synthetic 00"],
        ),
        ({"model": "synth*", "starred": "1"}, ["Synthetic 03"]),
        ({"gone": "1"}, ["Synthetic 59"]),
        ({"source": "claude", "gone": "1"}, []),
        ({"source": "chatgpt", "model": "gpt-4-5"}, ["Travel planning tips"]),
    ],
)
def test_list_filters(client: httpx.Client, params: dict[str, str], expected: list[str]) -> None:
    page = client.get("/conversations", params=params)
    assert titles(page) == expected
    assert total(page) == len(expected)


def test_list_filters_change_the_result(client: httpx.Client) -> None:
    everything = total(client.get("/conversations"))
    for params in ({"source": "chatgpt"}, {"branched": "1"}, {"starred": "on"}, {"since": "2025"}):
        assert 0 < total(client.get("/conversations", params=params)) < everything, params
    # the sample's own star comes from the export; the reader's star is counted with it
    starred = titles(client.get("/conversations", params={"starred": "1"}))
    assert starred == ["Postgresql indexing basics", "Synthetic 03"]


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=%C2%B2",  # a superscript two: str.isdigit() says yes, int() says no
        "page=%D9%A1",  # an Arabic-Indic one
        "page=" + "9" * 5000,
        "since=garbage",
        "since=2024-13",
        "until=2024-02-30",
        "since=%C2%B2",
        "until=99999",
        "since=" + "1" * 5000,
    ],
)
def test_bad_list_parameters_are_400_pages(client: httpx.Client, query: str) -> None:
    page = client.get(f"/conversations?{query}")
    assert page.status_code == 400
    assert "<h1>Bad request</h1>" in page.text


def _said(page: httpx.Response) -> str:
    """The one line an error page says."""
    found = re.search(r'<p class="notice error">([^<]*)</p>', page.text)
    assert found, page.text
    return html.unescape(found[1])


@pytest.mark.parametrize(
    ("params", "args"),
    [
        ({"source": "nope"}, ["--source", "nope"]),
        ({"role": "bot"}, ["--role", "bot"]),
        (
            {"since": "2026-01-01", "until": "2025-01-01"},
            ["--since", "2026-01-01", "--until", "2025-01-01"],
        ),
    ],
)
def test_a_filter_the_cli_refuses_is_a_400_with_its_line(
    client: httpx.Client, library: Server, params: dict[str, str], args: list[str]
) -> None:
    """Probe U-5: the pages answered "0 results" where ``freehold search`` refuses; the same
    checks (``freehold/filters.py``) refuse both, with the same line."""
    refused = CliRunner().invoke(
        cli, ["search", "zebra", *args], env={"FREEHOLD_HOME": str(library.home)}
    )
    assert refused.exit_code == 2
    pages = [client.get("/search", params={"q": "zebra", **params})]
    if "role" not in params:  # the list has no role filter
        pages.append(client.get("/conversations", params=params))
    for page in pages:
        assert page.status_code == 400 and "<h1>Bad request</h1>" in page.text
        line = _said(page)
        assert line and line in " ".join(refused.stderr.split())


def test_a_source_kind_in_any_case_is_the_kind_on_the_pages(client: httpx.Client) -> None:
    assert total(client.get("/conversations", params={"source": "Claude"})) == 1
    assert "2 results" in main(client.get("/search", params={"q": "otters", "source": "CLAUDE"}))


def test_a_page_past_the_last_is_a_404(client: httpx.Client) -> None:
    """Probe U-5: page 99 of 2 answered 200, "Page 99 of 2", no rows."""
    listing = client.get("/conversations", params={"page": "99"})
    assert listing.status_code == 404 and _said(listing) == "no page 99: the last is 2"
    found = client.get("/search", params={"q": "zebra", "page": "99"})
    assert found.status_code == 404 and _said(found) == "no page 99: the last is 6"
    nothing = client.get("/search", params={"q": "qwertyuiop"})  # page 1 of none: the page
    assert nothing.status_code == 200 and "0 results" in main(nothing)
    last = client.get("/search", params={"q": "zebra", "page": "6"})
    assert len(hits(last)) == 2 * SYNTHETIC - 5 * 20


# -- search ----------------------------------------------------------------------------------------


def hits(page: httpx.Response) -> list[str]:
    return re.findall(r'<li class="hit" data-item>\s*<a href="([^"]+)"', main(page))


def facet(page: httpx.Response, name: str) -> dict[str, int]:
    block = main(page).split(f"<h2>{name}</h2>", 1)[1].split("</ul>", 1)[0]
    found = re.findall(r'<a href="[^"]+"[^>]*>([^<]+)</a> <span class="meta">(\d+)</span>', block)
    return {value: int(count) for value, count in found}


def test_empty_search_shows_the_form(client: httpx.Client) -> None:
    for url in ("/search", "/search?q=", "/search?q=+++"):
        page = client.get(url)
        assert '<input type="search" name="q"' in main(page)
        assert "results" not in main(page) and hits(page) == []


def test_search_with_facets_and_pages(client: httpx.Client) -> None:
    page = client.get("/search", params={"q": "zebra"})
    assert f"{2 * SYNTHETIC} results" in main(page)
    assert facet(page, "Role") == {
        "User": SYNTHETIC,
        "Assistant": SYNTHETIC,
    }  # named as readers call them
    assert facet(page, "Model") == {"synth-model-a": SYNTHETIC, "synth-model-b": SYNTHETIC}
    assert facet(page, "Source") == {"chatgpt": 2 * SYNTHETIC}
    first = hits(page)
    second = hits(client.get(_next(page)))
    assert len(first) == 20 and len(second) == 20 and not set(first) & set(second)
    role = re.search(r'<a href="(/search\?[^"]*role=user[^"]*)"', main(page))
    assert role is not None
    only_users = client.get(role[1].replace("&amp;", "&"))
    assert f"{SYNTHETIC} results" in main(only_users)
    assert facet(only_users, "Role") == {"User": SYNTHETIC}


def _results(page: httpx.Response) -> int:
    found = re.search(r"([\d,]+) results?", main(page))
    return int(found[1].replace(",", "")) if found else 0


def test_a_model_facet_counts_what_its_link_finds(client: httpx.Client, library: Server) -> None:
    """Probe K, item 4: the facet counted exact models ("gpt-4 2") while its link's filter was
    a prefix (8 results: gpt-4-browsing, gpt-4-plugins, gpt-4-turbo too), and the list's
    filter took the conversation's model only. One rule now: a model's exact name, or a prefix
    when it ends with ``*``; a conversation matches by its model or any of its messages'."""
    page = client.get("/search", params={"q": "python"})
    models = facet(page, "Model")
    assert "gpt-4" in models and len(models) > 2
    for model, count in models.items():
        assert _results(client.get("/search", params={"q": "python", "model": model})) == count
    prefix = _results(client.get("/search", params={"q": "python", "model": "gpt-4*"}))
    assert prefix == sum(n for model, n in models.items() if model.startswith("gpt-4"))
    exact = main(client.get("/conversations", params={"model": "gpt-4"}))
    listed = set(re.findall(r'<li class="row" data-item>\s*<a href="/conversations/(\w+)"', exact))
    with open_archive(library.home) as archive:
        wanted = {c.id: c for c in archive.iter_conversations(model="gpt-4")}
    assert wanted and listed == set(wanted)
    for conv in wanted.values():
        assert "gpt-4" in {conv.model, *(m.model for m in conv.messages)}


def test_an_over_long_query_is_refused_not_cut(client: httpx.Client) -> None:
    """Probe K, item 5: a query over 500 characters was cut silently, mid-word."""
    long = "zebra " * 84  # 504 characters
    page = client.get("/search", params={"q": long})
    assert page.status_code == 400
    assert "the search is 503 characters long; at most 500" in page.text
    assert client.get("/search", params={"q": long[:500]}).status_code == 200
    assert client.get("/conversations", params={"model": "m" * 201}).status_code == 400


def test_search_filters(client: httpx.Client) -> None:
    page = client.get("/search", params={"q": "zebra", "role": "assistant", "until": "2001-01-11"})
    assert "2 results" in main(page)
    links = hits(page)
    assert all(f"/conversations/{cid(f'syn-0{i}')}?at=" in "".join(links) for i in (0, 1))
    otters = client.get("/search", params={"q": "otters", "source": "claude"})
    assert "2 results" in main(otters)
    assert "0 results" in main(client.get("/search", params={"q": "otters", "source": "chatgpt"}))


@pytest.mark.parametrize("query", ['"unbalanced', "zebra AND", "(zebra", "NEAR(", "zebra*)"])
def test_search_input_is_words_never_a_syntax_error(client: httpx.Client, query: str) -> None:
    page = client.get("/search", params={"q": query})
    assert page.status_code == 200 and re.search(r"\d+ results?\b", main(page))
    nothing = client.get("/search", params={"q": '"(*)'})
    assert nothing.status_code == 400 and "nothing to search for" in nothing.text


def test_bad_search_parameters_are_400(client: httpx.Client) -> None:
    for params in (
        {"q": "zebra", "page": "x"},
        {"q": "zebra", "since": "soon"},
        {"q": "zebra", "until": "9" * 300},
        {"q": "zebra", "since": "2024-02-30"},
    ):
        assert client.get("/search", params=params).status_code == 400


@pytest.fixture(scope="module")
def unspaced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over Chinese, Japanese, Korean and Thai chats (and one English), imported by
    the real importer: their words are not separated by spaces."""
    folder = tmp_path_factory.mktemp("unspaced")
    chats = {
        "ja": (
            "ラーメン",
            ["東京で美味しいラーメン屋を教えてください", "東京駅の近く。Python も使えます。"],
        ),
        "zh": ("学习", ["我想学习中文和日本文化", "学习中文需要时间。"]),
        "ko": ("식당", ["서울에서 맛있는 식당을 추천해 주세요", "명동에 좋은 곳이 있어요"]),
        "th": ("ภาษา", ["ฉันอยากเรียนภาษาไทยที่กรุงเทพ", "เริ่มจากตัวอักษรก่อน"]),
        "en": ("Ramen", ["Where to eat ramen in Tokyo?", "Try the noodle shops near the station."]),
    }
    with open_archive(folder / "home") as archive:
        assert ingest(archive, chatgpt_chats(folder / "export.zip", chats, START)).ok
    yield from start_server(folder / "home")


def test_search_finds_words_inside_text_without_spaces(unspaced: Server) -> None:
    def found(query: str) -> tuple[int, str]:
        page = client.get("/search", params={"q": query})
        return total(page), main(page)

    with unspaced.client() as client:
        count, page = found("東京")
        assert count == 2 and page.count("<mark>東京</mark>") == 2
        assert "<mark>東京</mark>で美味しいラーメン屋を教えてください" in page
        count, page = found("python 東京")
        assert count == 1 and "<mark>東京</mark>駅の近く。<mark>Python</mark> も使えます。" in page
        assert found("中文")[0] == 2 and found("中文 OR 서울")[0] == 3
        count, page = found("서울")
        assert count == 1 and "<mark>서울</mark>에서 맛있는" in page
        count, page = found('"ภาษาไทย"')
        assert count == 1 and "เรียน<mark>ภาษาไทย</mark>ที่" in page
        count, page = found("noodle")
        assert count == 1 and "Try the <mark>noodle</mark> shops near the station." in page


# -- one conversation ------------------------------------------------------------------------------


def articles(page: httpx.Response) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="[^"]*" id="m(\d+)"', main(page))]


def test_conversation_shows_the_visible_path(client: httpx.Client) -> None:
    page = client.get(f"/conversations/{BRANCHED}")
    shown = articles(page)
    assert 138 in shown and 139 in shown and 140 in shown and 137 not in shown
    assert shown == sorted(shown)
    assert '<span class="count">2/2</span>' in main(page)
    assert f'href="/conversations/{BRANCHED}?at=137"' in main(page)


def test_a_message_of_100000_nested_quotes_renders_flat_past_the_cap(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """nh3's time grows with the square of the depth (53 s for this page before the cap);
    over 100,000 characters, it is also rendered by the helper processes."""
    deep = ">" * 100_000 + " the bottom of the well"
    nodes: list[tuple[str, str | None, Any]] = [
        ("r", None, None),
        ("u", "r", chatgpt_message("u", "user", "how deep?", START, None)),
        ("a", "u", chatgpt_message("a", "assistant", deep, START + 1, "m")),
    ]
    chat = chatgpt_conversation("deep-1", "Deep", START, nodes, "a")
    with open_archive(_isolated_home) as archive:
        export = write_zip(
            tmp_path / "deep.zip", {"conversations.json": json.dumps([chat]).encode()}
        )
        assert ingest(archive, export).ok
    for server in start_server(_isolated_home):
        with server.client() as client:
            page = client.get(f"/conversations/{cid('deep-1')}")
    assert page.status_code == 200
    assert "the bottom of the well" in page.text
    assert page.text.count("<blockquote>") == MAX_DEPTH  # the rest unwrapped, text kept


def test_conversation_at_another_branch(client: httpx.Client) -> None:
    page = client.get(f"/conversations/{BRANCHED}", params={"at": "137"})
    shown = articles(page)
    assert 137 in shown and 138 not in shown and 139 not in shown
    assert 136 in shown and 112 in shown  # the shared start of both branches
    assert '<span class="count">1/2</span>' in main(page)
    assert f'href="/conversations/{BRANCHED}?at=138"' in main(page)
    # a message of another conversation, or none at all: a dead link, as /continue says
    for at in ("1", "999999999999999"):
        for page in ("", "/continue"):
            missing = client.get(f"/conversations/{BRANCHED}{page}?at={at}")
            assert missing.status_code == 404, page
            assert f"no message {at} in conversation {BRANCHED}" in missing.text


def test_the_page_stops_at_the_visible_leaf_as_its_download_does(
    server: Server, tmp_path: Path
) -> None:
    """Probe K, item 3: with the current node mid-thread, the page ran on to the newest leaf
    (four messages, no sign of a branch) while its Markdown download, ``show`` and the list's
    "2 branches" end the thread at the current node, the rest another branch."""
    texts = [("u1", "user", "first"), ("a1", "assistant", "first answer")]
    texts += [("u2", "user", "later"), ("a2", "assistant", "later answer")]
    nodes: list[tuple[str, str | None, Any]] = [("root", None, None)]
    for n, (mid, role, text) in enumerate(texts):
        nodes.append((mid, nodes[-1][0], chatgpt_message(mid, role, text, START + n, None)))
    chat = chatgpt_conversation("c-mid", "Mid", START, nodes, "a1")
    export = write_zip(tmp_path / "mid.zip", {"conversations.json": json.dumps([chat]).encode()})
    with open_archive(server.home) as archive:
        assert ingest(archive, export).ok
    url = f"/conversations/{cid('c-mid')}"
    with server.client() as client:
        default = client.get(url)
        markdown = client.get(f"{url}/download.md").text
        more = re.search(rf'<a class="more" href="{url}\?at=(\d+)"', main(default))
        assert more is not None, main(default)
        beyond = client.get(url, params={"at": more[1]})
    assert len(articles(default)) == 2 and "later answer" not in main(default)
    thread = markdown.split("## Other branches")[0]
    assert "first answer" in thread and "later" not in thread  # the same thread
    assert len(articles(beyond)) == 4 and "later answer" in main(beyond)
    assert f'<a class="passes" href="{url}" ' in main(beyond)  # back to where it stops


@pytest.mark.parametrize("at", ["x", "-1", "1.0", "%C2%B2", "9" * 19, "9" * 5000])
def test_bad_at_is_400(client: httpx.Client, at: str) -> None:
    page = client.get(f"/conversations/{BRANCHED}?at={at}")
    assert page.status_code == 400


def test_conversation_by_prefix_and_source_id(client: httpx.Client) -> None:
    assert "Synthetic 07" in main(client.get("/conversations/syn-07"))
    assert "Synthetic 07" in main(client.get(f"/conversations/{cid('syn-07')[:10]}"))


def test_unknown_conversation_is_a_404_page(client: httpx.Client) -> None:
    for path in ("/conversations/nope", "/conversations/nope/download.md"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in page.text
    # probe K, minor: a prefix of several ids names too little (400), it is not "not found"
    for path in ("/conversations/c", "/conversations/c/download.md"):
        page = client.get(path)
        assert page.status_code == 400, path
        assert "matches more than 10 conversations, among them" in page.text


def test_gone_upstream_is_said_on_the_page(client: httpx.Client) -> None:
    assert "no longer in the source" in main(client.get("/conversations/syn-59"))
    assert "no longer in the source" not in main(client.get("/conversations/syn-58"))


# -- downloads -------------------------------------------------------------------------------------


def disposition_name(response: httpx.Response) -> str:
    found = re.match(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert found, response.headers["content-disposition"]
    return found[1]


def test_markdown_download_of_a_conversation_without_files(client: httpx.Client) -> None:
    response = client.get(f"/conversations/{PLAIN}/download.md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert disposition_name(response).endswith(".md")
    assert "Steuererklärung Fragen" in response.text


def test_markdown_download_with_files_is_a_zip(client: httpx.Client) -> None:
    response = client.get("/conversations/files/download.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert disposition_name(response).endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        contents = {archive.read(name) for name in names}
    assert [n for n in names if n.endswith(".md") and "/" not in n]
    assert {HTML, SVG, IMAGE} <= contents
    assert not [n for n in names if n.startswith(("/", "..")) or "/../" in n]


def test_json_download(client: httpx.Client) -> None:
    response = client.get(f"/conversations/{BRANCHED}/download.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert disposition_name(response).endswith(
        f"-data-analysis-troubleshooting-{BRANCHED[:8]}.json"
    )
    record = json.loads(response.content)
    assert "raw" in record and json.dumps(record).count("Data analysis troubleshooting")


TITLES = {
    "cjk": "日本語のタイトル",
    "cyrillic": "Привет, мир",
    "emoji": "Party 🎉 plans",
    "hostile": 'He said "hi"; rm -rf\r\nX-Evil: 1\\%41',
    "latin-1": "é café",
}


def titled_export(path: Path) -> Path:
    """A conversation for each of ``TITLES``, and a CJK-titled one with a file (a zip download)."""
    t = datetime(2002, 2, 2, tzinfo=UTC).timestamp()
    convs = []
    for key, title in TITLES.items():
        nodes: list[tuple[str, str | None, Any]] = [
            ("r", None, None),
            ("m", "r", chatgpt_message("m", "user", f"about {key}", t, None)),
        ]
        convs.append(chatgpt_conversation(f"title-{key}", title, t, nodes, "m"))
    image = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Png9"}
    content = {"content_type": "multimodal_text", "parts": [image, "a picture"]}
    nodes = [("r", None, None), ("m", "r", chatgpt_message("m", "user", content, t, None))]
    convs.append(chatgpt_conversation("title-zip", "写真のタイトル", t, nodes, "m"))
    members = {
        "conversations.json": json.dumps(convs).encode(),
        "user.json": b'{"id": "user-titles"}',
        "file-Png9-picture.png": IMAGE,
    }
    return write_zip(path, members)


def download_names(response: httpx.Response) -> tuple[str, str]:
    """The ASCII ``filename`` and the Unicode ``filename*`` (RFC 6266/5987) of a download."""
    assert response.status_code == 200, response.text[:300]
    (raw,) = [v for k, v in response.headers.raw if k.lower() == b"content-disposition"]
    assert raw.isascii() and b"\r" not in raw and b"\n" not in raw, raw
    found = re.fullmatch(
        rb'attachment; filename="([^"\\%;]+)"(?:; filename\*=UTF-8\'\'(\S+))?', raw
    )
    assert found, raw
    fallback = found[1].decode()
    assert re.search(r"[A-Za-z0-9]", fallback.rsplit(".", 1)[0]), fallback
    return fallback, unquote(found[2].decode(), errors="strict") if found[2] else fallback


@pytest.mark.parametrize("key", [*TITLES, "zip"])
def test_downloads_keep_any_title_in_their_file_name(titled: httpx.Client, key: str) -> None:
    response = titled.get(f"/conversations/title-{key}/download.md")
    fallback, name = download_names(response)
    expected = slug(TITLES.get(key, "写真のタイトル"), 200)
    if key == "zip":
        assert response.headers["content-type"] == "application/zip"
        assert name.endswith(f"-{expected}-{cid('title-zip')[:8]}.zip")
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            assert name.removesuffix(".zip") + ".md" in archive.namelist()
    else:
        assert name.endswith(f"-{expected}-{cid('title-' + key)[:8]}.md")
        assert f"about {key}" in response.text
    assert fallback.endswith(name[-12:]) and fallback.startswith("2002-02-02-")
    assert "x-evil" not in response.headers
    # probe K, minor: the JSON download was named after the id, whatever docs/web.md says
    json_name = download_names(titled.get(f"/conversations/title-{key}/download.json"))[1]
    assert json_name == name.rsplit(".", 1)[0] + ".json"


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("会話.md", "download.md"),
        ("Привет мир.zip", "download.zip"),
        ("🎉", "download"),
        ("é café.md", "e cafe.md"),
        ('He said "hi"; rm\r\nX-Evil: 1\\%41.md', "He said _hi_ rm_X-Evil_ 1_41.md"),
        ("notes.日本", "notes"),
    ],
)
def test_the_disposition_of_any_name_is_ascii_and_keeps_the_name(name: str, fallback: str) -> None:
    header = content_disposition(name)
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert content_disposition("plain name.md") == 'attachment; filename="plain name.md"'


@pytest.mark.parametrize(
    "name", ["evil.ｈｔｍｌ", "evil.svg ", "evil.svg.", "evil.html\u200b", "evil.htmĺ", "evil.xslt"]
)
def test_no_download_name_is_saved_with_a_runnable_suffix(name: str) -> None:
    """R2 #6: the runnable-suffix rule looked at the raw suffix, while the ASCII ``filename``
    folds full-width and accented letters (``.ｈｔｍｌ`` → ``.html``) and browsers drop trailing
    spaces, dots and invisible characters. Both names sent are checked as a browser saves them."""
    header = content_disposition(_download_name(name, "0" * 64))
    fallback = re.search(r'filename="([^"]*)"', header)
    encoded = re.search(r"filename\*=UTF-8''(\S+)", header)
    sent = [fallback[1]] if fallback else []
    sent += [unquote(encoded[1])] if encoded else []
    for saved in sent:
        folded = "".join(
            c for c in unicodedata.normalize("NFKC", saved) if unicodedata.category(c) != "Cf"
        )
        suffix = PurePosixPath(folded.rstrip(" .")).suffix.lower()
        assert suffix not in RUNNABLE | {".xslt"}, (name, header)  # XSLT runs as XSL does
    assert sent and all(s.startswith("evil") for s in sent), header


@pytest.mark.parametrize("fmt", ["exe", "html", "md.exe", "JSON"])
def test_unknown_download_format_is_404(client: httpx.Client, fmt: str) -> None:
    assert client.get(f"/conversations/{BRANCHED}/download.{fmt}").status_code == 404


# -- attachments -----------------------------------------------------------------------------------


def sha_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_raster_image_is_served_inline(client: httpx.Client) -> None:
    response = client.get(f"/attachments/{sha_of(IMAGE)}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "attachment" not in response.headers.get("content-disposition", "")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == IMAGE


def test_sample_images_are_served_with_their_types(client: httpx.Client) -> None:
    page = main(client.get(f"/conversations/{BRANCHED}"))
    images = re.findall(r'<img src="(/attachments/[0-9a-f]{64})"', page)
    assert images
    for url in images:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] in ("image/png", "image/jpeg", "image/webp")


@pytest.mark.parametrize("data", [HTML, SVG], ids=["html", "svg"])
def test_active_content_is_a_download(client: httpx.Client, data: bytes) -> None:
    response = client.get(f"/attachments/{sha_of(data)}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert ".html" not in disposition and ".svg" not in disposition
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == data
    page = main(client.get("/conversations/files"))
    assert f'<a href="/attachments/{sha_of(data)}" download>' in page


def test_a_download_keeps_the_attachment_name(server: Server, tmp_path: Path) -> None:
    """Probe K, minor: every attachment that is not a raster image downloaded as
    ``attachment-<sha12>.bin``. Its name is kept; only a type a browser could run gets .bin."""
    pointers = ["file-Csv1", "file-Html2"]
    parts: list[Any] = [
        {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{p}"}
        for p in pointers
    ]
    content = {"content_type": "multimodal_text", "parts": [*parts, "two files"]}
    nodes = [("r", None, None), ("m", "r", chatgpt_message("m", "user", content, START, None))]
    conv = chatgpt_conversation("named", "Named files", START, nodes, "m")
    members = {
        "conversations.json": json.dumps([conv]).encode(),
        "file-Csv1-données 2024.csv": CSV,
        "file-Html2-page.html": b"<html><script>alert(2)</script></html>",
    }
    with open_archive(server.home) as archive:
        assert ingest(archive, write_zip(tmp_path / "named.zip", members)).ok
    with server.client() as client:
        csv = client.get(f"/attachments/{sha_of(CSV)}")
        html = client.get(f"/attachments/{sha_of(members['file-Html2-page.html'])}")
    assert download_names(csv)[1] == "file-Csv1-données 2024.csv"  # as the export names it
    assert download_names(html)[1] == "file-Html2-page.bin"
    for response in (csv, html):
        assert response.headers["content-type"] == "application/octet-stream"


def test_the_home_page_counts_attachments_missing_their_file(
    server: Server, tmp_path: Path
) -> None:
    """Probe K, minor: the home page said "0 attachments" of an archive whose one attachment
    link has no file (``stats``: attachments missing 1)."""
    image = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-No1"}
    content = {"content_type": "multimodal_text", "parts": [image, "where is it"]}
    nodes = [("r", None, None), ("m", "r", chatgpt_message("m", "user", content, START, None))]
    conv = chatgpt_conversation("lost", "Lost file", START, nodes, "m")
    export = write_zip(tmp_path / "lost.zip", {"conversations.json": json.dumps([conv]).encode()})
    with open_archive(server.home) as archive:
        ingest(archive, export)  # a missing file is a problem of the report, not a failure
    with server.client() as client:
        counts = main(client.get("/")).split('<p class="counts">', 1)[1].split("</p>", 1)[0]
    assert "<strong>0</strong> attachments (1 missing)" in " ".join(counts.split())


def raw_get(server: Server, path: str) -> tuple[int, bytes]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {server.cookie}={server.token}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request.encode("latin-1"))
        received = b""
        while chunk := sock.recv(1 << 16):
            received += chunk
    return int(received.split(b" ", 2)[1]), received


@pytest.mark.parametrize(
    "path",
    [
        "/attachments/../archive.sqlite",
        "/attachments/../../archive.sqlite",
        "/attachments/%2e%2e%2farchive.sqlite",
        "/attachments/%2e%2e%2f%2e%2e%2farchive.sqlite",
        "/attachments/..%2f..%2farchive.sqlite",
        "/attachments/..%5c..%5carchive.sqlite",
        "/attachments/..\\..\\archive.sqlite",
        "/attachments/%2e%2e",
        "/attachments/archive.sqlite%00",
        "/attachments/%00",
        "/attachments/" + "0" * 64,
        "/attachments/" + "a" * 63,
        "/attachments/" + "a" * 65,
        "/attachments/{sha_upper}",
        "/attachments/{sha}%0a",
        "/attachments/{sha}%00",
        "/attachments/{sha}.png",
        "/attachments/%2e%2e%2fblobs%2f{sha2}%2f{sha}",
        "/static/../archive.sqlite",
        "/static/%2e%2e/archive.sqlite",
        "/static/%2e%2e%2f%2e%2e%2farchive.sqlite",
        "/static/..%2f..%2f..%2fpyproject.toml",
    ],
)
def test_attachment_traversal_finds_nothing(library: Server, path: str) -> None:
    sha = sha_of(IMAGE)
    path = path.format(sha=sha, sha_upper=sha.upper(), sha2=sha[:2])
    status, received = raw_get(library, path)
    assert status in (400, 404), (path, received[:300])
    assert b"SQLite format 3" not in received and b"\x89PNG" not in received
    assert b"[tool." not in received


def test_attachment_whose_file_is_missing_is_404(server: Server, tmp_path: Path) -> None:
    with open_archive(server.home) as archive:
        ingest(archive, attachments_export(tmp_path / "files.zip"))
        sha = sha_of(IMAGE)
        archive.blob_path(sha).unlink()
    with server.client() as client:
        response = client.get(f"/attachments/{sha}")
    assert response.status_code == 404
    assert "missing" in response.text


# -- imports through the upload page ---------------------------------------------------------------


def upload(client: httpx.Client, server: Server, name: str, data: bytes) -> httpx.Response:
    """A multipart upload with the file name sent exactly as given."""
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + b"\r\n--b0undary--\r\n"
    )
    headers = {
        "X-CSRF-Token": server.csrf,
        "Content-Type": "multipart/form-data; boundary=b0undary",
    }
    return client.post("/import", content=body, headers=headers)


def finished(client: httpx.Client, location: str) -> str:
    """Poll the job's page until the import is no longer running; its final HTML."""
    deadline = time.monotonic() + 60
    while True:
        page = client.get(location)
        assert page.status_code == 200
        if "job-running" not in page.text:
            return main(page)
        assert time.monotonic() < deadline, "the import did not finish within a minute"
        time.sleep(0.02)


def test_upload_imports_and_deletes_the_file(server: Server) -> None:
    with server.client() as client:
        response = upload(client, server, "sample-chatgpt-export.zip", SAMPLE.read_bytes())
        assert response.status_code == 303
        location = response.headers["location"]
        job = re.fullmatch(r"/import/jobs/([0-9a-f]{16})", location)
        assert job is not None
        page = finished(client, location)
        listing = client.get("/conversations")
        form = main(client.get("/import"))
    assert "Import finished" in page and "sample-chatgpt-export.zip" in page
    assert "new 23" in page and "new 250" in page and "with their file 10" in page
    assert not (server.home / "uploads" / job[1]).exists()
    assert total(listing) == 23
    assert f'<a href="/import/jobs/{job[1]}">sample-chatgpt-export.zip</a> · done' in form


def test_second_import_while_one_runs_is_409(server: Server) -> None:
    jobs = server.state.jobs  # type: ignore[attr-defined]
    jobs.jobs["running"] = Job("running", "other.zip")  # what a running import leaves there
    with server.client() as client:
        refused = upload(client, server, "sample.zip", SAMPLE.read_bytes())
        assert refused.status_code == 409
        assert "Another import is running" in refused.text
        assert not (server.home / "uploads").exists() or not any(
            (server.home / "uploads").iterdir()
        )
        jobs.jobs["running"].state = "done"
        accepted = upload(client, server, "sample.zip", SAMPLE.read_bytes())
        assert accepted.status_code == 303
        finished(client, accepted.headers["location"])


def test_upload_that_is_not_an_export_fails_clearly(server: Server) -> None:
    with server.client() as client:
        response = upload(client, server, "x.zip", bytes(range(256)) * 40)
        assert response.status_code == 303
        page = finished(client, response.headers["location"])
    assert "Import failed" in page
    message = re.search(r'<p class="notice error" role="alert">([^<]+)</p>', page)
    assert message is not None and "x.zip: named .zip but not a zip archive" in message[1], page
    assert not (server.home / "uploads").exists()  # nothing left, the folder neither


def test_upload_without_a_file_is_400(server: Server) -> None:
    with server.client(headers={"X-CSRF-Token": server.csrf}) as client:
        nothing = client.post("/import", data={"other": "1"})
        empty_name = upload(client, server, "", SAMPLE.read_bytes())
    assert nothing.status_code == 400 and "Nothing was uploaded." in nothing.text
    assert empty_name.status_code == 400
    assert not (server.home / "uploads").exists() or not any((server.home / "uploads").iterdir())


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\\\..\\\\x.zip", "x.zip"),
        ("/tmp/abs.zip", "abs.zip"),
        ("....", "upload"),
        (".hidden.zip", "hidden.zip"),
        ("a b$(c).zip", "a b$(c).zip"),  # never given to a shell: kept as sent
        ("会話.zip", "会話.zip"),  # probe K, item 7: was "zip"
    ],
)
def test_hostile_upload_names_stay_in_the_job_folder(
    server: Server, tmp_path: Path, name: str, kept: str
) -> None:
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(server.home)}
    with server.client() as client:
        response = upload(client, server, name, SAMPLE.read_bytes())
        assert response.status_code == 303
        job_id = response.headers["location"].rsplit("/", 1)[1]
        job = server.state.jobs.get(job_id)  # type: ignore[attr-defined]
        assert job.name == kept
        folder = server.home / "uploads" / job_id
        assert (folder / job.name).resolve().parent == folder.resolve()
        finished(client, response.headers["location"])
    assert not folder.exists()
    assert {p for p in tmp_path.rglob("*") if not p.is_relative_to(server.home)} == before


def test_unknown_job_and_source_are_404(client: httpx.Client) -> None:
    assert client.get("/import/jobs/nope").status_code == 404
    assert client.get("/sources/999").status_code == 404
    report = client.get("/sources/1")
    assert "new 23" in main(report)


# -- language --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "evil.example",
        "javascript:alert(1)",
    ],
)
def test_language_never_redirects_off_site(client: httpx.Client, target: str) -> None:
    response = client.get("/language/fr", params={"next": target})
    assert response.status_code == 303
    location = response.headers["location"]
    tidy = re.sub(r"[\x00-\x20]", "", location)  # what a browser strips before it parses
    assert tidy.startswith("/") and not tidy.startswith(("//", "/\\")), location
    assert "lang=fr" in response.headers["set-cookie"]


def test_language_keeps_a_local_next(client: httpx.Client) -> None:
    response = client.get("/language/en", params={"next": "/search?q=zebra&page=2"})
    assert response.headers["location"] == "/search?q=zebra&page=2"
    unknown = client.get("/language/xx", params={"next": "/"})
    assert unknown.status_code == 303 and "set-cookie" not in unknown.headers


def test_context_records_show_what_they_are(library: Server) -> None:
    with open_archive(library.home) as archive:
        found = archive.db.execute(
            "SELECT conversation_id FROM context_records WHERE kind = 'custom_instructions' "
            "AND conversation_id IS NOT NULL"
        ).fetchone()
    assert found, "the sample export holds custom instructions"
    pages = {}
    for language in ("en", "fr"):
        with library.client(headers={"Accept-Language": language}) as fresh:
            pages[language] = main(fresh.get(f"/conversations/{found[0]}"))
    assert "<strong>Custom instructions</strong>" in pages["en"]
    assert "custom_instructions" not in pages["en"]
    assert "<strong>Instructions personnalisées</strong>" in pages["fr"]


def test_pages_have_a_favicon(client: httpx.Client) -> None:
    home = client.get("/")
    assert '<link rel="icon" href="/static/favicon.svg"' in home.text
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<script" not in icon.content and icon.content.startswith(b"<svg")
