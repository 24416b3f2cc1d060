"""The Markdown export: front matter, visible path, hidden items, branches, attachments, names."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import _folder, markdown
from freehold.exporters import html as html_export
from freehold.ingest import import_path
from freehold.models import Conversation
from tests.builders import LIBRECHAT_PREFIX, SYSTEM_PROMPT, own_system_prompts
from tests.exporters.test_json import (
    HOSTILE_TITLES,
    PNG,
    T0,
    fill_archive,
    node,
    small_conversation,
    text,
)

LINK = re.compile(r"\]\(([^)<>]+)\)")
FIELDS = {"title", "id", "source", "source_id", "created", "updated", "model", "project"}
FIELDS |= {"archived", "starred", "gone_upstream", "branches", "tags"}


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


def export(archive: Archive, out: Path, **options: Any) -> int:
    return markdown.write(archive, archive.iter_conversations(), out, **options)


def front_matter(note: Path) -> tuple[dict[str, Any], str]:
    text = note.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def notes(out: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Source id → (front matter, body) of every note."""
    found = {}
    for note in out.glob("*.md"):
        if note.name != markdown.INDEX:
            meta, body = front_matter(note)
            found[meta["source_id"]] = (meta, body)
    return found


def test_front_matter_parses_and_has_every_field(filled: Archive, tmp_path: Path) -> None:
    assert export(filled, tmp_path / "out") == filled.stats()["conversations"]
    found = notes(tmp_path / "out")
    assert len(found) == filled.stats()["conversations"]
    for conv in filled.iter_conversations():
        meta, _ = found[conv.source_id]
        assert set(meta) == FIELDS
        assert meta["id"] == conv.id and meta["source"] == "chatgpt"
        assert meta["tags"] == ["freehold", "chatgpt"]
        assert meta["title"] == (conv.title or "Untitled")
    assert found["otter-conv"][0]["created"] == "2024-05-01T17:37:11+00:00"


