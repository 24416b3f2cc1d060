"""Search by meaning (freehold/embeddings.py, ``search --semantic``): real wordllama vectors,
a real store beside the archive, built incrementally, usable with the network cut."""

from __future__ import annotations

import logging
import re
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from freehold import embeddings
from freehold.archive import open_archive
from freehold.cli import cli
from freehold.models import Message
from tests.conftest import REPO

SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
SAMPLE_2026 = REPO / "examples" / "sample-chatgpt-export-2026.zip"


def _run(*args: str, **env: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env or None)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def _hits(query: str, *more: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = orjson.loads(_run("search", query, "--json", *more).stdout)
    return found


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    _run("import", str(SAMPLE))
    return _isolated_home


@pytest.mark.parametrize(
    ("query", "title"), [("holiday itinerary", "Travel"), ("growing tomatoes", "gardening")]
)
def test_meaning_found_where_no_word_is_shared(home: Path, query: str, title: str) -> None:
    assert _hits(query) == []  # the full-text search finds none of these words
    hits = _hits(query, "--semantic")
    assert title in hits[0]["title"]
    assert hits[0]["score"] > hits[-1]["score"]


def test_the_lexical_fallback_finds_shared_words(home: Path) -> None:
    hits = _hits("museum ticket rail pass", "--semantic", "--embedder", "lexical")
    assert "rail pass depends on the museum ticket" in hits[0]["snippet"]
    a, b, c = embeddings.LexicalEmbedder().embed(["sort a list", "a list to sort", "pancakes"])
    assert float(a @ b) == pytest.approx(0.866, abs=1e-3)  # 3 words of 4 shared, sqrt counts
    assert float(a @ c) < 0.2


def test_filters_apply_to_a_search_by_meaning(home: Path) -> None:
    hits = _hits("holiday itinerary", "--semantic", "--role", "user", "--limit", "5")
    assert len(hits) == 5
    assert {hit["role"] for hit in hits} == {"user"}


def test_the_store_is_readable_with_sqlite_and_numpy(home: Path) -> None:
    _hits("anything", "--semantic")
    db = sqlite3.connect(home / embeddings.STORE_NAME)
    name, version, dim, dtype = db.execute(
        "SELECT name, version, dim, dtype FROM embedders"
    ).fetchone()
    assert (name, dim, dtype) == ("wordllama:l2_supercat", 256, "<f2")
    assert version.startswith("0.4")
    blobs = [row[0] for row in db.execute("SELECT vector FROM vectors")]
    vectors = np.stack([np.frombuffer(b, dtype=dtype) for b in blobs]).astype(np.float32)
    assert vectors.shape[1] == dim
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
    archive = sqlite3.connect(home / "archive.sqlite")
    searchable = archive.execute(
        "SELECT count(*) FROM messages WHERE role IN ('user', 'assistant') AND hidden = 0 "
        "AND trim(text) != ''"
    ).fetchone()[0]
    assert len(blobs) == searchable


def test_built_incrementally(home: Path) -> None:
    with open_archive() as archive, embeddings.open_store(archive) as store:
        embedder = embeddings.choose("local")
        first = embeddings.build(archive, store, embedder)
        assert first.full and first.added == first.stored > 100
        again = embeddings.build(archive, store, embedder)
        assert (again.checked, again.added, again.full) == (0, 0, False)
        cid = archive.select()[0]
        leaf = archive.get_conversation(cid).messages[-1].id
        text = "Which tent survives a storm on a mountain?"
        archive.add_turn(cid, leaf, [Message("", None, "user", "text", [], text)])
        turn = embeddings.build(archive, store, embedder)
        assert (turn.checked, turn.added, turn.stored) == (1, 1, first.stored + 1)
        hits = embeddings.search(archive, store, embedder, "camping gear in bad weather")
        assert hits[0].snippet == text


def test_an_import_that_changes_a_text_is_noticed(home: Path) -> None:
    with open_archive() as archive, embeddings.open_store(archive) as store:
        embedder = embeddings.choose("local")
        embeddings.build(archive, store, embedder)
        mid = archive.db.execute("SELECT min(id) FROM messages WHERE role='user'").fetchone()[0]
        archive.db.execute("UPDATE messages SET text=? WHERE id=?", ("Knitting a scarf", mid))
    _run("import", str(SAMPLE_2026))  # an import: every digest is compared again
    with open_archive() as archive, embeddings.open_store(archive) as store:
        report = embeddings.build(archive, store, embedder)
        assert report.full and report.updated >= 1 and report.added > 0
        hits = embeddings.search(archive, store, embedder, "knitting wool scarf", limit=1)
        assert hits[0].message_id == mid


def test_a_read_only_index_says_imports_since_may_have_changed_what_it_searches(
    home: Path,
) -> None:
    """Review R3: read only, ``build`` counted only messages above the highest embedded, so a
    re-import that changed a text left it searched by its old words, unmentioned."""
    embedder = embeddings.choose("lexical")
    with open_archive() as archive, embeddings.open_store(archive) as store:
        embeddings.build(archive, store, embedder)
    _run("import", str(SAMPLE_2026))
    path = home / embeddings.STORE_NAME
    with open_archive() as archive, embeddings.EmbeddingStore(path, read_only=True) as store:
        notice = embeddings.build(archive, store, embedder).notice()
    assert notice is not None and "1 import since the meaning index was built" in notice
    assert "changed" in notice and "make it writable" in notice


def test_usable_offline_once_built(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """wordllama never reaches for the network: every connection is refused here."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network is cut in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert "Travel" in _hits("holiday itinerary", "--semantic")[0]["title"]


def test_loading_the_model_leaves_logging_alone() -> None:
    """wordllama's import calls logging.basicConfig(INFO): every HTTP request would print."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    sys.modules.pop("wordllama", None)
    embeddings.choose("local")
    assert (list(root.handlers), root.level) == before


def test_a_bar_then_the_hits(home: Path) -> None:
    result = _run("search", "holiday itinerary", "--semantic", FREEHOLD_PROGRESS_INTERVAL="0")
    assert "embedding (wordllama:l2_supercat):" in result.stderr
    assert "messages" in result.stderr
    assert "Travel planning" in result.stdout


def test_the_lexical_fallback_is_said_when_no_model_is_installed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)  # import wordllama now fails
    told: list[str] = []
    embedder = embeddings.choose(None, notice=told.append)
    assert isinstance(embedder, embeddings.LexicalEmbedder)
    assert "comparing words, not meaning" in told[0]
    with pytest.raises(embeddings.FreeholdError, match="pip install wordllama"):
        embeddings.choose("local")


def test_a_configured_provider_embeds(home: Path, llmock: Any) -> None:
    """An OpenAI-compatible /embeddings endpoint on loopback (llmock: a vector per text)."""
    _run("providers", "add", "mock", "--kind", "openai", "--base-url", llmock.base_url("openai"))
    hits = _hits(
        "Explain travel planning to me like I'm new to it.",
        "--semantic",
        "--embedder",
        "mock:text-embedding-3-small",
    )
    assert hits[0]["snippet"] == "Explain travel planning to me like I'm new to it."
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-2)
    db = sqlite3.connect(home / embeddings.STORE_NAME)
    assert db.execute("SELECT name, dim FROM embedders").fetchall() == [
        ("mock:text-embedding-3-small", 1536)
    ]


