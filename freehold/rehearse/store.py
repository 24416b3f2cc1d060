"""``rehearsals.sqlite``: rehearsal runs, kept apart from the history.

A rehearsal's answers are not the person's history: they live in their own file in the data
folder, never in ``archive.sqlite`` (no conversation, search hit or export ever shows them),
and deleting the file forgets every run. Tables, readable with ``sqlite3``:

- ``runs``: one row per run: its options (JSON), the embedder that scored it, when it started
  and finished, and its summary (JSON: each candidate's score) once scored;
- ``cases``: the prompts of a run, in order: message and conversation ids, the prompt, the
  original answer and its model, the strata the sampler saw (JSON), pinned or not;
- ``answers``: every answer got, keyed by a digest of exactly what was sent (model, system,
  turns, limit, repeat number): the cache. A run cut short, run again, asks only for what is
  missing; a failed answer is kept for the report but never reused;
- ``results``: the scores of each (run, case, candidate) as JSON, and which answers they read.

Several threads write answers as they come: writes go through one lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from freehold._sqlite import open_private, transaction
from freehold.archive import now_iso

__all__ = ["STORE_NAME", "Reply", "RunStore", "worst_first"]

STORE_NAME = "rehearsals.sqlite"

_SCHEMA = """
    CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY,
        plan TEXT NOT NULL,
        options TEXT NOT NULL,
        embedder TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        summary TEXT
    );
    CREATE TABLE IF NOT EXISTS cases (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        position INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        conversation_id TEXT NOT NULL,
        title TEXT,
        prompt TEXT NOT NULL,
        original TEXT NOT NULL,
        original_model TEXT,
        strata TEXT NOT NULL,
        pinned INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE IF NOT EXISTS answers (
        key TEXT PRIMARY KEY,
        ref TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        status TEXT NOT NULL,
        text TEXT NOT NULL,
        provider TEXT,
        served_model TEXT,
        tokens_in INTEGER,
        tokens_out INTEGER,
        ms INTEGER,
        cost_usd REAL,
        error TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS results (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        position INTEGER NOT NULL,
        ref TEXT NOT NULL,
        answers TEXT NOT NULL,
        scores TEXT NOT NULL,
        PRIMARY KEY (run_id, position, ref)
    );
"""


@dataclass(slots=True)
class Reply:
    """One answer as stored (a candidate's, or a judge's)."""

    key: str
    ref: str
    repeat: int
    status: str
    text: str
    provider: str | None = None
    served_model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    ms: int | None = None
    cost_usd: float | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        """An answer to score and to keep: one that came (whole or cut at its token limit)
        and holds text. The one rule: what is not usable scores 0 (``score.py``) and is asked
        again on the next run (``RunStore.cached``)."""
        return self.status in _USABLE and bool(self.text.strip())

    @property
    def outcome(self) -> str:
        """What a reader is told of it, by the same rule as ``usable``: ``empty`` for one that
        came (complete or incomplete) without text, else its status."""
        return "empty" if self.status in _USABLE and not self.usable else self.status

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_USABLE = ("complete", "incomplete")  # not failed, nor interrupted (a stop)
_REPLY_COLUMNS = [f.name for f in fields(Reply)]


# What to do with a damaged file: it holds rehearsals only, never the history.
_DAMAGED = (
    "move it away (or delete it): a new one is started, without the rehearsals kept in it "
    "(docs/rehearse.md)"
)


class RunStore:
    """The rehearsal file; the one class that writes it. ``create=False``: for reading only
    (the web pages): nothing is made nor switched to WAL, a folder this process cannot write
    is read as it is, and a file not there reads as no run (``open_private``'s rule)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.db = open_private(  # writes: _lock
            path, _SCHEMA, threads=True, damaged=_DAMAGED, create=create
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self.db):
            yield self.db

    def start(self, plan: str, options: dict[str, Any], embedder: str, cases: list[Any]) -> int:
        """A run for ``plan``: the unfinished one of the same plan when there is one (a run
        cut short goes on), else a new one with its cases."""
        row = self.db.execute(
            "SELECT id FROM runs WHERE plan=? AND finished_at IS NULL ORDER BY id DESC", (plan,)
        ).fetchone()
        if row is not None:
            return int(row[0])
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO runs (plan, options, embedder, started_at) VALUES (?, ?, ?, ?)",
                (plan, _dumps(options), embedder, now_iso()),
            )
            run = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run,
                        c.position,
                        c.message_id,
                        c.conversation_id,
                        c.title,
                        c.prompt,
                        c.original,
                        c.original_model,
                        _dumps(c.strata),
                        int(c.pinned),
                    )
                    for c in cases
                ],
            )
        return run

    def cached(self, key: str) -> Reply | None:
        """A usable answer (``Reply.usable``) already got for exactly this request; any other
        is asked again."""
        row = self.db.execute(
            f"SELECT {', '.join(_REPLY_COLUMNS)} FROM answers WHERE key=?", (key,)
        ).fetchone()
        reply = None if row is None else Reply(*row)
        return reply if reply is not None and reply.usable else None

    def keep(self, reply: Reply) -> None:
        marks = ", ".join("?" * (len(_REPLY_COLUMNS) + 1))
        values = [getattr(reply, name) for name in _REPLY_COLUMNS]
        with self._write() as db:
            db.execute(
                f"INSERT OR REPLACE INTO answers ({', '.join(_REPLY_COLUMNS)}, created_at) "
                f"VALUES ({marks})",
                [*values, now_iso()],
            )

    def finish(
        self, run: int, results: list[tuple[int, str, list[str], dict[str, Any]]], summary: Any
    ) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                [(run, pos, ref, _dumps(keys), _dumps(s)) for pos, ref, keys, s in results],
            )
            db.execute(
                "UPDATE runs SET finished_at=?, summary=? WHERE id=?",
                (now_iso(), _dumps(summary), run),
            )

    def runs(self, run: int | None = None) -> list[dict[str, Any]]:
        """Every run (or the one asked for), newest first: id, when, options, summary and the
        number of prompts it rehearsed (``cases``: ``options`` holds the ``--sample`` asked for,
        which an archive with fewer prompts does not fill)."""
        rows = self.db.execute(
            "SELECT id, started_at, finished_at, options, embedder, summary, "
            "(SELECT count(*) FROM cases WHERE run_id = runs.id) FROM runs "
            "WHERE ?1 IS NULL OR id = ?1 ORDER BY id DESC",
            (run,),
        )
        return [
            {
                "id": row[0],
                "started_at": row[1],
                "finished_at": row[2],
                "options": orjson.loads(row[3]),
                "embedder": row[4],
                "summary": orjson.loads(row[5]) if row[5] else None,
                "cases": row[6],
            }
            for row in rows
        ]

    def document(self, run: int) -> dict[str, Any] | None:
        """A finished run as ``report.document`` shapes it (worst drift first), or None."""
        found = self.runs(run)
        if not found or found[0]["summary"] is None:
            return None
        scores: dict[int, dict[str, Any]] = {}
        for position, ref, text in self.db.execute(
            "SELECT position, ref, scores FROM results WHERE run_id=? ORDER BY rowid", (run,)
        ):
            scores.setdefault(position, {})[ref] = orjson.loads(text)
        cases = [
            {**_case(row), "answers": scores.get(row[0], {})}
            for row in self.db.execute(
                "SELECT position, message_id, conversation_id, title, prompt, original, "
                "original_model, strata, pinned FROM cases WHERE run_id=?",
                (run,),
            )
        ]
        cases.sort(key=worst_first)
        return {"run": found[0], "candidates": found[0]["summary"], "cases": cases}


def _case(row: tuple[Any, ...]) -> dict[str, Any]:
    names = ("position", "message_id", "conversation_id", "title", "prompt", "original")
    found = dict(zip(names, row[:6], strict=True))
    found.update(original_model=row[6], strata=orjson.loads(row[7]), pinned=bool(row[8]))
    return found


def worst_first(case: dict[str, Any]) -> tuple[float, int]:
    """The order of a report's cases: the lowest score of any candidate first."""
    known = [r["score"] for r in case["answers"].values() if r.get("score") is not None]
    return (min(known) if known else 101.0, case["position"])


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