def test_body_shows_the_visible_path_and_hides_the_hidden(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    _, body = notes(tmp_path / "out")["otter-conv"]
    assert "# Pictures of otters" in body
    assert "### User\n\n*2024-05-01 17:37 UTC*" in body
    assert "An otter. **Lovely**." in body
    thought = re.search(
        r"<details>\n<summary>Assistant · Reasoning \(hidden\)[^<]*</summary>(.*?)</details>",
        body,
        re.S,
    )
    assert thought and "Pondering" in thought.group(1) and "hm" in thought.group(1)
    assert "System" not in body, "an empty system message is left out"


def test_a_conversations_own_system_prompt_is_a_details_block(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Open WebUI's params.system and LibreChat's promptPrefix: once, collapsed, under the title;
    ChatGPT's custom instructions stay where their message shows them, not twice."""
    own_system_prompts(archive, tmp_path / "in", real)
    export(archive, tmp_path / "out")
    found = notes(tmp_path / "out")
    librechat = next(body for meta, body in found.values() if meta["source"] == "librechat")
    chatgpt = next(body for meta, body in found.values() if meta["source"] == "chatgpt")
    for body, prompt in ((found["sys-chat"][1], SYSTEM_PROMPT), (librechat, LIBRECHAT_PREFIX)):
        block = f"<details>\n<summary>Custom instructions</summary>\n\n{prompt}\n\n</details>"
        assert body.count(prompt) == 1 and block in body
        assert body.index(block) < body.index("### User")
    assert chatgpt.count("Preferred name: Tecolote") == 1


def test_code_fence_outlasts_backticks_inside(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    _, body = notes(tmp_path / "out")["otter-conv"]
    assert "`````python\ns = '````'\nprint(s)\n`````" in body


def test_attachments_copied_once_and_links_resolve(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    _, body = notes(out)["otter-conv"]
    sha = hashlib.sha256(PNG).hexdigest()
    assert f"![otter.png](attachments/{sha}.png)" in body
    assert (out / "attachments" / f"{sha}.png").read_bytes() == PNG
    assert [p.name for p in (out / "attachments").iterdir()] == [f"{sha}.png"]
    assert "*(missing attachment: file-Gone9)*" in body
    for note in out.glob("*.md"):
        for target in LINK.findall(note.read_text(encoding="utf-8")):
            if not target.startswith("http"):
                assert (out / target).is_file(), f"{note.name}: broken link {target}"


def test_branches_summarised_in_an_appendix(filled: Archive, real: Path, tmp_path: Path) -> None:
    export(filled, tmp_path / "out", all_branches=False)
    branched = [meta for meta, _ in notes(tmp_path / "out").values() if meta["branches"] > 1]
    assert branched, "the chatgpt-tree fixture has branches"
    for meta in branched:
        _, body = notes(tmp_path / "out")[meta["source_id"]]
        appendix = body.split("## Other branches\n", 1)[1]
        assert appendix.count("### Branch ") == meta["branches"] - 1
        assert "*forks after " in appendix and "#### " not in appendix
    tree = notes(tmp_path / "out")["d5dc5307-6807-41a0-8b04-4acee626eeb7"][1]
    assert "4 messages, starting with User: “so cool bro”" in tree


def test_all_branches_rendered_in_full(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out", all_branches=True)
    _, body = notes(tmp_path / "out")["d5dc5307-6807-41a0-8b04-4acee626eeb7"]
    main, appendix = body.split("## Other branches\n", 1)
    assert "tell me a joke" in main and "so cool bro" not in main
    assert "#### User" in appendix and "tell me a story" in appendix
    assert "interrupted" in appendix


def test_index_links_every_note(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    index = (out / markdown.INDEX).read_text(encoding="utf-8")
    targets = LINK.findall(index)
    assert sorted(targets) == sorted(p.name for p in out.glob("*.md") if p.name != "index.md")
    assert "[Pictures of otters](" in index


WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
WINDOWS_RESERVED |= {f"{d}{n}" for d in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}


def assert_safe_name(name: str, suffix: str) -> None:
    """A name any file system takes, that stays in its folder, and that a later run trusts."""
    stem = name.removesuffix(suffix)
    assert name.endswith(suffix) and stem and len(name.encode("utf-8")) <= 100, name
    assert unicodedata.normalize("NFC", name) == name
    assert not any(unicodedata.category(c)[0] == "C" for c in name), ascii(name)
    assert not set('/\\:*?"<>|') & set(name) and not name.startswith(".")
    assert stem.split(".")[0].rstrip(" ").upper() not in WINDOWS_RESERVED
    assert _folder.listed(suffix).match(name), name


def test_hostile_titles_give_safe_unique_names(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    names = [p.name for p in out.iterdir() if p.suffix == ".md" and p.name != markdown.INDEX]
    for name in names:
        assert_safe_name(name, ".md")
        assert (out / name).resolve().parent == out.resolve()
    assert not (tmp_path / "etc").exists()
    titles = {meta["title"] for meta, _ in notes(out).values()}
    assert set(HOSTILE_TITLES) <= titles
    assert any(name.startswith("2024-05-01-otters-日本語-c") for name in names), names


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("日本語の質問", "日本語の質問"),
        ("🦦 Otters 🦦 日本語", "otters-日本語"),
        ("Straße in Köln", "strasse-in-köln"),
        ("नमस्ते दुनिया", "नमस्ते-दुनिया"),
        ("Cafe\u0301 \u202eevil\x00", "café-evil"),
        ("../../etc/passwd", "etc-passwd"),
        ("CON", "con"),
        ("a/b\\c:d*e?f", "a-b-c-d-e-f"),
        ("....", "untitled"),
        ("", "untitled"),
    ],
)
def test_file_name_keeps_the_title_in_any_script(title: str, slug: str) -> None:
    conv = Conversation("chatgpt", "x", title, [], b"", created_at=T0, id="c0123456789abcdef")
    taken: set[str] = set()
    first = markdown.file_name(conv, taken)
    assert first == f"2024-05-01-{slug}-c0123456.md"
    taken.add(first)
    assert markdown.file_name(conv, taken) == f"2024-05-01-{slug}-c0123456-2.md"


def test_long_title_cut_by_bytes_between_whole_characters() -> None:
    title = "日本語" * 40 + " " + "e\u0301" * 80
    conv = Conversation("chatgpt", "x", title, [], b"", created_at=T0, id="c0123456789abcdef")
    name = markdown.file_name(conv, set())
    assert_safe_name(name, ".md")
    assert len(name.encode()) > 90 and name.startswith("2024-05-01-日本語日本語")
    accented = Conversation("chatgpt", "x", "e\u0301" * 80, [], b"", created_at=T0, id="c0")
    cut = markdown.file_name(accented, set()).removeprefix("2024-05-01-").removesuffix("-c0.md")
    assert cut == "é" * len(cut)  # NFC, and no accent left without its letter
    marks = "a" + "\u0301\u0302" * 60  # one letter with more marks than fit: left out whole
    assert _folder.slug(marks, 10) == ""


@settings(max_examples=300, deadline=None)
@given(
    titles=st.lists(
        st.one_of(st.none(), st.text(st.characters(codec=None), max_size=300)),
        min_size=1,
        max_size=6,
    ),
    created=st.one_of(st.none(), st.floats(0, 4e9)),
)
def test_any_title_gives_a_safe_unique_name(
    titles: list[str | None], created: float | None
) -> None:
    taken: set[str] = set()
    keys = set()
    for title in [*titles, *titles]:  # the same id and day each time: names must still differ
        conv = Conversation("chatgpt", "x", title, [], b"", created_at=created, id="c0123456789")
        for name in (markdown.file_name(conv, taken), html_export.page_name(conv, taken)):
            assert_safe_name(name, "." + name.rsplit(".", 1)[1])
            key = unicodedata.normalize("NFC", name.casefold())
            assert key not in keys, name  # unique even where case and normalisation do not count
            keys.add(key)
            taken.add(name)


def test_refuses_a_foreign_non_empty_folder(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.md").write_text("# my own notes\n")
    with pytest.raises(FreeholdError, match="not empty"):
        export(archive, out)
    assert (out / "index.md").read_text() == "# my own notes\n"


def test_export_again_with_a_narrower_selection_keeps_the_other_notes(
    filled: Archive, tmp_path: Path
) -> None:
    """Probe N #3: a narrower selection brings its notes up to date and deletes none of the
    others; the index links them apart, and the attachments they use stay."""
    out = tmp_path / "out"
    export(filled, out)
    before = sorted(p.name for p in out.glob("*.md"))
    (out / "my-note.md").write_text("mine")
    only = [c.id for c in filled.iter_conversations() if c.source_id == "hostile-1"]
    summary = markdown.write_summary(filled, filled.iter_conversations(ids=only), out)
    assert (summary.written, summary.removed, summary.edited) == (1, [], [])
    assert sorted(p.name for p in out.glob("*.md")) == sorted([*before, "my-note.md"])
    others = [n for n in before if n != "index.md" and only[0][:8] not in n]
    assert summary.earlier == len(others) > 0
    index = (out / "index.md").read_text()
    assert "## Also in this folder" in index and all(f"(<{n}>)" in index for n in others)
    assert any((out / "attachments").iterdir()), "an attachment a kept note links was removed"
    assert export(filled, out) == filled.stats()["conversations"]
    assert "Also in this folder" not in (out / "index.md").read_text()


def three(folder: Path, titles: list[str]) -> Path:
    path = folder / "three.json"
    convs = [small_conversation(f"y{n}", title) for n, title in enumerate(titles)]
    path.write_text(json.dumps(convs))
    return path


def test_a_note_a_person_edited_is_never_overwritten_nor_removed(
    archive: Archive, tmp_path: Path
) -> None:
    import_path(archive, three(tmp_path, ["t0", "t1", "t2"]))
    out = tmp_path / "out"
    export(archive, out)
    names = {front_matter(p)[0]["source_id"]: p.name for p in out.glob("2*.md")}
    edited = out / names["y0"]
    edited.write_text(edited.read_text() + "my annotation\n")
    mine = edited.read_text()
    y1 = [str(archive.resolve("y1"))]
    assert markdown.write(archive, archive.iter_conversations(ids=y1), out) == 1
    assert {p.name for p in out.glob("2*.md")} == set(names.values())
    # renamed upstream: the old name of an unedited note goes, an edited one stays
    import_path(archive, three(tmp_path, ["t0 renamed", "t1", "t2 renamed"]))
    summary = markdown.write_summary(archive, archive.iter_conversations(), out)
    assert summary.removed == [names["y2"]] and summary.edited == [names["y0"]]
    assert not (out / names["y2"]).exists() and edited.read_text() == mine
    assert len(list(out.glob("2*.md"))) == 4
    text = summary.text(out)
    assert "removed 1 stale file" in text and names["y0"] in text
    # an edited note under the name this run writes is left as it is, and said
    kept = out / names["y1"]
    kept.write_text("rewritten by hand\n")
    again = markdown.write_summary(archive, archive.iter_conversations(), out)
    assert again.edited == [names["y1"]] and kept.read_text() == "rewritten by hand\n"


def test_a_tampered_listing_deletes_nothing_outside(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    victim = tmp_path / "victim.md"
    (out / "2024-01-01-mine.md").mkdir()  # a name of the right shape but not a file it wrote
    kept = [victim, out / ".hidden.md", out / "mine.md"]
    for path in kept:
        path.write_text("mine")
    forged = ["../victim.md", str(victim), "2024-01-01-x/../../victim.md", ".hidden.md"]
    forged += ["mine.md", "2024-01-01-mine.md"]
    with (out / _folder.LISTING).open("a", encoding="utf-8") as listing:
        listing.write("".join(f"{name}\n" for name in forged))
    only = [c.id for c in filled.iter_conversations() if c.source_id == "hostile-1"]
    assert markdown.write(filled, filled.iter_conversations(ids=only), out) == 1
    assert all(path.read_text() == "mine" for path in kept)
    assert (out / "2024-01-01-mine.md").is_dir()


@pytest.mark.parametrize(
    ("text", "by", "expected"),
    [
        ("# Plan\n\n## Step\n\ntext", 3, "#### Plan\n\n##### Step\n\ntext"),
        ("### Deep\n\n###### Deepest ##", 4, "###### Deep\n\n###### Deepest ##"),
        (
            "```\n# a comment\n```\n\n    # indented code",
            3,
            "```\n# a comment\n```\n\n    # indented code",
        ),
        ("<div>\n# inside HTML\n</div>", 3, "<div>\n# inside HTML\n</div>"),
        ("C# and #hashtag, #1", 3, "C# and #hashtag, #1"),
        (
            "Title\nsecond line\n===\n\nSub\n---\n\nbody",
            3,
            "#### Title second line\n\n##### Sub\n\nbody",
        ),
        (
            "> # Quoted\n\n- ## Listed\n\n1. item\n   # In item",
            3,
            "> #### Quoted\n\n- ##### Listed\n\n1. item\n   #### In item",
        ),
        ("C#\n==", 3, "#### C# ####"),
        ("# Win\r\n\r\ntext", 3, "#### Win\n\ntext"),
        ("# lone \ud800 surrogate\n\n\ttab # no", 3, "#### lone \ud800 surrogate\n\n\ttab # no"),
        ("a | b\n--|--\n\n# After table", 3, "a | b\n--|--\n\n#### After table"),
    ],
)
def test_demote_headings(text: str, by: int, expected: str) -> None:
    assert markdown.demote_headings(text, by) == expected


HEADED = "# Plan\n\nFirst.\n\n## Step one\n\n```python\n# not a heading\n```\n\nSetext\n---"


def headed_zip(folder: Path) -> Path:
    """An answer with its own headings, on the visible path and on another branch."""
    thoughts = {"content_type": "thoughts", "thoughts": [{"summary": "S", "content": "# Idea"}]}
    nodes = [
        node("q", None, "user", text("# Question heading")),
        node("t", "q", "assistant", thoughts),
        node("a", "t", "assistant", text(HEADED)),
        node("b", "q", "assistant", text(HEADED.replace("Plan", "Other plan"))),
    ]
    conversation = {
        "id": "headed",
        "title": "Headings",
        "create_time": T0,
        "current_node": "a",
        "mapping": {n["id"]: n for n in nodes},
    }
    path = folder / "headed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation]))
    return path


def test_message_headings_sit_below_the_role_heading(archive: Archive, tmp_path: Path) -> None:
    import_path(archive, headed_zip(tmp_path))
    export(archive, tmp_path / "out")
    _, body = notes(tmp_path / "out")["headed"]
    heads = [
        (len(t.markup), tokens[n + 1].content)
        for tokens in [MarkdownIt().parse(body)]
        for n, t in enumerate(tokens)
        if t.type == "heading_open"
    ]
    assert heads == [
        (1, "Headings"),
        (3, "User"),
        (4, "Question heading"),
        (4, "Idea"),  # in the hidden reasoning's <details>
        (3, "Assistant"),
        (4, "Plan"),
        (5, "Step one"),
        (5, "Setext"),
        (2, "Other branches"),
        (3, "Branch 2"),
        (4, "Assistant"),
        (5, "Other plan"),
        (6, "Step one"),
        (6, "Setext"),
    ]
    assert "```python\n# not a heading\n```" in body


def test_an_export_cut_short_can_be_run_again_into_its_folder(
    filled: Archive, tmp_path: Path
) -> None:
    """Probe N #4: the listing is written before the first note, so a run that stopped half
    way (a full disk, here an error from the conversations) left a folder the next run
    recognises; every format of files per conversation follows the one rule."""

    def cut(convs: Any) -> Any:
        for n, conv in enumerate(convs):
            if n == 2:
                raise RuntimeError("cut short")
            yield conv

    for module in (markdown, html_export):
        out = tmp_path / module.FORMAT
        with pytest.raises(RuntimeError, match="cut short"):
            module.write(filled, cut(filled.iter_conversations()), out)
        assert not (out / module.INDEX).exists() and len(list(out.glob("2*"))) == 2
        assert module.write(filled, filled.iter_conversations(), out) > 2


def test_an_attachments_folder_that_is_a_link_is_refused(filled: Archive, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    export(filled, out)
    shutil.rmtree(out / "attachments")
    (out / "attachments").symlink_to(elsewhere)
    with pytest.raises(FreeholdError, match="is a link, not a folder"):
        export(filled, out)
    assert not any(elsewhere.iterdir())


def test_one_conversation_has_one_name_stem_in_every_format() -> None:
    """Probe N #10a: a long title is cut to the same stem for .md, .html and .pdf."""
    conv = Conversation("chatgpt", "x", "truncation " * 30, [], b"", created_at=T0, id="c173162a9")
    stems = {
        _folder.conversation_name(conv, set(), s).rsplit(".", 1)[0]
        for s in (".md", ".html", ".pdf")
    }
    assert len(stems) == 1, stems


def error(name: str, words: str) -> dict[str, Any]:
    return {"content_type": "system_error", "name": name, "text": words}


def voice(words: str) -> dict[str, Any]:
    part = {"content_type": "audio_transcription", "text": words}
    return {"content_type": "multimodal_text", "parts": [part]}


def injection_chat(folder: Path) -> Path:
    nodes = [
        node("s", None, "system", text("sys </details>\n\n<h1>OUT OF THE BOX</h1>")),
        node(
            "u",
            "s",
            "user",
            text('<img src="https://t.example/p.png"> ![](https://t.example/q.png) `<kbd>`'),
        ),
        node("a", "u", "assistant", text("ok\x00 \x1b[31mred\n\n```html\n<b>kept</b>\n```")),
        # R2 #1: an escaped backtick opens no code span; an escaped backslash does not escape
        # the image's "!"; an error's or a voice note's code is code only in a block of its own.
        node("e", "a", "user", text("see \\`<img src=https://t.example/esc.png>`")),
        node("b", "e", "user", text("a \\\\![](https://t.example/x.png)")),
        node("f", "b", "assistant", error("x", "```\n<img src=https://t.example/err.png>")),
        node("i", "f", "assistant", error("y", "    <img src=https://t.example/err2.png>")),
        node("v", "i", "user", voice("    <img src=https://t.example/voice.png>")),
        # R3 #4: a code span never crosses a block boundary (a blank line, a heading).
        node("p1", "v", "user", text("`a\n\n<img src=https://t.example/p1.png>\n\nb`")),
        node("p2", "p1", "user", text("x `y\n\n![i](https://t.example/p2.png)\n\nz`")),
        node("p3", "p2", "user", text("`a\n# <img src=https://t.example/p3.png> `")),
    ]
    conversation = {"id": "inj", "title": "Inj", "create_time": T0, "current_node": "p3"}
    conversation["mapping"] = {n["id"]: n for n in nodes}
    path = folder / "inj.json"
    path.write_text(json.dumps([conversation]))
    return path


def test_message_text_never_acts_as_html_nor_loads_a_file(archive: Archive, tmp_path: Path) -> None:
    """Probe N #9: a hidden system prompt cannot close its <details>, no remote image loads,
    controls are escapes; code keeps its text."""
    import_path(archive, injection_chat(tmp_path))
    export(archive, tmp_path / "out")
    _, body = notes(tmp_path / "out")["inj"]
    tokens = MarkdownIt("commonmark").parse(body)
    html_blocks = [t.content for t in tokens if t.type == "html_block"]
    assert all(b.startswith(("<details>", "</details>")) for b in html_blocks), html_blocks
    inline = [c for t in tokens for c in (t.children or [])]
    live = [c.content or c.attrs.get("src") for c in inline if c.type in ("html_inline", "image")]
    assert not live
    assert "\x00" not in body and "\x1b" not in body and "\\x1b[31mred" in body
    assert "`<kbd>`" in body and "<b>kept</b>" in body


def test_front_matter_is_yaml_whatever_the_title_holds(archive: Archive, tmp_path: Path) -> None:
    """Probe N #5: DEL, C1 controls, NEL, the line and paragraph separators and U+FFFE are
    not YAML as raw characters (or fold to a space): written as escapes, they parse back."""
    titles = ["del\x7fx", "csi\x9bx", "nel\x85x", "ls\u2028ps\u2029x", "non\ufffex", "tab\tnul\x00"]
    path = tmp_path / "titles.json"
    path.write_text(json.dumps([small_conversation(f"t{n}", t) for n, t in enumerate(titles)]))
    import_path(archive, path)
    export(archive, tmp_path / "out")
    found = notes(tmp_path / "out")
    assert [found[f"t{n}"][0]["title"] for n in range(len(titles))] == titles
