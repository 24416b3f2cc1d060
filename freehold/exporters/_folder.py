"""The output folder of the exporters.

``prepare_fixed`` serves the exporters that write a fixed set of files (csv, jsonl, openwebui):
the folder must be new, empty, or hold only those files from a previous run of the same export.
The rest serves the file-per-conversation exporters (markdown, html, pdf).

Such an export may be run again into its own folder: what it wrote is listed in
``.freehold-files``, the next run replaces those files and removes the ones it no longer
writes, and anything a person added there is left alone. Any other non-empty folder is refused,
never overwritten. Attachments are copied once each, named by their hash, and a file is always
unlinked before it is written, so a link planted in the folder is never written through.

File names: every exporter that writes a file per conversation names it with
``conversation_name``: ``<date>-<slug>-<id8><suffix>``. The slug keeps the title's letters,
digits and combining marks in any script (NFC, case-folded so that names differing only in
case or normalisation cannot meet on a case-insensitive file system) and turns every other run
of characters (spaces, punctuation, path separators, control and format characters, emoji)
into one dash. A name starts with a date, so it is never a reserved Windows device name
(``CON``, ``NUL``…), and it is at most 100 bytes of UTF-8, cut between whole characters.
``taken`` makes it unique within one run. A listing (``.freehold-files``) is trusted only for
names of that shape (``listed``): it can never make a later run delete outside the folder.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from freehold import storage
from freehold.archive import Archive, conversation_id
from freehold.errors import FreeholdError
from freehold.models import AttachmentRef, Conversation

__all__ = [
    "LISTING",
    "MAX_NAME_BYTES",
    "Attachments",
    "conversation_name",
    "copy",
    "finish",
    "listed",
    "make_folder",
    "prepare",
    "prepare_fixed",
    "read_listing",
    "slug",
    "starts_with",
]

LISTING = ".freehold-files"
MAX_NAME_BYTES = 100
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ATTACHMENT = r"attachments/[0-9a-f]{64}(?:\.[a-z0-9]+)?"
# What a conversation's name may hold between its date and its suffix: no separator, dot,
# control character or anything else a file system or a shell treats specially.
_NAME = r"(?:\d{4}-\d{2}-\d{2}|undated)-[^/\\\x00-\x1f\x7f-\x9f.:*?\"<>|]+"
_KEPT = ("L", "N", "M")  # Unicode categories a slug keeps: letters, digits, combining marks


def slug(text: str, max_bytes: int) -> str:
    """The title's words, lower-case and dash-joined, at most ``max_bytes`` of UTF-8."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    # Case folding may undo a composition that NFC then redoes; fold once more to a fixed point.
    folded = unicodedata.normalize("NFC", folded.casefold())
    kept = "".join(c if unicodedata.category(c)[0] in _KEPT else " " for c in folded)
    joined = "-".join(kept.split())
    return _cut(joined, max_bytes).strip("-")


def _cut(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8, never between a letter and its marks."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    end = len(text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore"))
    while 0 < end < len(text) and unicodedata.category(text[end])[0] == "M":
        end -= 1
    return text[:end]


def conversation_name(conv: Conversation, taken: set[str], suffix: str) -> str:
    """``<date>-<slug>-<id8><suffix>`` (``-2``, ``-3``… before the suffix if in ``taken``)."""
    day = _day(conv.created_at)
    short = (conv.id or conversation_id(conv.source_kind, conv.source_id))[:8]
    room = MAX_NAME_BYTES - len(f"{day}--{short}-99999{suffix}".encode())
    stem = f"{day}-{slug(conv.title or '', room) or 'untitled'}-{short}"
    name, number = f"{stem}{suffix}", 2
    while name in taken:
        name, number = f"{stem}-{number}{suffix}", number + 1
    return name


def _day(epoch: float | None) -> str:
    if epoch is None:
        return "undated"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def listed(suffix: str, *, attachments: bool = True) -> re.Pattern[str]:
    """The names a listing may hold: ``conversation_name``'s (and attachments' if asked)."""
    pattern = f"{_NAME}{re.escape(suffix)}"
    return re.compile(f"^(?:{pattern}|{_ATTACHMENT})$" if attachments else f"^{pattern}$")


def _make(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FreeholdError(f"{out}: is a file — give a folder (new or empty) for the export")
    make_folder(out)


def make_folder(out: Path) -> None:
    """``out`` and its missing parents; a failure (a file on the way, no permission) is told
    in one line (``storage``)."""
    with storage.guarded(out):
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


def finish(
    out: Path,
    previous: set[str],
    written: set[str],
    header: str | None = None,
    *,
    listed: re.Pattern[str] | None = None,
) -> None:
    """Remove what the last run wrote and this one did not, and what a killed run left half
    written (``<name>.tmp`` of a name ``listed`` matches); list what this one wrote."""
    for name in (previous - written) | _half_written(out, listed):
        stale = out / name
        if stale.is_symlink() or stale.is_file():  # a folder of that name is not one we wrote
            stale.unlink()
    lines = ([header] if header else []) + sorted(written)
    with storage.written(out / LISTING, text=True) as listing:
        listing.write("".join(f"{line}\n" for line in lines))


def _half_written(out: Path, listed: re.Pattern[str] | None) -> set[str]:
    """The temporary files ``storage.written`` leaves when its process is killed, of names
    this export writes: never a file a person keeps there under another name."""
    if listed is None:
        return set()
    found = set()
    for folder in (out, out / "attachments"):
        for path in folder.glob("*.tmp") if folder.is_dir() else ():
            name = path.relative_to(out).as_posix()
            if listed.match(name.removesuffix(".tmp")):
                found.add(name)
    return found


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
        copy(source, self.out / relative)
        return relative


def copy(source: Path, target: Path) -> None:
    """A copy of the archive's file ``source`` at ``target`` (``storage.written``: whole or
    not at all), its folder made when missing."""
    with storage.guarded(target.parent):
        target.parent.mkdir(exist_ok=True)
    with source.open("rb") as stream, storage.written(target) as out:
        shutil.copyfileobj(stream, out)
