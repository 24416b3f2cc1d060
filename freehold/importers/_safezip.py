"""The only way importers read export files: a zip, an unpacked folder, or one file.

Every source is seen through ``ExportFiles``: member names are plain strings that are looked up,
never joined into file-system paths, and nothing is ever extracted to disk. A zip is checked
before anything is read: hostile names (``..``, absolute, drive letters, backslashes), symlink
members and duplicate names are set aside and reported; a zip bomb is refused by a cap on the
total uncompressed size and on each member's compression ratio, and a member that inflates past
its declared size is cut off while it is read (Python 3.11's zipfile has no such guard).
A folder is walked without following symlinks and nothing outside it is ever opened.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from freehold.errors import BadExportError, UnsafeArchiveError
from freehold.importers import _salvage

__all__ = [
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "DirFiles",
    "ExportFiles",
    "OneFile",
    "ZipFiles",
    "open_export",
]

MAX_TOTAL_BYTES = 64 << 30
MAX_RATIO = 200
_RATIO_FLOOR = 1 << 20
_MAX_MEMBERS = 1_000_000


class ExportFiles(Protocol):
    """Named, readable files of one export.

    ``rejected`` lists what was set aside and why; ``truncated`` says what a cut zip lost.
    """

    label: str
    rejected: list[tuple[str, str]]
    truncated: str | None

    def names(self) -> list[str]: ...

    def size(self, name: str) -> int: ...

    def open(self, name: str) -> IO[bytes]: ...

    def close(self) -> None: ...


def _hostile(name: str) -> str | None:
    if "\\" in name:
        return "backslash in member name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute member name"
    if any(part in ("..", "") for part in name.rstrip("/").split("/")):
        return "'..' or empty component in member name"
    if "\x00" in name:
        return "NUL byte in member name"
    return None


class _Capped:
    """A reader that refuses to give more bytes than the zip declared for the member."""

    def __init__(self, raw: IO[bytes], limit: int, label: str) -> None:
        self._raw = raw
        self._left = limit
        self._label = label

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n if n is not None and n >= 0 else self._left + 1)
        self._left -= len(data)
        if self._left < 0:
            raise UnsafeArchiveError(
                f"{self._label}: inflates past its declared size (zip bomb?) — do not import it"
            )
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _Capped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZipFiles:
    """A zip export, checked for safety when opened."""

    def __init__(self, path: Path) -> None:
        self.label = path.name
        self.rejected: list[tuple[str, str]] = []
        self._path = path
        self._zip: zipfile.ZipFile | None = None
        self.truncated: str | None = None
        self._partial: str | None = None
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            infos = self._salvage(path, error)
        self._members = self._check(infos)

    def _salvage(self, path: Path, error: Exception) -> list[zipfile.ZipInfo]:
        """No central directory (a cut download): recover the members before the cut."""
        with path.open("rb") as handle:
            found = _salvage.scan(handle, path.stat().st_size, MAX_RATIO)
        if not found.members and found.partial is None:
            raise BadExportError(
                f"{path.name}: not a readable zip ({error}; truncated download?) "
                "— download the export again"
            ) from error
        cut = found.partial.filename if found.partial else "the last member"
        self.truncated = (
            f"truncated zip (no central directory): {len(found.members)} complete member(s) "
            f"recovered; {cut} is cut off (read up to the cut) and anything after it is lost "
            "— download the export again"
        )
        self._partial = found.partial.filename if found.partial else None
        return found.members + ([found.partial] if found.partial else [])

    def _check(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        if len(infos) > _MAX_MEMBERS:
            raise UnsafeArchiveError(f"{self.label}: more than {_MAX_MEMBERS} members; refused")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            reason = self._reject_reason(info, members)
            if reason:
                self.rejected.append((info.filename, reason))
                continue
            total += info.file_size
            members[info.filename] = info
        if total > MAX_TOTAL_BYTES:
            raise UnsafeArchiveError(
                f"{self.label}: would inflate to {total / 2**30:.1f} GiB "
                f"(limit {MAX_TOTAL_BYTES >> 30} GiB; zip bomb?) — refused"
            )
        return members

    def _reject_reason(self, info: zipfile.ZipInfo, seen: dict[str, zipfile.ZipInfo]) -> str:
        name = info.filename
        if info.is_dir():
            return "" if _hostile(name) is None else "hostile directory name"
        hostile = _hostile(name)
        if hostile:
            return hostile
        if stat.S_ISLNK(info.external_attr >> 16):
            return "symlink member"
        if name in seen:
            return "duplicate member name; the first was kept"
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > MAX_RATIO and name != self._partial:
            return f"compression ratio over {MAX_RATIO}:1 (zip bomb?)"
        return ""

    def names(self) -> list[str]:
        return list(self._members)

    def size(self, name: str) -> int:
        return self._members[name].file_size

    def open(self, name: str) -> IO[bytes]:
        info = self._members[name]
        try:
            if self._zip is not None:
                raw = self._zip.open(info)
            else:
                raw = _salvage.open_member(self._path.open("rb"), info)
        except (zipfile.BadZipFile, OSError, NotImplementedError) as error:
            raise BadExportError(f"{self.label}/{name}: cannot be read ({error})") from error
        return _Capped(raw, info.file_size, f"{self.label}/{name}")  # type: ignore[return-value]

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


class DirFiles:
    """An unpacked export folder; symlinks are never followed."""

    def __init__(self, path: Path) -> None:
        self.label = path.name or str(path)
        self.rejected: list[tuple[str, str]] = []
        self.truncated: str | None = None
        self._root = path
        self._sizes = dict(self._walk(path, ""))

    def _walk(self, folder: Path, prefix: str) -> Iterator[tuple[str, int]]:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = prefix + entry.name
                if entry.is_symlink():
                    self.rejected.append((name, "symlink; not followed"))
                elif entry.is_dir(follow_symlinks=False):
                    yield from self._walk(Path(entry.path), name + "/")
                elif entry.is_file(follow_symlinks=False):
                    yield name, entry.stat(follow_symlinks=False).st_size

    def names(self) -> list[str]:
        return list(self._sizes)

    def size(self, name: str) -> int:
        return self._sizes[name]

    def open(self, name: str) -> IO[bytes]:
        if name not in self._sizes:
            raise KeyError(name)
        return (self._root / name).open("rb")

    def close(self) -> None:
        return None


class OneFile:
    """A single JSON file given on its own."""

    def __init__(self, path: Path) -> None:
        self.label = path.name
        self.rejected: list[tuple[str, str]] = []
        self.truncated: str | None = None
        self._path = path

    def names(self) -> list[str]:
        return [self._path.name]

    def size(self, name: str) -> int:
        return self._path.stat().st_size

    def open(self, name: str) -> IO[bytes]:
        return self._path.open("rb")

    def close(self) -> None:
        return None


def open_export(path: Path) -> ExportFiles:
    """Open ``path`` as a zip, a folder or a single file, by what it is on disk."""
    if path.is_dir():
        return DirFiles(path)
    if not path.is_file():
        raise BadExportError(f"{path}: no such file or folder — check the path")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"PK":
        return ZipFiles(path)
    return OneFile(path)
