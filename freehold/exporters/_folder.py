"""The output folder of the exporters.

``prepare_fixed`` serves the exporters that write a fixed set of files (csv, jsonl, openwebui):
the folder must be new, empty, or hold only those files from a previous run of the same export.
The rest serves the file-per-conversation exporters (markdown, html, pdf).

Such an export may be run again into its own folder: what it wrote is listed in
``.freehold-files``, the next run replaces those files and removes the ones it no longer
writes, and anything a person added there is left alone. Any other non-empty folder is refused,
never overwritten. Attachments are copied once each, named by their hash, and a file is always
unlinked before it is written, so a link planted in the folder is never written through.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.models import AttachmentRef

__all__ = [
    "LISTING",
    "Attachments",
    "finish",
    "prepare",
    "prepare_fixed",
    "read_listing",
    "starts_with",
]

LISTING = ".freehold-files"
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _make(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FreeholdError(f"{out}: is a file — give a folder (new or empty) for the export")
    out.mkdir(parents=True, exist_ok=True)


def _refuse(out: Path, label: str) -> FreeholdError:
    return FreeholdError(
        f"{out}: folder is not empty and holds no freehold {label} export "
        "— choose a new or empty folder"
    )


def prepare(
    out: Path, *, label: str, ours: Callable[[Path], bool], listed: re.Pattern[str]
) -> set[str]:
    """Make sure ``out`` may be written; returns the files a previous export there wrote."""
    _make(out)
    if not any(out.iterdir()):
        return set()
    if not ours(out):
        raise _refuse(out, label)
    return {name for name in read_listing(out) if listed.match(name)}


def prepare_fixed(out: Path, *, label: str, own: set[str], ours: Callable[[], bool]) -> None:
    """Make sure ``out`` may be written by an export of the fixed files ``own``.

    It may be new, empty, or hold nothing but ``own`` files of which ``ours()`` recognises one.
    """
    _make(out)
    names = {path.name for path in out.iterdir()}
    if names and not (names <= own and ours()):
        raise _refuse(out, label)


def read_listing(out: Path) -> list[str]:
    listing = out / LISTING
    if listing.is_symlink() or not listing.is_file():
        return []
    return listing.read_text(encoding="utf-8", errors="replace").splitlines()


def starts_with(path: Path, marker: str, size: int = 1024) -> bool:
    """True when ``path`` is a plain file whose first ``size`` bytes hold ``marker``."""
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        return marker in handle.read(size).decode("utf-8", "replace")


def finish(out: Path, previous: set[str], written: set[str], header: str | None = None) -> None:
    """Remove what the last run wrote and this one did not; list what this one wrote."""
    for name in previous - written:
        (out / name).unlink(missing_ok=True)
    lines = ([header] if header else []) + sorted(written)
    target = out / LISTING
    target.unlink(missing_ok=True)
    target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


class Attachments:
    """Copies of attachment blobs in ``out/attachments/``, made on first use."""

    def __init__(self, archive: Archive, out: Path, extension: Callable[[AttachmentRef], str]):
        self.archive = archive
        self.out = out
        self.extension = extension
        self.copied: dict[str, str | None] = {}

    def link(self, ref: AttachmentRef) -> str | None:
        """The relative path of the copy; None when the archive lacks the bytes."""
        sha = ref.sha256
        if sha is None or not _SHA.match(sha):
            return None
        if sha not in self.copied:
            self.copied[sha] = self._copy(sha, ref)
        return self.copied[sha]

    def written(self) -> set[str]:
        return {link for link in self.copied.values() if link}

    def _copy(self, sha: str, ref: AttachmentRef) -> str | None:
        source = self.archive.blob_path(sha)
        if not source.is_file():
            return None
        relative = f"attachments/{sha}{self.extension(ref)}"
        target = self.out / relative
        target.parent.mkdir(exist_ok=True)
        target.unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return relative
