"""What an operating system leaves in folders it shows: never anyone's data, never freehold's.

Finder writes ``.DS_Store`` into every folder it opens, ``._name`` (AppleDouble: a file's
extended attributes) beside each file on a disk that is not APFS or HFS+ (most USB sticks),
and ``__MACOSX/`` into the zips it makes; Windows Explorer writes ``Thumbs.db`` and
``desktop.ini``; a disk's root gets ``.Spotlight-V100``, ``.Trashes``, ``.fseventsd`` or
``$RECYCLE.BIN`` and ``System Volume Information``. One set, read wherever freehold looks at
a folder or a zip it did not write every file of: an import passes over such members without
a word, a backup destination's verify notes them (not a problem), and ``backup add`` takes a
folder holding only these as empty.
"""

from __future__ import annotations

from pathlib import PurePosixPath

__all__ = ["is_litter"]

_FILES = frozenset({".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini", ".localized"})
_FOLDERS = frozenset(
    {
        "__MACOSX",
        ".Spotlight-V100",
        ".Trashes",
        ".fseventsd",
        ".TemporaryItems",
        "$RECYCLE.BIN",
        "System Volume Information",
    }
)


def is_litter(path: str, *, folder: bool = False) -> bool:
    """Whether ``path`` (``/``-separated, relative) is what an operating system left: a file
    whose name is one of those files or an AppleDouble ``._`` file, anything inside one of
    those folders, or (``folder``: ``path`` is a folder) one of those folders itself."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    name = parts[-1]
    if folder and name in _FOLDERS:
        return True
    return name in _FILES or name.startswith("._") or any(p in _FOLDERS for p in parts[:-1])
