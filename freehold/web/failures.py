"""``answer(error)``: the one place the web app turns an error into a status, the line the page
shows and its headers (``app._error`` answers every request with it; the import form shows it).

What each error is answered with (docs/web.md; the choices in docs/decisions.md, 2026-12-07)::

    NotFoundError                      404  its line
    ImportRunningError                      409  its line (another import from this page runs)
    StorageError  busy                 503  a plain line, Retry-After: 5 (another command
                                            writes; reading works meanwhile)
                  read-only            409  its line: writing conflicts with the archive's
                                            state here until the person makes it writable;
                                            waiting does not help, so not 503
                  full                 507  its line (Insufficient Storage)
                  io, path, write      500  its line
    ArchiveError                       500  its line (damaged, or changed while read)
    BugError                           500  its line: freehold's own bug, the file in the
                                            data folder's logs its traceback went to
                                            (``faults``: ``app._error`` makes it)
    any other FreeholdError            400  its line (what was asked cannot be done)
    HTTPException                      its own status and detail
    OSError, a SQLite storage error    500  the error, "check the data folder and the disk"
    anything else                      500  "Internal error" (the traceback goes to the log)

The lines are freehold's one-line messages, never a traceback.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException

from freehold.errors import ArchiveError, FreeholdError, NotFoundError, StorageError
from freehold.faults import BugError
from freehold.web.imports import ImportRunningError

__all__ = ["BUSY", "RETRY_AFTER", "Answer", "answer"]

BUSY = "the archive is busy — another freehold command is writing; try again in a moment"
RETRY_AFTER = 5  # seconds: about one batch of a running import (each batch is its own commit)

_STORAGE = {"busy": 503, "read-only": 409, "full": 507, "io": 500, "path": 500, "write": 500}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)


def answer(error: Exception) -> Answer:
    """The status, the line and the headers for ``error``."""
    if isinstance(error, StorageError):
        return _storage(error)
    if isinstance(error, NotFoundError):
        return Answer(404, str(error))
    if isinstance(error, ImportRunningError):
        return Answer(409, str(error))
    if isinstance(error, ArchiveError | BugError):
        return Answer(500, str(error))
    if isinstance(error, FreeholdError):
        return Answer(400, str(error))
    if isinstance(error, HTTPException):
        return Answer(error.status_code, str(error.detail), dict(error.headers or {}))
    if isinstance(error, OSError | sqlite3.Error):  # faults.is_bug: not freehold's own
        return Answer(500, f"{error} — check the files in the data folder and the disk")
    return Answer(500, "Internal error")


def _storage(error: StorageError) -> Answer:
    if error.kind == "busy":
        return Answer(503, BUSY, {"retry-after": str(RETRY_AFTER)})
    return Answer(_STORAGE.get(error.kind, 500), str(error))
