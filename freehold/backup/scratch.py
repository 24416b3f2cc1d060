"""Plaintext work space that is gone however the process ends.

A backup needs a consistent copy of the archive (SQLite writes it, so it must be a named
file), and a restore assembles its files before they are checked and moved into place. Both
live in a private scratch folder (0700) that is removed on the way out, and, should the
process be killed (``kill -9``, a crash), by a reaper: a small child process, in its own
session so that a signal to the parent's process group spares it, that waits for the parent
to close the pipe between them (the kernel does that when the parent dies, however it dies)
and then removes the folder. Only a power cut outlives both; the next command that uses the
same parent folder removes a scratch folder whose owner is no longer running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from freehold import _private

__all__ = ["scratch"]

_REAPER = (
    "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"
)


@contextmanager
def scratch(parent: Path, prefix: str) -> Iterator[Path]:
    """A new private folder ``parent/<prefix><pid>-…``, removed when the block ends or when
    this process dies."""
    _private.make_dirs(parent)
    _remove_stale(parent, prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    reaper = subprocess.Popen(
        [sys.executable, "-c", _REAPER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        assert reaper.stdin is not None
        reaper.stdin.close()
        reaper.wait()


def _remove_stale(parent: Path, prefix: str) -> None:
    for folder in parent.glob(f"{prefix}*"):
        pid = folder.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