def test_a_key_the_embeddings_endpoint_echoes_is_never_printed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R6-3: the embedder built its error from the SDK's text, unredacted, so a 401
    quoting the key put it on the terminal and the web search page. Its errors are the
    provider's own faults now: classified, one line, the key replaced. The key is not shaped
    like one (no sk-), so only the provider's own key redaction can catch it."""
    from tests.providers.servers import Script, WireServer

    secret = "fh-secret-ABCDEF0123456789"
    monkeypatch.setenv("EMB_KEY", secret)
    body = {"error": {"message": "Incorrect API key provided: {key}", "code": "invalid_api_key"}}
    with WireServer() as wire:
        base = wire.base_url("openai")
        _run("providers", "add", "emb", "--kind", "openai", "--base-url", base,
             "--api-key-env", "EMB_KEY")  # fmt: skip
        wire.embedding_faults.append(Script(status=401, body=body))
        result = CliRunner().invoke(cli, ["search", "Lisbon", "--semantic", "--embedder", "emb:e1"])
        assert wire.requests[0].headers["authorization"] == f"Bearer {secret}"  # it was sent
    assert result.exit_code == 1
    assert secret not in result.output
    said = result.output.strip()
    assert said.startswith("Error: emb: 401 auth:") and said.endswith("provided: [key]"), said


