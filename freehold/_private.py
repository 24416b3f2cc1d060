"""The data folder is private to its user: every folder freehold makes there is 0700, every
file 0600 (before the umask, which can only make them stricter).

One rule, applied where a thing is made, never by a later sweep: ``make_dirs`` for folders,
``open_new`` and ``create`` for files, ``replace`` for a file written whole (config.toml, a
report) in place of the one before. The archive's database is created by ``create`` before
SQLite opens it, and SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the database's
own mode; blobs and other temporary files come from ``tempfile``, which makes them 0600 too.

A folder the user made before (``FREEHOLD_HOME`` pointing at an existing folder) keeps its own
mode: they chose it, and may share it on purpose (a group folder, a synced folder); what
freehold writes inside is private all the same. Files written by an earlier freehold keep
theirs (``chmod -R go= <data folder>`` makes them private). On Windows these modes only set
the read-only flag; the folder has the access rules of the user's profile.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "create",
    "make_dirs",
    "open_new",
    "replace",
    "write_new",
]

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents, each 0700; returns the folders it made,
    outermost first (none when ``path`` is already a folder: one ``stat``); on a failure,
    none."""
    missing: list[Path] = []
    folder = path
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=FOLDER_MODE)
            except FileExistsError:
                if not folder.is_dir():
                    raise
                continue  # made by another process meanwhile: not ours
            made.append(folder)
    except OSError:
        for folder in reversed(made):  # a failure part way leaves none of ours behind
            with contextlib.suppress(OSError):  # (unless another process wrote there)
                folder.rmdir()
        raise
    return made


def open_new(path: Path) -> IO[bytes]:
    """A new file, 0600, open for writing; refuses a path that exists (even as a link)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb")


def write_new(path: str, data: bytes) -> None:
    """``open_new`` and write ``data``, without a file object (the blob folder's hot path)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:  # a full disk: the new file goes, never a part of it stays
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def create(path: Path) -> None:
    """An empty file, 0600, unless one is already there."""
    try:
        open_new(path).close()
    except FileExistsError:
        return


def replace(path: Path, data: bytes) -> None:
    """``path`` written whole, 0600: ``data`` goes to a new file beside it, which is then
    renamed over it, so a reader finds the old file or the new one, never a part. The
    folder is made (``make_dirs``) when missing; a cut leaves the old file as it was. A
    write the disk refuses is ``storage.failure``'s one line, naming ``path``."""
    from freehold import storage  # here: storage's errors module must not wait on this one

    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with storage.guarded(path):
        make_dirs(path.parent)
        temporary.unlink(missing_ok=True)  # left by a process of the same id, cut short
    try:
        with open_new(temporary) as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise storage.failure(error, path) from error
        raise
