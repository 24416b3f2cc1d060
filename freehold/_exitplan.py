"""The exit plan's rows: their value types and the SQL the archive runs for them.

Two tables (migration m008, docs/archive-format.md): ``exit_platforms``, the platforms in a
person's plan, and ``exit_exports``, every export file recorded for one of them, its bytes kept
in ``vault/`` under its SHA-256. The same file recorded twice for a platform is one row (with
the later of the two export dates). A
platform taken out of the plan is marked ``removed_at``, never deleted, so its recorded
exports keep their platform; adding it again brings it back with them. ``Archive`` calls these
functions inside its transactions; ``freehold/exits.py`` holds the plan's logic.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from freehold.errors import NotFoundError

__all__ = [
    "ExportRecord",
    "PlanEntry",
    "add_export",
    "entries",
    "entry",
    "exports",
    "link_import",
    "remove",
    "save",
]


@dataclass(frozen=True)
class PlanEntry:
    """A platform in the plan: ``catalogue_id`` is None for a platform of the person's own."""

    id: str
    name: str
    catalogue_id: str | None
    cadence_days: int
    export_where: str | None = None
    note: str | None = None
    added_at: str = ""
    removed_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExportRecord:
    """One export file kept in the vault for a platform (``contents``: a container's members,
    see ``formats.Sniffed.contents``; ``source_id``: the import it fed, for an AI export)."""

    id: int
    platform_id: str
    sha256: str
    file_name: str
    size: int
    format: str
    mime: str | None
    open: bool
    contents: dict[str, Any] | None
    exported_at: str
    recorded_at: str
    source_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_ENTRY_COLUMNS = "id, name, catalogue_id, cadence_days, export_where, note, added_at, removed_at"
_EXPORT_COLUMNS = (
    "id, platform_id, sha256, file_name, size, format, mime, open, contents, exported_at, "
    "recorded_at, source_id"
)


def _entry(row: tuple[Any, ...]) -> PlanEntry:
    return PlanEntry(*row)


def _export(row: tuple[Any, ...]) -> ExportRecord:
    values = list(row)
    values[7] = bool(values[7])
    values[8] = orjson.loads(values[8]) if values[8] else None
    return ExportRecord(*values)


def entries(db: sqlite3.Connection, *, removed: bool = False) -> list[PlanEntry]:
    """The platforms in the plan by name (with ``removed``: those taken out too)."""
    where = "" if removed else "WHERE removed_at IS NULL"
    rows = db.execute(f"SELECT {_ENTRY_COLUMNS} FROM exit_platforms {where} ORDER BY name, id")
    return [_entry(row) for row in rows]


def entry(db: sqlite3.Connection, platform_id: str) -> PlanEntry | None:
    """A platform of the plan, taken out or not; None when it was never added."""
    row = db.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM exit_platforms WHERE id = ?", (platform_id,)
    ).fetchone()
    return _entry(row) if row else None


def save(db: sqlite3.Connection, wanted: PlanEntry) -> str:
    """Add ``wanted`` to the plan, or update it there; ``added``, ``updated`` or ``restored``
    (it had been taken out; its exports come back with it)."""
    found = entry(db, wanted.id)
    db.execute(
        "INSERT INTO exit_platforms (id, name, catalogue_id, cadence_days, export_where, note, "
        "added_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "name=excluded.name, cadence_days=excluded.cadence_days, "
        "export_where=excluded.export_where, note=excluded.note, removed_at=NULL",
        (
            wanted.id,
            wanted.name,
            wanted.catalogue_id,
            wanted.cadence_days,
            wanted.export_where,
            wanted.note,
            wanted.added_at,
        ),
    )
    if found is None:
        return "added"
    return "restored" if found.removed_at else "updated"


def remove(db: sqlite3.Connection, platform_id: str, when: str) -> int:
    """Take a platform out of the plan; returns how many recorded exports it keeps."""
    cursor = db.execute(
        "UPDATE exit_platforms SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
        (when, platform_id),
    )
    if cursor.rowcount == 0:
        raise NotFoundError(
            f"{platform_id!r} is not in your exit plan — `freehold exits list` shows it"
        )
    row = db.execute("SELECT count(*) FROM exit_exports WHERE platform_id = ?", (platform_id,))
    return int(row.fetchone()[0])


def add_export(
    db: sqlite3.Connection, values: dict[str, Any]
) -> tuple[ExportRecord, bool, str | None]:
    """Record an export (``values``: every column but ``id``). The same file recorded for the
    same platform again is the same row, but a later export date moves its date forward: the
    same content exported again later (nothing changed on the platform) is a fresh export, and
    the plan is not overdue. Returns the row, whether it is new, and the date it had before
    when the date moved (else None)."""
    columns = _EXPORT_COLUMNS.split(", ")[1:]
    stored = {**values, "contents": _json(values.get("contents")), "open": int(values["open"])}
    key = (values["platform_id"], values["sha256"])
    before = db.execute(
        "SELECT exported_at FROM exit_exports WHERE platform_id = ? AND sha256 = ?", key
    ).fetchone()
    cursor = db.execute(
        f"INSERT OR IGNORE INTO exit_exports ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        [stored.get(column) for column in columns],
    )
    moved = None
    if before is not None and str(values["exported_at"]) > str(before[0]):
        db.execute(
            "UPDATE exit_exports SET exported_at = ? WHERE platform_id = ? AND sha256 = ?",
            (values["exported_at"], *key),
        )
        moved = str(before[0])
    row = db.execute(
        f"SELECT {_EXPORT_COLUMNS} FROM exit_exports WHERE platform_id = ? AND sha256 = ?", key
    ).fetchone()
    return _export(row), cursor.rowcount == 1, moved


def _json(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


def exports(db: sqlite3.Connection, platform_id: str | None = None) -> list[ExportRecord]:
    """Recorded exports, newest first (by the export's date), of one platform or all."""
    where, params = ("WHERE platform_id = ?", (platform_id,)) if platform_id else ("", ())
    rows = db.execute(
        f"SELECT {_EXPORT_COLUMNS} FROM exit_exports {where} ORDER BY exported_at DESC, id DESC",
        params,
    )
    return [_export(row) for row in rows]


def link_import(db: sqlite3.Connection, export_id: int, source_id: int) -> None:
    """Note which import an AI export fed (``sources.id``)."""
    db.execute("UPDATE exit_exports SET source_id = ? WHERE id = ?", (source_id, export_id))
