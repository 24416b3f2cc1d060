"""Whose fault an error is that no command caught: the disk's, or freehold's own.

One rule for the command line's last net (``cli._base``) and the web app (``web/app.py``):

- the disk's, the folder's or another program's (``is_bug`` false): every ``OSError``, and a
  SQLite error whose result code says so (busy, locked, read-only, full, I/O, cannot open,
  damaged, no permission, out of memory: ``storage.STORAGE_CODES``, the one table of them
  that ``storage.sqlite_failure`` and a damaged file's line read too). These are one line
  saying what to check; no traceback, which would not help;
- freehold's own bug: any other SQLite error (a constraint, a misuse, SQL that does not run:
  ``IntegrityError``, ``ProgrammingError``, ``InterfaceError``, an ``OperationalError`` of
  ``SQLITE_ERROR``), or any other exception that is not a ``FreeholdError``. Telling the
  person to check the disk would send them after nothing, so ``reported`` writes the
  traceback to ``logs/bug-<time>.txt`` in the data folder and the line names that file and asks
  for a report. With ``FREEHOLD_DEBUG=1``, or when that file cannot be written (a read-only
  folder), the traceback goes to stderr instead.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from freehold import _private, storage
from freehold.errors import FreeholdError

__all__ = ["BugError", "is_bug", "reported"]

_REPORT = "a freehold bug — please report it"


class BugError(FreeholdError):
    """An error that is freehold's own fault, told as one line once its traceback is kept."""


def is_bug(error: BaseException) -> bool:
    """Whether ``error`` is freehold's own fault rather than the disk's (module docstring)."""
    if isinstance(error, FreeholdError | OSError):
        return False
    if isinstance(error, sqlite3.Error):
        return storage.sqlite_code(error) not in storage.STORAGE_CODES
    return isinstance(error, Exception)


def reported(error: BaseException, home: Path | None) -> BugError:
    """The line for a bug, its traceback kept in ``home``'s ``logs`` (or on stderr)."""
    text = "".join(traceback.format_exception(error))
    what = f"{type(error).__name__}: {error}"
    debug = os.environ.get("FREEHOLD_DEBUG") == "1"
    kept = None if debug or home is None else _keep(text, home)
    if kept is None:
        sys.stderr.write(text)
        return BugError(f"{_REPORT}: {what}")
    return BugError(f"{_REPORT} with {kept}: {what}")


def _keep(text: str, home: Path) -> Path | None:
    """``text`` in a new file of ``home/logs``; None when it cannot be written there."""
    logs = home / "logs"
    name = datetime.now(UTC).strftime("bug-%Y%m%dT%H%M%S%fZ.txt")
    try:
        _private.make_dirs(logs)
        with _private.open_new(logs / name) as handle:
            handle.write(text.encode())
    except OSError:
        return None
    return logs / name
