"""Profiles on disk: plain files in the data folder, every version kept, readable with ``cat``.

::

    profiles/
      work/
        v0001.md        version 1, as created (front matter + Markdown body)
        v0002.md        version 2, after an edit; the highest number is the current one
        review.json     keep/strike decisions on flagged text, by fingerprint (never the text)

A version file is never rewritten: a new one is linked into place only if its name is free
(``os.link`` fails on an existing name), so two saves at once cannot overwrite each other and a
crash leaves either the whole file or none. A disk without hard links (FAT, exFAT) claims the
name with an empty file instead, which the whole one then replaces. Names are letters, digits,
``-`` and ``_``, but not the names Windows keeps for devices (``CON``, ``NUL``, ``COM1``, …): a
data folder may move there. A write the disk refuses is ``storage.failure``'s one line.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from freehold import storage
from freehold._private import FILE_MODE, make_dirs, open_new, replace
from freehold.archive import home_dir
from freehold.errors import FreeholdError, NotFoundError
from freehold.profiles.document import Profile, parse, render

__all__ = [
    "decisions",
    "folder",
    "keep_rejected",
    "names",
    "read",
    "remember",
    "root",
    "save",
    "versions",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_VERSION = re.compile(r"v(\d{4,})\.md")
_DEVICE = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])", re.IGNORECASE)
# What a file system without hard links answers to ``os.link``.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def root() -> Path:
    return home_dir() / "profiles"


def folder(name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise FreeholdError(
            f"{name!r}: not a profile name — use letters, digits, '-' and '_' (64 at most)"
        )
    if _DEVICE.fullmatch(name):
        raise FreeholdError(f"{name!r}: a name Windows keeps for a device — choose another name")
    return root() / name


def names() -> list[str]:
    base = root()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if _NAME.fullmatch(p.name) and versions(p.name))


def versions(name: str) -> list[int]:
    where = folder(name)
    if not where.is_dir():
        return []
    found = (_VERSION.fullmatch(p.name) for p in where.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def read(name: str, version: int | None = None) -> Profile:
    """A version of the profile (default: the newest)."""
    known = versions(name)
    if not known:
        listed = ", ".join(names()) or "none yet"
        raise NotFoundError(
            f"no profile named {name!r} (profiles: {listed}) — make one with "
            f"`freehold profile create {name}`"
        )
    number = known[-1] if version is None else version
    if number not in known:
        raise NotFoundError(
            f"profile {name!r} has no version {number} (versions 1–{known[-1]}; "
            f"kept: {', '.join(map(str, known))})"
        )
    path = folder(name) / f"v{number:04d}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FreeholdError(f"{path}: cannot be read ({error}) — check the file") from error
    profile = parse(text, name=name, where=str(path))
    profile.version, profile.path = number, path
    return profile


def save(profile: Profile, how: str) -> Profile:
    """Keep ``profile`` as the next version of its name; returns it with version and path."""
    where = folder(profile.name)
    with storage.guarded(where):
        make_dirs(where)
    saved = datetime.now(UTC).isoformat(timespec="seconds")
    for _ in range(100):  # another save took the number meanwhile: take the next one
        number = (versions(profile.name) or [0])[-1] + 1
        meta = {**profile.meta, "saved": saved, "how": how}
        fresh = Profile(profile.name, number, profile.body, meta)
        path = where / f"v{number:04d}.md"
        with storage.guarded(path):
            linked = _link_new(where, path, render(fresh).encode())
        if linked:
            fresh.path = path
            return fresh
    raise FreeholdError(f"{where}: could not find a free version number — check the folder")


def _link_new(where: Path, path: Path, data: bytes) -> bool:
    handle, temp = tempfile.mkstemp(dir=where, prefix=".new-", suffix=".md")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, FILE_MODE)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in _NO_LINKS:
                raise
            return _claim(temp, path)
        return True
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def _claim(temp: str, path: Path) -> bool:
    """Without hard links: the name taken by a new empty file (refused when it exists), then
    replaced by the whole one (a reader may see it empty for that moment, never a part)."""
    try:
        open_new(path).close()
    except FileExistsError:
        return False
    os.replace(temp, path)
    return True


def decisions(name: str) -> dict[str, dict[str, Any]]:
    """The keep/strike decisions recorded for the profile, by finding fingerprint."""
    path = folder(name) / "review.json"
    try:
        value = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as error:
        raise FreeholdError(
            f"{path}: not readable as JSON ({error}) — delete it to review again"
        ) from error
    return value if isinstance(value, dict) else {}


def remember(name: str, new: dict[str, dict[str, Any]]) -> None:
    """Add decisions (written whole to a temporary file, then moved into place)."""
    if not new:
        return
    merged = {**decisions(name), **new}
    data = orjson.dumps(merged, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    replace(folder(name) / "review.json", data)


def keep_rejected(name: str, text: str) -> Path:
    """An edit that could not be saved (broken front matter) is not lost: it is written
    beside the versions as ``rejected-N.md``, never over another file."""
    where = folder(name)
    with storage.guarded(where):
        make_dirs(where)
    number = 1
    while True:
        path = where / f"rejected-{number}.md"
        try:
            with storage.guarded(path), open_new(path) as handle:
                handle.write(text.encode())
            return path
        except FileExistsError:
            number += 1
