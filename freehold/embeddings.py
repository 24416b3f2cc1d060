"""Embeddings: a vector for each message, kept beside the archive, to search by meaning and to
compare answers (rehearsal).

Embedders (``choose``), each with a name, a version and a dimension stored with its vectors:

- ``local``: wordllama's 256-dimension model, which ships inside its wheel (no download, ever:
  it is loaded with downloads off from the package's own folder). English-first.
- ``provider:model``: the ``/embeddings`` endpoint of a provider configured in config.toml
  whose kind is ``openai`` (OpenAI itself, or any compatible server: Ollama, llama.cpp, vLLM).
  Texts leave the machine only to the provider the person named.
- ``lexical``: no model at all — words hashed into 1,024 buckets (square-rooted counts). It
  finds shared words, not shared meaning; it is what is used, and said, when no model is
  available.

The store is ``embeddings.sqlite`` in the data folder, apart from the archive (it can be
deleted and rebuilt; a backup of the archive does not need it). Its two tables can be read
with ``sqlite3``: ``embedders`` (name, version, dim, dtype) and ``vectors`` (message id, a
digest of the text embedded, the vector as little-endian float16 bytes — numpy's
``frombuffer(blob, "<f2")``). Vectors are unit length, so a dot product is the cosine.

``build`` is incremental: messages above the highest id embedded are new; after an import
(``sources`` grew since the last full pass) every message's digest is compared too, since an
import may change a text. So are they when the archive is not the one the index was built
from, or not as it was (made again, restored from a backup, copied beside the store: its ids
may name other messages): the index keeps a mark of the last import it compared with (id,
start time, file digest), and the message of the highest id it holds must be in the
archive with the text it was embedded from (a vector id above the archive's highest, or chat
turns that took ids again after a restore, also tell: ``_same_archive``). Batches are
committed as they are done, so a build cut short goes on where it stopped. A read-only store
(a data folder on a read-only disk) is searched as it is: ``build`` adds nothing and counts
the newer messages it leaves out and the imports since its last full pass (whose changed
texts it still searches by their earlier words), and every search by meaning says so
(``BuildReport.notice``). Only user and assistant messages that are shown
(not hidden) and hold text are embedded, their first ``EMBED_CHARS`` characters.

``search`` reads the vectors once per process (as float32: numpy has no fast float16 product,
so the memory is twice the file's; filled in chunks into arrays made at their final size, so
loading them takes little more), scores all of them with one matrix product, and reads
the best rows, with the same filters as the full-text search, from the archive.

wordllama calls ``logging.basicConfig(level=INFO)`` when imported, which would print every
HTTP request freehold makes; every import of it, the rehearsal's clustering included, goes
through ``import_wordllama``, which undoes that.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from freehold import _queries, _sqlite
from freehold._sqlite import open_private, transaction
from freehold._words import plural
from freehold.archive import Archive, now_iso
from freehold.config import Config, load_config, parse_ref
from freehold.errors import (
    ArchiveError,
    ConfigError,
    FreeholdError,
    StorageError,
)
from freehold.models import revision_of

__all__ = [
    "EMBED_CHARS",
    "STORE_NAME",
    "BuildReport",
    "Embedder",
    "EmbeddingStore",
    "LexicalEmbedder",
    "OpenAIEmbedder",
    "Unloaded",
    "WordLlamaEmbedder",
    "build",
    "choose",
    "cosine",
    "import_wordllama",
    "local_or_words",
    "open_store",
    "pending",
    "search",
]

STORE_NAME = "embeddings.sqlite"
EMBED_CHARS = 1000  # a message's opening says what it is about; past it, wordllama's mean blurs
_BATCH = 512  # texts per embedding call and per commit
_WORD = re.compile(r"\w+", re.UNICODE)

Vectors = npt.NDArray[np.float32]
Progress = Callable[[int, int], None]


class Embedder(Protocol):
    """Turns texts into unit vectors (a zero vector for a text with nothing to embed)."""

    name: str
    version: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def _unit(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    found: Vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return found


def import_wordllama(module: str = "wordllama") -> Any:
    """``import wordllama`` (or one of its modules, ``wordllama.algorithms``), leaving the root
    logger as it was: wordllama calls ``logging.basicConfig(level=INFO)`` when imported, which
    would print every HTTP request (URLs with their credentials) to stderr. Every import of
    wordllama in freehold goes through here. ``ImportError`` when it is not installed."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return importlib.import_module(module)
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


