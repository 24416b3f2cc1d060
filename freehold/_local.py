"""SQL for turns written here (``freehold chat``): their requests, attempts and visible path.

Only ``archive.py`` and ``_queries.py`` call into this module. A local turn is stored in
``messages`` like an imported one, with ``origin = 'local'``, as a branch under the message it
continued; an imported message's content never changes, only which path is visible. The
answer's ``Generation`` (what was asked of which provider, what answered) goes to
``generations`` and each of its tries to ``attempts`` (migration m007, archive-format.md).

The visible path is the chain from the current leaf to its root: ``show_path`` sets it after a
turn, and after a re-import of a conversation that holds local turns (the newer of the
export's leaf and the local leaf is shown; the other stays a branch).
"""

from __future__ import annotations

import sqlite3

import orjson

from freehold.models import Attempt, Generation, thread_counts

__all__ = ["generations", "has_local", "show_path", "write_generation"]

_ATTEMPT_COLUMNS = (
    "provider, model, outcome, fault, error, ms, waited_ms, tokens_in, tokens_out, "
    "served_model, started_at"
)


def write_generation(db: sqlite3.Connection, message_id: int, generation: Generation) -> None:
    """Keep how an answer was got; a message that has one already keeps it (never changes)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            generation.provider,
            generation.requested_model,
            generation.served_model,
            generation.target,
            generation.finish_reason,
            generation.tokens_in,
            generation.tokens_out,
            orjson.dumps(generation.warnings).decode() if generation.warnings else None,
        ),
    )
    if cursor.rowcount == 0:
        return
    db.executemany(
        f"INSERT INTO attempts (message_id, seq, {_ATTEMPT_COLUMNS}) "
        f"VALUES ({', '.join('?' * 13)})",
        [(message_id, seq, *_attempt_row(a)) for seq, a in enumerate(generation.attempts)],
    )


def _attempt_row(a: Attempt) -> tuple[object, ...]:
    return (
        a.provider,
        a.model,
        a.outcome,
        a.fault,
        a.error,
        a.ms,
        a.waited_ms,
        a.tokens_in,
        a.tokens_out,
        a.served_model,
        a.started_at,
    )


def generations(db: sqlite3.Connection, cid: str) -> dict[int, Generation]:
    """Every stored generation of a conversation's messages, by message id."""
    found: dict[int, Generation] = {}
    for row in db.execute(
        "SELECT g.message_id, g.provider, g.requested_model, g.served_model, g.target, "
        "g.finish_reason, g.tokens_in, g.tokens_out, g.warnings FROM generations g "
        "JOIN messages m ON m.id = g.message_id WHERE m.conversation_id = ?",
        (cid,),
    ):
        found[row[0]] = Generation(
            provider=row[1],
            requested_model=row[2],
            served_model=row[3],
            target=row[4],
            finish_reason=row[5],
            tokens_in=row[6],
            tokens_out=row[7],
            warnings=orjson.loads(row[8]) if row[8] else [],
        )
    if found:
        _attach_attempts(db, cid, found)
    return found


def _attach_attempts(db: sqlite3.Connection, cid: str, found: dict[int, Generation]) -> None:
    for row in db.execute(
        f"SELECT a.message_id, {', '.join('a.' + c for c in _ATTEMPT_COLUMNS.split(', '))} "
        "FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ? "
        "ORDER BY a.message_id, a.seq",
        (cid,),
    ):
        (
            message_id,
            provider,
            model,
            outcome,
            fault,
            error,
            ms,
            waited,
            t_in,
            t_out,
            served,
            at,
        ) = row
        generation = found.get(message_id)
        if generation is not None:
            generation.attempts.append(
                Attempt(provider, model, outcome, error, fault, ms, t_in, t_out, served, at, waited)
            )


def has_local(db: sqlite3.Connection, cid: str) -> bool:
    return bool(
        db.execute(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? "
            "AND origin IS NOT NULL)",
            (cid,),
        ).fetchone()[0]
    )


def show_path(db: sqlite3.Connection, cid: str, leaf: int | None) -> None:
    """Make ``leaf`` the conversation's current leaf: the chain up to its root is the visible
    path (only the rows whose flag changes are written), and the counts follow."""
    db.execute(
        "WITH RECURSIVE up(id) AS (SELECT ?1 UNION ALL SELECT m.parent_id FROM messages m "
        "JOIN up ON m.id = up.id WHERE m.parent_id IS NOT NULL) "
        "UPDATE messages SET on_visible_path = (id IN (SELECT id FROM up)) "
        "WHERE conversation_id = ?2 AND on_visible_path != (id IN (SELECT id FROM up))",
        (leaf, cid),
    )
    rows = db.execute(
        "SELECT id, source_message_id, parent_id FROM messages WHERE conversation_id = ?", (cid,)
    ).fetchall()
    ids: dict[str, int] = {row[1]: row[0] for row in rows}
    parents: dict[int, int | None] = {row[0]: row[2] for row in rows}
    db.execute(
        "UPDATE conversations SET current_leaf = ?, message_count = ?, branch_count = ? "
        "WHERE id = ?",
        (leaf, *thread_counts(ids, parents, leaf), cid),
    )