def test_an_unknown_embedder_is_one_clear_line(home: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "x", "--semantic", "--embedder", "nobody:model"])
    assert result.exit_code == 1
    assert "is not a provider of kind openai" in result.output


def test_the_web_search_by_meaning(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freehold.web import meaning
    from tests.web.conftest import start_server

    for server in start_server(home):
        with server.client() as client:
            words = client.get("/search", params={"q": "holiday itinerary"})
            assert "0 results" in words.text
            page = client.get("/search", params={"q": "holiday itinerary", "meaning": "1"})
            assert page.status_code == 200
            first = re.search(
                r'<li class="hit" data-item>\s*<a href="[^"]*">([^<]*)</a>', page.text
            )
            assert first is not None and "Travel" in first[1]
            assert 'name="meaning" value="1" checked' in page.text
            users = client.get(
                "/search", params={"q": "holiday itinerary", "meaning": "1", "role": "user"}
            )
            assert "· User" in users.text and "· Assistant" not in users.text
            monkeypatch.setattr(meaning, "BUILD_IN_PAGE", 0)  # a big archive's first build
            with open_archive() as archive:
                cid = archive.select()[0]
                leaf = archive.get_conversation(cid).messages[-1].id
                turn = Message("", None, "user", "text", [], "A new prompt about tents")
                archive.add_turn(cid, leaf, [turn])
            refused = client.get("/search", params={"q": "tents", "meaning": "1"})
            assert refused.status_code == 400
            assert "needs 1 message embedded first" in refused.text


def test_search_by_meaning_on_a_read_only_data_folder(home: Path, tmp_path: Path) -> None:
    """Probe K, item 2: on a read-only disk the store was always opened read-write (made, in
    WAL mode): a traceback (EROFS, or SQLite's "unable to open database file"). Now a store
    built before is read as it is; with none, one line says what to do."""
    from tests.test_storage import _on_a_read_only_mount

    python = f"{sys.executable} -m freehold search --semantic --embedder lexical --json"
    script = f"{python} 'museum ticket'; echo rc=$?"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _on_a_read_only_mount(home, tmp_path / "a", script)
    assert "Traceback" not in first.stderr, first.stderr
    assert first.stdout.strip() == "rc=1", first.stdout
    assert "search by meaning needs a writable data folder once" in first.stderr
    _hits("museum ticket", "--semantic", "--embedder", "lexical")  # built, writable
    second = _on_a_read_only_mount(home, tmp_path / "b", script)
    assert "Traceback" not in second.stderr, second.stderr
    found = orjson.loads(second.stdout.rsplit("rc=", 1)[0])
    assert "rail pass depends on the museum ticket" in found[0]["snippet"]
    assert "not searched" not in second.stderr  # the index holds every message
    # R2 #2: a message newer than the index is not searched, and the search says so.
    with open_archive() as archive:
        cid = archive.select()[0]
        leaf = archive.get_conversation(cid).messages[-1].id
        archive.add_turn(cid, leaf, [Message("", None, "user", "text", [], "museum tents")])
    (tmp_path / "c").mkdir()
    third = _on_a_read_only_mount(home, tmp_path / "c", script)
    assert third.stdout.strip().endswith("rc=0"), third.stdout + third.stderr
    said = " ".join(third.stderr.split())
    assert "1 message newer than the meaning index is not searched: the data folder is" in said
    assert "make it writable" in said