class WordLlamaEmbedder:
    """wordllama's bundled model, loaded from its own package folder with downloads off."""

    def __init__(self) -> None:
        wordllama = import_wordllama()
        folder = Path(wordllama.__file__).parent
        self._model = wordllama.WordLlama.load(cache_dir=folder, disable_download=True)
        self.name = "wordllama:l2_supercat"
        self.version = importlib.metadata.version("wordllama")

    @property
    def dim(self) -> int:
        return int(self._model.embedding.shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        found = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Batches of similar lengths: wordllama pads each batch to its longest text.
        order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
        if order:
            vectors = self._model.embed([texts[i] for i in order], norm=False, batch_size=64)
            found[order] = vectors
        return _unit(found)


class LexicalEmbedder:
    """Shared words, not meaning: word counts hashed into buckets (the fallback)."""

    name = "lexical"
    version = "1"

    def __init__(self, dim: int = 1024) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        found = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            buckets = [zlib.crc32(word.encode()) % self._dim for word in words]
            np.add.at(found[row], buckets, 1.0)
        return _unit(np.sqrt(found))


class OpenAIEmbedder:
    """A configured OpenAI-compatible provider's ``/embeddings`` endpoint."""

    version = "api"

    def __init__(self, config: Config, reference: str) -> None:
        ref = parse_ref(reference)
        settings = config.providers.get(ref.provider) if ref else None
        if ref is None or settings is None or settings.kind != "openai":
            raise ConfigError(
                f"{config.path}: embedder {reference!r} is not a provider of kind openai — give "
                "local, lexical, or provider:model for an OpenAI-compatible provider"
            )
        from freehold.providers.base import connect
        from freehold.providers.openai import OpenAIProvider

        provider = connect(settings)
        if not isinstance(provider, OpenAIProvider):  # a plugin that took the kind's name
            raise ConfigError(f"{config.path}: embedder {reference!r} is not OpenAI's SDK")
        self.name = str(ref)
        self._model = ref.model
        self._provider = provider
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Through the provider (``OpenAIProvider.embeddings``): its faults, redacted, are the
        only error text; its client is closed after each call."""
        sent = [t if t.strip() else "." for t in texts]
        try:
            found = self._provider.embeddings(self._model, sent)
        finally:
            self._provider.close()
        vectors = np.array(found, dtype=np.float32)
        self._dim = int(vectors.shape[1])
        vectors[[i for i, t in enumerate(texts) if not t.strip()]] = 0.0
        return _unit(vectors)


def choose(spec: str | None = None, *, notice: Callable[[str], None] | None = None) -> Embedder:
    """``local`` (wordllama), ``lexical``, or ``provider:model``. None: the local model where
    it is installed, else the lexical fallback with a notice saying so (``local_or_words``)."""
    if spec is None:
        embedder, unloaded = local_or_words()
        if unloaded is not None and notice is not None:
            notice(f"{unloaded.what()}: comparing words, not meaning")
        return embedder
    if spec == "local":
        local = _local()
        if isinstance(local, Unloaded):
            raise FreeholdError(
                f"the local embedding model (wordllama) {local.advice()}, or give --embedder "
                "lexical or provider:model"
            )
        return local
    if spec == "lexical":
        return LexicalEmbedder()
    return OpenAIEmbedder(load_config(), spec)


@dataclass(frozen=True, slots=True)
class Unloaded:
    """Why the local model cannot be used: not installed (``error`` None), or installed
    without what it needs to load (its weights: ``error`` says what failed)."""

    error: str | None = None

    def what(self) -> str:
        if self.error is None:
            return "no embedding model installed (wordllama)"
        return f"the local embedding model (wordllama) cannot be loaded ({self.error})"

    def advice(self) -> str:
        if self.error is None:
            return "is not installed — pip install wordllama"
        return f"cannot be loaded ({self.error}) — pip install --force-reinstall wordllama"


def local_or_words() -> tuple[Embedder, Unloaded | None]:
    """The default embedder: the local model where it loads, else the lexical fallback and
    why (``choose(None)`` says it in a line; the web page in its language)."""
    local = _local()
    if isinstance(local, Unloaded):
        return LexicalEmbedder(), local
    return local, None


def _local() -> Embedder | Unloaded:
    try:
        return WordLlamaEmbedder()
    except ImportError:
        return Unloaded()
    except OSError as error:  # installed without its weights (a trimmed or broken wheel)
        return Unloaded(str(error))


def cosine(a: Vectors, b: Vectors) -> npt.NDArray[np.float32]:
    """Row-by-row cosine of two stacks of unit vectors."""
    found: npt.NDArray[np.float32] = np.einsum("ij,ij->i", a, b).astype(np.float32)
    return found


# -- the store ----------------------------------------------------------------------------

_SCHEMA = """
    CREATE TABLE IF NOT EXISTS embedders (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        dim INTEGER NOT NULL,
        dtype TEXT NOT NULL DEFAULT '<f2',
        created_at TEXT NOT NULL,
        checked_source INTEGER NOT NULL DEFAULT 0,
        checked_mark TEXT NOT NULL DEFAULT '',
        UNIQUE (name, version)
    );
    CREATE TABLE IF NOT EXISTS vectors (
        embedder_id INTEGER NOT NULL REFERENCES embedders(id),
        message_id INTEGER NOT NULL,
        digest BLOB NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (embedder_id, message_id)
    ) WITHOUT ROWID;
"""


# What to do with a damaged store: it holds nothing that cannot be made again.
_DAMAGED = "delete it: it is built again at the next search by meaning (docs/searching.md)"


class EmbeddingStore:
    """``embeddings.sqlite``: the one class that writes it. ``read_only`` (a data folder that
    cannot be written): the store built before is read as it is, never brought up to date;
    with none, or none for this embedder, ``StorageError`` says to build it once where the
    folder is writable."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        if read_only and not path.is_file():
            raise StorageError(_needs_writable(path), "read-only")
        self.db = (
            _sqlite.connect(path, read_only=True, threads=True, damaged=_DAMAGED)
            if read_only
            else open_private(path, _SCHEMA, threads=True, damaged=_DAMAGED)
        )
        if not read_only:
            _add_mark_column(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> EmbeddingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embedder_id(self, embedder: Embedder) -> int:
        """The row for this embedder and version (made on first use)."""
        row = self.db.execute(
            "SELECT id FROM embedders WHERE name=? AND version=?",
            (embedder.name, embedder.version),
        ).fetchone()
        if row is not None:
            return int(row[0])
        if self.read_only:
            raise StorageError(_needs_writable(self.path, embedder.name), "read-only")
        cursor = self.db.execute(
            "INSERT INTO embedders (name, version, dim, created_at) VALUES (?, ?, ?, ?)",
            (embedder.name, embedder.version, embedder.dim, now_iso()),
        )
        return int(cursor.lastrowid or 0)

    def dim(self, eid: int) -> int:
        """How many numbers each of this embedder's vectors holds (recorded on first use)."""
        return int(self.db.execute("SELECT dim FROM embedders WHERE id=?", (eid,)).fetchone()[0])

    def check_width(self, eid: int, embedder: Embedder, width: int) -> None:
        """Refuse vectors of another width than the index holds: the model behind a
        provider's name was changed (its version cannot say so)."""
        held = self.dim(eid)
        if width != held:
            raise FreeholdError(
                f"{embedder.name} now returns {width} numbers, the index holds {held}: the model "
                f"behind this name changed — delete {self.path} to rebuild it (or give "
                "--embedder another name)"
            )

    def count(self, eid: int) -> int:
        return int(
            self.db.execute("SELECT count(*) FROM vectors WHERE embedder_id=?", (eid,)).fetchone()[
                0
            ]
        )

    def highest(self, eid: int) -> int:
        row = self.db.execute("SELECT max(message_id) FROM vectors WHERE embedder_id=?", (eid,))
        return int(row.fetchone()[0] or 0)

    def top(self, eid: int) -> tuple[int, bytes] | None:
        """The highest message id embedded and its text's digest; None for none."""
        row = self.db.execute(
            "SELECT message_id, digest FROM vectors WHERE embedder_id=? "
            "ORDER BY message_id DESC LIMIT 1",
            (eid,),
        ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def checked_source(self, eid: int) -> tuple[int, str]:
        """The last import a full pass compared with, and its mark (``_mark``)."""
        if not _has_mark_column(self.db):  # a read-only store made before the mark
            row = self.db.execute("SELECT checked_source FROM embedders WHERE id=?", (eid,))
            return int(row.fetchone()[0]), ""
        sql = "SELECT checked_source, checked_mark FROM embedders WHERE id=?"
        found = self.db.execute(sql, (eid,)).fetchone()
        return int(found[0]), str(found[1])

    def set_checked_source(self, eid: int, source: int, mark: str) -> None:
        self.db.execute(
            "UPDATE embedders SET checked_source=?, checked_mark=? WHERE id=?", (source, mark, eid)
        )

    def digests(self, eid: int, above: int) -> Iterator[tuple[int, bytes]]:
        """(message id, digest) above an id, in id order."""
        yield from self.db.execute(
            "SELECT message_id, digest FROM vectors WHERE embedder_id=? AND message_id>? "
            "ORDER BY message_id",
            (eid, above),
        )

    def put(
        self,
        eid: int,
        embedder: Embedder,
        ids: Sequence[int],
        digests: Sequence[bytes],
        vectors: Vectors,
    ) -> None:
        self.check_width(eid, embedder, int(vectors.shape[1]))
        rows = [
            (eid, mid, digest, vector.astype("<f2").tobytes())
            for mid, digest, vector in zip(ids, digests, vectors, strict=True)
        ]
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)

    def delete(self, eid: int, ids: Sequence[int]) -> None:
        with self._transaction():
            self.db.executemany(
                "DELETE FROM vectors WHERE embedder_id=? AND message_id=?",
                [(eid, mid) for mid in ids],
            )

    def matrix(self, eid: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Every message id and its vector (as float32, for a fast product), in id order.

        Kept for the process (the web app's threads share it) until the file changes: its
        stamp is the size and time of the database and its write-ahead log, which any commit,
        from any connection, moves."""
        key = (str(self.path), eid)
        stamp = _stamp(self.path)
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        with _snapshot(self.db):  # the count and the rows of one state of the file
            ids, vectors = self._read(eid, self.count(eid), self.dim(eid))
        with _CACHE_LOCK:
            _CACHE[key] = (stamp, ids, vectors)
        return ids, vectors

    def _read(self, eid: int, count: int, dim: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """The arrays made once at their final size and filled ``_CHUNK`` rows at a time: the
        peak is theirs and one chunk's bytes (about 1.0x them; reading every row first, then
        one joined buffer, then converting it held 2.1x)."""
        ids = np.empty(count, dtype=np.int64)
        vectors = np.empty((count, dim), dtype=np.float32)
        cursor = self.db.execute(
            "SELECT message_id, vector FROM vectors WHERE embedder_id=? ORDER BY message_id",
            (eid,),
        )
        done = 0
        while rows := cursor.fetchmany(_CHUNK):
            for mid, blob in rows:
                if len(blob) != 2 * dim:
                    raise self.damaged(mid, len(blob), dim)
            end = done + len(rows)
            ids[done:end] = [row[0] for row in rows]
            joined = b"".join(row[1] for row in rows)
            vectors[done:end] = np.frombuffer(joined, dtype="<f2").reshape(len(rows), dim)
            done = end
        return ids, vectors

    def damaged(self, mid: int, size: int, dim: int) -> ArchiveError:
        return ArchiveError(
            f"{self.path}: damaged, the vector of message {mid} holds {size} bytes, not "
            f"{2 * dim} — {_DAMAGED}"
        )

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self.db)


_CHUNK = 1024  # rows read at a time into the vectors (512 KiB of float16 at 256 dimensions)


@contextmanager
def _snapshot(db: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: statements inside it see one state of the database."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


_CACHE: dict[tuple[str, int], tuple[tuple[int, ...], Any, Any]] = {}
_CACHE_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple[int, ...]:
    found: list[int] = []
    for name in (path, path.with_name(path.name + "-wal")):
        try:
            info = name.stat()
        except OSError:
            found += [0, 0]
            continue
        found += [info.st_size, info.st_mtime_ns]
    return tuple(found)


def _has_mark_column(db: sqlite3.Connection) -> bool:
    return any(row[1] == "checked_mark" for row in db.execute("PRAGMA table_info(embedders)"))


def _add_mark_column(db: sqlite3.Connection) -> None:
    """A store made before ``checked_mark`` gets it, empty: its next build compares every
    message once (``_unmarked``)."""
    if not _has_mark_column(db):
        db.execute("ALTER TABLE embedders ADD COLUMN checked_mark TEXT NOT NULL DEFAULT ''")


def open_store(archive: Archive) -> EmbeddingStore:
    """The store beside ``archive`` (made on first use); read only where the archive is."""
    return EmbeddingStore(archive.home / STORE_NAME, read_only=archive.read_only)


def _needs_writable(path: Path, embedder: str | None = None) -> str:
    what = f"holds no vectors of the {embedder} embedder" if embedder else "is not there"
    return (
        f"search by meaning needs a writable data folder once: {path} {what}, "
        f"and {path.parent} is not writable — make it writable (or mount the disk "
        "read-write) and search by meaning once; after that it works read-only too"
    )


def _another_archive(path: Path) -> str:
    return (
        f"{path} was built from another archive, or an older or newer copy of this one (it "
        f"would find the wrong messages), and {path.parent} is not writable — make it "
        "writable and search by meaning once to compare it again"
    )


# -- building -----------------------------------------------------------------------------


@dataclass(slots=True)
class BuildReport:
    """What one ``build`` did."""

    embedder: str
    version: str
    dim: int
    checked: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    stored: int = 0
    seconds: float = 0.0
    full: bool = False
    not_searched: int = 0
    imports_unchecked: int = 0

    def notes(self) -> list[tuple[str, int]]:
        """``notice`` as codes and counts, for a page to phrase in its language:
        ``not_searched``, ``imports_unchecked``, then ``read_only`` when either is there."""
        found = [("not_searched", self.not_searched), ("imports_unchecked", self.imports_unchecked)]
        said = [(code, count) for code, count in found if count]
        return [*said, ("read_only", 0)] if said else []

    def notice(self) -> str | None:
        """The line a search over this store must show: the messages a read-only store could
        not take in (``not_searched``), which the search leaves out, and the imports since it
        was last compared with the archive (``imports_unchecked``), whose changed texts it
        searches by their earlier words; None when it is up to date."""
        said = []
        if self.not_searched:
            verb = "is" if self.not_searched == 1 else "are"
            said.append(
                f"{plural(self.not_searched, 'message')} newer than the meaning index {verb} "
                "not searched"
            )
        if self.imports_unchecked:
            said.append(
                f"{plural(self.imports_unchecked, 'import')} since the meaning index was built "
                "may have changed messages it searches by their earlier words"
            )
        if not said:
            return None
        return (
            f"{'; '.join(said)}: the data folder is read-only — make it writable and search by "
            "meaning once to bring the index up to date"
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


_SEARCHABLE = "m.role IN ('user', 'assistant') AND m.hidden = 0 AND trim(m.text) != ''"


def pending(archive: Archive, store: EmbeddingStore, embedder: Embedder) -> int:
    """How many messages are newer than the last one embedded: what ``build`` will embed at
    least (after an import it also compares the older ones, which costs reading, not
    embedding); every message where the index was built from another archive."""
    eid = store.embedder_id(embedder)
    above = store.highest(eid) if _same_archive(archive, store, eid) else 0
    sql = f"SELECT count(*) FROM messages m WHERE m.id > ? AND {_SEARCHABLE}"
    return int(archive.db.execute(sql, (above,)).fetchone()[0])


def _mark(db: sqlite3.Connection, source: int) -> str:
    """What identifies import ``source`` of an archive: its id, start time and file digest
    ("" for none). Another archive, or an older copy of this one, has no such row or
    another row under that id."""
    row = db.execute("SELECT started_at, sha256 FROM sources WHERE id=?", (source,)).fetchone()
    return f"{source} {row[0]} {row[1] or ''}" if row else ""


def _unmarked(checked: int, mark: str) -> bool:
    """A store made before ``checked_mark`` (the column added, empty, or absent where it is
    read only): a full pass compared it with an import, but nothing says which archive's."""
    return checked > 0 and not mark


def _same_archive(archive: Archive, store: EmbeddingStore, eid: int) -> bool:
    """Whether the index holds this archive as it grew: the import its last full pass
    compared with is still there, unchanged, and no vector is for a message id above the
    archive's highest. Not so (the archive was made again, restored from a backup, or
    copied from elsewhere beside this store), ids may name other messages now. A store not
    yet marked (``_unmarked``) is taken as it was taken before the mark: a writable one is
    compared in full at its next build (``build``), a read-only one searched as it is."""
    checked, mark = store.checked_source(eid)
    if mark != _mark(archive.db, checked) and not _unmarked(checked, mark):
        return False
    return _holds_its_top(archive, store, eid)


def _holds_its_top(archive: Archive, store: EmbeddingStore, eid: int) -> bool:
    """Whether the message of the highest id the index holds is in the archive with the text
    it was embedded from (one row each side). Chat turns make no ``sources`` row and ids are
    given again after a restore, so the mark alone passed an archive whose newest turns had
    taken the ids of turns the index held (review R6-4); an archive whose highest id is
    lower has no such message."""
    top = store.top(eid)
    if top is None:
        return True
    row = archive.db.execute(
        f"SELECT substr(text, 1, {EMBED_CHARS}) FROM messages WHERE id=?", (top[0],)
    ).fetchone()
    return row is not None and _digest(row[0]) == top[1]


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def build(
    archive: Archive,
    store: EmbeddingStore,
    embedder: Embedder,
    *,
    progress: Progress | None = None,
) -> BuildReport:
    """Embed what is new or changed since the last build (module docstring); nothing where
    the store is read only (what it holds is searched as it is, and the report counts the
    newer messages left out: ``BuildReport.notice``)."""
    started = time.monotonic()
    eid = store.embedder_id(embedder)
    checked, mark = store.checked_source(eid)
    same = _same_archive(archive, store, eid)
    if store.read_only:
        if not same:
            raise StorageError(_another_archive(store.path), "read-only")
        report = BuildReport(embedder.name, embedder.version, embedder.dim, stored=store.count(eid))
        report.not_searched = pending(archive, store, embedder)
        sql = "SELECT count(*) FROM sources WHERE id > ?"  # what a full pass would compare
        report.imports_unchecked = int(archive.db.execute(sql, (checked,)).fetchone()[0])
        return report
    source = int(archive.db.execute("SELECT coalesce(max(id), 0) FROM sources").fetchone()[0])
    # not the same archive, or none said which (unmarked): every message compared, by digest
    full = source > checked or not same or _unmarked(checked, mark)
    above = 0 if full else store.highest(eid)
    report = BuildReport(embedder.name, embedder.version, embedder.dim, full=full)
    total = int(
        archive.db.execute(
            f"SELECT count(*) FROM messages m WHERE m.id > ? AND {_SEARCHABLE}", (above,)
        ).fetchone()[0]
    )
    waiting = _Pending(store, eid, embedder, report)
    known = store.digests(eid, above)
    have = next(known, None)
    rows = archive.db.execute(
        f"SELECT m.id, substr(m.text, 1, {EMBED_CHARS}) FROM messages m "
        f"WHERE m.id > ? AND {_SEARCHABLE} ORDER BY m.id",
        (above,),
    )
    for mid, text in rows:
        while have is not None and have[0] < mid:  # stored, no longer searchable
            waiting.gone.append(have[0])
            have = next(known, None)
        digest = _digest(text)
        if have is not None and have[0] == mid:
            if have[1] != digest:
                waiting.add(mid, digest, text, new=False)
            have = next(known, None)
        else:
            waiting.add(mid, digest, text, new=True)
        report.checked += 1
        if progress is not None and report.checked % 256 == 0:
            progress(report.checked, total)
    while have is not None:
        waiting.gone.append(have[0])
        have = next(known, None)
    waiting.flush()
    if full:
        store.set_checked_source(eid, source, _mark(archive.db, source))
    if progress is not None:
        progress(report.checked, total)
    report.stored = store.count(eid)
    report.seconds = round(time.monotonic() - started, 3)
    return report


class _Pending:
    """Texts waiting for their vectors; written a batch at a time."""

    def __init__(
        self, store: EmbeddingStore, eid: int, embedder: Embedder, report: BuildReport
    ) -> None:
        self.store, self.eid, self.embedder, self.report = store, eid, embedder, report
        self.ids: list[int] = []
        self.digests: list[bytes] = []
        self.texts: list[str] = []
        self.gone: list[int] = []

    def add(self, mid: int, digest: bytes, text: str, *, new: bool) -> None:
        self.ids.append(mid)
        self.digests.append(digest)
        self.texts.append(text)
        if new:
            self.report.added += 1
        else:
            self.report.updated += 1
        if len(self.ids) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.ids:
            vectors = self.embedder.embed(self.texts)
            self.store.put(self.eid, self.embedder, self.ids, self.digests, vectors)
            self.ids, self.digests, self.texts = [], [], []
        if self.gone:
            self.store.delete(self.eid, self.gone)
            self.report.removed += len(self.gone)
            self.gone = []


# -- searching ----------------------------------------------------------------------------


def search(
    archive: Archive,
    store: EmbeddingStore,
    embedder: Embedder,
    query: str,
    *,
    limit: int = 20,
    source: str | None = None,
    model: str | None = None,
    role: str | None = None,
    since: str | None = None,
    until: str | None = None,
    conversation: str | None = None,
) -> list[_queries.Hit]:
    """The messages nearest in meaning to ``query``, best first, with the usual filters: only
    those with something in common with it (a score above 0)."""
    if not query.strip():
        raise FreeholdError("empty search — give words or a sentence to look for")
    asked = embedder.embed([query])[0]
    if not asked.any():  # the embedder found nothing in it: every score would be 0
        raise FreeholdError(
            f"nothing to search for in {query[:60]!r} — give one or more words "
            f"({embedder.name} finds none in it)"
        )
    eid = store.embedder_id(embedder)
    store.check_width(eid, embedder, len(asked))
    ids, vectors = store.matrix(eid)
    scores: npt.NDArray[np.float32] = vectors @ asked
    near = np.flatnonzero(scores > 0)  # nothing in common: not a hit, however few there are
    ids, scores = ids[near], scores[near]
    if not len(ids):
        return []
    where = _queries.filters(source, model, role, since, until, conversation)
    pool = min(len(ids), max(limit * 10, 100) if where[0] else limit)
    while True:
        best = _best(scores, pool)
        hits = _hits(archive.db, [int(ids[i]) for i in best], scores[best], where)
        if len(hits) >= limit or pool >= len(ids):
            return hits[:limit]
        pool = min(len(ids), pool * 8)


def _best(scores: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.intp]:
    if count >= len(scores):
        top = np.arange(len(scores))
    else:
        top = np.argpartition(-scores, count - 1)[:count]
    return top[np.argsort(-scores[top], kind="stable")]


def _hits(
    db: sqlite3.Connection,
    ids: list[int],
    scores: npt.NDArray[np.float32],
    where: tuple[str, list[Any]],
) -> list[_queries.Hit]:
    clause, params = where
    rows = db.execute(
        "SELECT m.id, m.conversation_id, c.title, m.role, coalesce(m.model, c.model), "
        "m.created_at, c.source_kind, substr(m.text, 1, 400), m.source_message_id "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        f"WHERE m.id IN (SELECT value FROM json_each(?)) {clause}",
        [_json_ids(ids), *params],
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    found = []
    for mid, score in zip(ids, scores, strict=True):
        row = by_id.get(mid)
        if row is not None:
            snippet = _snippet(row[7])
            hit = _queries.Hit(
                row[1], row[2], mid, row[3], row[4], row[5], row[6], snippet, [], float(score)
            )
            hit.revision = revision_of(row[8]) is not None  # the full-text search's rule
            found.append(hit)
    return found


def _json_ids(ids: list[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def _snippet(text: str, size: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1].rstrip() + "…"
