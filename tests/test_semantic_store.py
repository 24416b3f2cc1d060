"""The meaning index against archives it was not built from, vectors of the wrong width, and
queries that share nothing (freehold/embeddings.py): small ChatGPT exports, the lexical
embedder, real SQLite stores — no model loaded, each test well under a second."""

from __future__ import annotations

import sqlite3
import sys
import tracemalloc
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from freehold import embeddings
from freehold.archive import ARCHIVE_NAME, open_archive
from freehold.cli import cli
from freehold.errors import StorageError
from freehold.models import Message
from tests.builders import chatgpt_chats
from tests.providers.servers import WireServer

TRIP = ("Trip", ["plan a cheap weekend trip to Lisbon", "Take the train and stay in a hostel."])
CODE = ("Code", ["how do I sort a list in python", "Use sorted(list)."])
BREAD = ("Bread", ["how do I bake sourdough bread", "Feed the starter, then bake at 250C."])


def run(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output + str(result.exception)
    return result


def meaning(query: str, *more: str) -> list[dict[str, Any]]:
    result = run("search", query, "--semantic", "--embedder", "lexical", "--json", *more)
    found: list[dict[str, Any]] = orjson.loads(result.stdout)
    return found


def an_export(folder: Path, name: str, chat: tuple[str, list[str]], start: float) -> Path:
    return chatgpt_chats(folder / f"{name}.zip", {name: chat}, start)


def test_a_recreated_archive_is_not_searched_with_the_old_vectors(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """Probe T, item 1: the index was only compared again when ``sources`` grew past what it
    had seen; a new archive's ids start again, so its messages were searched by the vectors
    of the old archive's messages of the same ids (a search for python found Bread)."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    run("import", str(an_export(tmp_path, "code", CODE, 1_700_100_000)))
    assert meaning("python", "--limit", "1")[0]["title"] == "Code"
    for path in _isolated_home.glob(ARCHIVE_NAME + "*"):
        path.unlink()
    run("import", str(an_export(tmp_path, "bread", BREAD, 1_700_200_000)))
    path = _isolated_home / embeddings.STORE_NAME
    with (
        open_archive() as archive,
        embeddings.EmbeddingStore(path, read_only=True) as store,
        pytest.raises(StorageError, match="was built from another archive"),
    ):
        embeddings.build(archive, store, embeddings.LexicalEmbedder())
    assert all(hit["score"] <= 0 for hit in meaning("sorting a list in python"))  # no word
    assert meaning("sourdough bread", "--limit", "1")[0]["title"] == "Bread"
    with embeddings.EmbeddingStore(_isolated_home / embeddings.STORE_NAME) as store:
        assert store.count(store.embedder_id(embeddings.LexicalEmbedder())) == 2


def test_an_older_copy_of_the_archive_is_compared_again(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """A backup restored over the archive: its last import is not the one the index saw."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    saved = tmp_path / "saved.sqlite"
    saved.write_bytes((_isolated_home / ARCHIVE_NAME).read_bytes())
    run("import", str(an_export(tmp_path, "code", CODE, 1_700_100_000)))
    assert meaning("python", "--limit", "1")[0]["title"] == "Code"
    (_isolated_home / ARCHIVE_NAME).write_bytes(saved.read_bytes())  # the restore
    run("import", str(an_export(tmp_path, "bread", BREAD, 1_700_200_000)))
    assert all(hit["score"] <= 0 for hit in meaning("python"))
    assert meaning("sourdough", "--limit", "1")[0]["title"] == "Bread"


def test_a_read_only_index_made_before_the_mark_is_searched(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """Review R6-2: a store made before ``checked_mark`` (a mounted backup of an older
    freehold's data folder) has no mark to compare; read only, it was refused as "built from
    another archive" — every read-only archive ever indexed. Not yet marked, it is searched as
    it was; writable, its next build compares every message once and marks it."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    meaning("Lisbon")
    path = _isolated_home / embeddings.STORE_NAME
    db = sqlite3.connect(path)
    with db:
        db.execute("ALTER TABLE embedders DROP COLUMN checked_mark")  # as made before the mark
    db.close()
    lexical = embeddings.LexicalEmbedder()
    with open_archive() as archive, embeddings.EmbeddingStore(path, read_only=True) as store:
        report = embeddings.build(archive, store, lexical)
        assert (report.stored, report.notice()) == (2, None)
        hits = embeddings.search(archive, store, lexical, "Lisbon weekend", limit=1)
        assert hits[0].title == "Trip"
    with open_archive() as archive, embeddings.open_store(archive) as store:
        assert embeddings.build(archive, store, lexical).full  # compared once, then marked
        assert store.checked_source(store.embedder_id(lexical))[1].startswith("1 ")


def _a_turn(text: str) -> None:
    """A chat turn in the archive's one conversation: new messages, no ``sources`` row."""
    with open_archive() as archive:
        cid = archive.select()[0]
        leaf = archive.get_conversation(cid).messages[-1].id
        archive.add_turn(cid, leaf, [Message("", None, "user", "text", [], text)])


def test_ids_a_restore_gives_again_to_other_turns_are_compared(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """Review R6-4: chat turns make no ``sources`` row and message ids are reused, so after a
    restore of a copy holding the same last import, the next turns took the ids of turns the
    index held: searched by those turns' vectors (python found Bread's words)."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    meaning("Lisbon")
    archive_file = _isolated_home / ARCHIVE_NAME
    saved = archive_file.read_bytes()
    _a_turn("how do I bake sourdough bread")
    assert meaning("sourdough", "--limit", "1")[0]["snippet"] == "how do I bake sourdough bread"
    for extra in _isolated_home.glob(ARCHIVE_NAME + "-*"):  # the restore: the copy alone
        extra.unlink()
    archive_file.write_bytes(saved)  # (it holds the same last import)
    _a_turn("how do I sort a python list")
    assert meaning("python", "--limit", "1")[0]["snippet"] == "how do I sort a python list"
    assert meaning("sourdough") == []


def test_a_model_that_changes_its_width_is_one_line(
    _isolated_home: Path, tmp_path: Path, wire: WireServer
) -> None:
    """Probe T, item 3: a provider's model that answers with another number of dimensions
    than the index holds was a numpy traceback at every search, and after an import the
    store held both widths for good ("cannot reshape array")."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    run("providers", "add", "emb", "--kind", "openai", "--base-url", wire.base_url("openai"))
    hit = "search", "Lisbon trip", "--semantic", "--embedder", "emb:e1", "--json"
    assert orjson.loads(run(*hit).stdout)[0]["title"] == "Trip"
    wire.embedding_dim = 16
    said = "emb:e1 now returns 16 numbers, the index holds 8: the model behind this name changed"
    assert said in run(*hit, code=1).output
    run("import", str(an_export(tmp_path, "code", CODE, 1_700_100_000)))
    refused = run(*hit, code=1).output
    assert said in refused and "delete" in refused and "Traceback" not in refused
    db = sqlite3.connect(_isolated_home / embeddings.STORE_NAME)
    assert {row[0] for row in db.execute("SELECT length(vector) FROM vectors")} == {16}


def test_a_damaged_vector_is_one_line(_isolated_home: Path, tmp_path: Path) -> None:
    """A vector of the wrong length in the store is the damaged-store line, not numpy's."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    meaning("Lisbon")
    db = sqlite3.connect(_isolated_home / embeddings.STORE_NAME)
    with db:
        db.execute("UPDATE vectors SET vector = x'00' WHERE message_id = 1")
    db.close()
    result = CliRunner().invoke(cli, ["search", "Lisbon", "--semantic", "--embedder", "lexical"])
    assert result.exit_code == 1, result.output
    line = " ".join(result.output.split())
    assert "embeddings.sqlite: damaged" in line and "delete it" in line


def test_a_query_that_shares_nothing_finds_nothing(_isolated_home: Path, tmp_path: Path) -> None:
    """Probe T, item 4: every message was listed, at score 0, for a word no message holds; a
    query of punctuation alone searched with a vector of zeros; the terminal never showed
    the score."""
    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    assert meaning("xylophone") == []
    nothing = run("search", "xylophone", "--semantic", "--embedder", "lexical")
    assert "no matches" in nothing.output
    empty = run("search", "!!!", "--semantic", "--embedder", "lexical", code=1)
    assert "nothing to search for in '!!!'" in empty.output
    shown = run("search", "Lisbon weekend", "--semantic", "--embedder", "lexical").output
    score = meaning("Lisbon weekend")[0]["score"]
    assert 0 < score < 1 and f"score {score:.2f}" in shown


@pytest.fixture
def words_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The web app's embedder as where no model is installed: the lexical fallback."""
    from freehold.web import meaning as web_meaning

    monkeypatch.setitem(sys.modules, "wordllama", None)  # import wordllama now fails
    web_meaning._embedder.cache_clear()
    yield
    web_meaning._embedder.cache_clear()


def test_the_web_page_says_it_compares_words(
    _isolated_home: Path, tmp_path: Path, words_only: None
) -> None:
    from tests.web.conftest import start_server

    run("import", str(an_export(tmp_path, "trip", TRIP, 1_700_000_000)))
    for server in start_server(_isolated_home):
        with server.client() as client:
            page = client.get("/search", params={"q": "Lisbon", "meaning": "1"})
            french = client.get(
                "/search", params={"q": "Lisbon", "meaning": "1"}, headers={"Accept-Language": "fr"}
            )
    assert page.status_code == 200 and "1 result" in page.text
    assert "comparing words, not meaning" in page.text
    # probe V, item 4: the note is said in the page's language
    assert "les mots sont comparés, pas le sens" in french.text
    assert "comparing words" not in french.text
    # probe V, item 7: each hit says how near it is, as `search --semantic --json` does
    (hit,) = orjson.loads(run("search", "Lisbon", "--semantic", "--json").stdout)
    assert f"· Similarity {hit['score']:.2f}</span>" in page.text
    assert f"· Similarité {hit['score']:.2f}</span>" in french.text


def test_the_web_search_by_meaning_has_pages(
    _isolated_home: Path, tmp_path: Path, words_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe T, item 2: the page asked for as many hits as it showed and counted those, so page
    1 said "20 results" with no page 2, and page 2 said "40 results"."""
    from freehold import _queries
    from tests.web.conftest import start_server

    texts = [f"Lisbon day {n}" for n in range(26)]
    run("import", str(an_export(tmp_path, "long", ("Long", texts), 1_700_000_000)))
    for server in start_server(_isolated_home):
        with server.client() as client:
            first = client.get("/search", params={"q": "Lisbon", "meaning": "1"})
            second = client.get("/search", params={"q": "Lisbon", "meaning": "1", "page": "2"})
            monkeypatch.setattr(_queries, "CANDIDATES", 20)  # the best 1,000, made 20
            capped = client.get("/search", params={"q": "Lisbon", "meaning": "1"})
    assert "26 results" in first.text and "Page 1 of 2" in first.text
    assert 'rel="next" href="/search?q=Lisbon&amp;meaning=1&amp;page=2"' in first.text
    assert "26 results" in second.text and "Page 2 of 2" in second.text
    assert second.text.count('<li class="hit" data-item>') == 6
    assert "20 results — Showing the nearest matches only." in capped.text
    assert capped.text.count('<li class="hit" data-item>') == 20  # the capped page shows them


def test_loading_the_vectors_costs_little_beyond_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe T, item 9: ``matrix`` held every row's bytes, their join and the float32 copy at
    once: a peak of about twice the arrays it returns (1,050 MiB for 492 MiB at 500,000
    vectors). Measured with tracemalloc, which sees numpy's buffers and SQLite's bytes."""
    monkeypatch.setattr(embeddings, "_CACHE", {})
    embedder, count = embeddings.LexicalEmbedder(256), 8_000
    made = np.random.default_rng(7).standard_normal((count, 256)).astype(np.float32)
    with embeddings.EmbeddingStore(tmp_path / embeddings.STORE_NAME) as store:
        eid = store.embedder_id(embedder)
        store.put(eid, embedder, range(1, count + 1), [b"digest!!"] * count, made)
        tracemalloc.start()
        try:
            ids, vectors = store.matrix(eid)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert ids.tolist() == list(range(1, count + 1))
    assert np.array_equal(vectors, made.astype("<f2").astype(np.float32))
    assert peak < 1.25 * (ids.nbytes + vectors.nbytes), peak / (ids.nbytes + vectors.nbytes)


def test_wordllama_without_its_weights_falls_back_to_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe T, low note: wordllama installed without its weights raised FileNotFoundError from
    ``choose`` (only ImportError was the fallback). The real loader, pointed at an empty
    package folder, with downloads off as always."""
    import wordllama

    empty = types.SimpleNamespace(
        __file__=str(tmp_path / "wordllama" / "__init__.py"), WordLlama=wordllama.WordLlama
    )
    monkeypatch.setattr(embeddings, "import_wordllama", lambda module="wordllama": empty)
    told: list[str] = []
    assert isinstance(embeddings.choose(None, notice=told.append), embeddings.LexicalEmbedder)
    assert "cannot be loaded" in told[0] and "comparing words, not meaning" in told[0]
    with pytest.raises(embeddings.FreeholdError, match=r"cannot be loaded.*not found"):
        embeddings.choose("local")
