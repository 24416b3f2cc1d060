"""The output folder of the exporters.

``prepare_fixed`` serves the exporters that write a fixed set of files (csv, jsonl, openwebui):
the folder must be new, empty, or hold only those files from a previous run of the same export.
The rest serves the file-per-conversation exporters (markdown, html, pdf).

Such an export may be run again into its own folder (``Run``, one rule for the three). What
it wrote is listed in ``.freehold-files``: a first line naming the export (``# freehold_export:
markdown``), then one line per file, ``name<TAB>sha256<TAB>conversation ids`` (an attachment
names every conversation that links it). The listing is written before the first file, and each
file's line is added before the file itself, so a run cut short (a full disk, a kill) still
leaves a folder the next run recognises and may finish. A file freehold replaces or removes
must hold bytes it wrote (the SHA-256 of one of its listed lines): a note a person edited is
never overwritten nor removed, only named in the summary. A run removes only what it made stale:
the old name of a conversation it wrote again under a new one (a renamed title), and an
attachment no note left links. Notes of conversations outside a narrower selection stay, and
stay listed (the index links them apart). Listings written before these hashes (names only)
are still read: their notes are replaced when written again, and never removed. Anything a
person added is left alone. Any other non-empty folder is refused, never overwritten.
Attachments are copied once each, named by their hash, and a file is always unlinked before it
is written, so a link planted in the folder is never written through; an ``attachments``
folder that is itself a link is refused.

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

import hashlib
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freehold import storage
from freehold._words import plural
from freehold.archive import Archive, conversation_id
from freehold.errors import FreeholdError
from freehold.models import AttachmentRef, Conversation

__all__ = [
    "LISTING",
    "MAX_NAME_BYTES",
    "Attachments",
    "Run",
    "Summary",
    "conversation_name",
    "copy",
    "listed",
    "make_folder",
    "prepare_fixed",
    "read_listing",
    "slug",
    "starts_with",
    "subfolder",
]

LISTING = ".freehold-files"
MAX_NAME_BYTES = 100
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ATTACHMENT = r"attachments/[0-9a-f]{64}(?:\.[a-z0-9]+)?"
# What a conversation's name may hold between its date and its suffix: no separator, dot,
# control character or anything else a file system or a shell treats specially.
_NAME = r"(?:\d{4}-\d{2}-\d{2}|undated)-[^/\\\x00-\x1f\x7f-\x9f.:*?\"<>|]+"
_LONGEST_SUFFIX = ".html"
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
    # Room for the longest suffix (``.html``) whatever the format: a title gives the same
    # stem in every format, so the Markdown, HTML and PDF files of one conversation match.
    room = MAX_NAME_BYTES - len(f"{day}--{short}-99999{_LONGEST_SUFFIX}".encode())
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


def prepare_fixed(out: Path, *, label: str, own: set[str], ours: Callable[[], bool]) -> None:
    """Make sure ``out`` may be written by an export of the fixed files ``own``.

    It may be new, empty, or hold nothing but ``own`` files: a run cut short leaves only its
    temporary files (``<name>.tmp``), which are its own by name, and a final file must be one
    ``ours()`` recognises.
    """
    _make(out)
    names = {path.name for path in out.iterdir()}
    finals = {name for name in names if not name.endswith(".tmp")}
    if not names <= own or (finals and not ours()):
        raise _refuse(out, label)


def starts_with(path: Path, marker: str, size: int = 1024) -> bool:
    """True when ``path`` is a plain file whose first ``size`` bytes hold ``marker``."""
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        return marker in handle.read(size).decode("utf-8", "replace")


@dataclass(slots=True)
class _Entry:
    """What the listing says of one file: the hashes it was written with (none in a listing
    from before them) and the conversations it belongs to."""

    hashes: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)

    @property
    def legacy(self) -> bool:
        return not self.hashes


@dataclass(slots=True)
class Summary:
    """What one run wrote, removed, and left alone because a person changed it."""

    written: int = 0
    removed: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    earlier: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "removed": len(self.removed),
            "removed_files": self.removed,
            "kept_edited": self.edited,
            "kept_from_earlier": self.earlier,
        }

    def text(self, out: Path, shown: int = 5) -> str:
        said = [f"wrote {plural(self.written, 'conversation')} to {out}"]
        if self.removed:
            said.append(f"removed {plural(len(self.removed), 'stale file')}")
        if self.earlier:
            said.append(f"kept {plural(self.earlier, 'note')} of conversations not selected")
        if self.edited:
            more = f", … {len(self.edited) - shown} more" if len(self.edited) > shown else ""
            names = ", ".join(self.edited[:shown]) + more
            said.append(f"left {plural(len(self.edited), 'file')} you changed as they are: {names}")
        return "; ".join(said)


class Run:
    """One run of a file-per-conversation export into ``out`` (see the module docstring)."""

    def __init__(
        self,
        out: Path,
        *,
        label: str,
        suffix: str,
        ours: Callable[[Path], bool],
        attachments: bool = True,
    ) -> None:
        self.out = out
        self.header = f"# freehold_export: {label.lower()}"
        self.listed = listed(suffix, attachments=attachments)
        _make(out)
        if any(out.iterdir()) and not (self._marked() or ours(out)):
            raise _refuse(out, label)
        self.previous = self._read()
        self.written: dict[str, _Entry] = {}
        self.selection: set[str] = set()
        self.summary = Summary()
        # the listing first: a run cut short leaves a folder the next run recognises
        self._rewrite(self.previous)

    def _marked(self) -> bool:
        lines = read_listing(self.out)
        return bool(lines) and lines[0] == self.header

    def _read(self) -> dict[str, _Entry]:
        entries: dict[str, _Entry] = {}
        for line in read_listing(self.out):
            name, _, rest = line.partition("\t")
            sha, _, owners = rest.partition("\t")
            if not self.listed.match(name):
                continue  # the header, or a name this export never writes
            entry = entries.setdefault(name, _Entry())
            entry.hashes.update([sha] if _SHA.match(sha) else [])
            entry.owners.update(owner for owner in owners.split(",") if owner)
        return entries

    def _rewrite(self, *listings: dict[str, _Entry]) -> None:
        lines = [self.header]
        for listing in listings:
            lines += (_line(name, entry) for name, entry in sorted(listing.items()))
        with storage.written(self.out / LISTING, text=True) as handle:
            handle.write("".join(f"{line}\n" for line in lines))

    def _note(self, name: str, entry: _Entry) -> None:
        """Add ``name``'s line to the listing before the file is written."""
        path = self.out / LISTING
        with storage.guarded(path), path.open("a", encoding="utf-8") as listing:
            listing.write(_line(name, entry) + "\n")

    def write(self, name: str, data: bytes, conversation: str) -> bool:
        """Write a conversation's file; False (and said) when a person changed the one there."""
        self.selection.add(conversation)
        sha = hashlib.sha256(data).hexdigest()
        entry = _Entry({sha}, {conversation})
        target = self.out / name
        if _plain(target):
            now = storage.sha256_of(target)
            if now == sha:  # already what this run writes
                self.written[name] = entry
                return True
            if not self._ours(name, now):
                self.summary.edited.append(name)
                return False
        self.written[name] = entry
        self._note(name, entry)
        with storage.written(target) as handle:
            handle.write(data)
        return True

    def _ours(self, name: str, sha: str) -> bool:
        """Whether the file ``name`` holding ``sha`` is as freehold wrote it."""
        entry = self.previous.get(name) or self.written.get(name)
        return entry is not None and (entry.legacy or sha in entry.hashes)

    def write_text(self, name: str, text: str, conversation: str) -> bool:
        """``write`` of text as UTF-8 (anything unencodable, a lone surrogate, replaced)."""
        return self.write(name, text.encode("utf-8", "replace"), conversation)

    def copy(self, source: Path, relative: str, sha: str, conversation: str) -> None:
        """An attachment's copy (named by its hash) linked by ``conversation``. A file there
        with other bytes (a person replaced it) is left as it is, and said."""
        if relative in self.written:
            self.written[relative].owners.add(conversation)
            return
        if relative in self.summary.edited:
            return
        target = self.out / relative
        there = _plain(target)
        whole = there and target.stat().st_size == source.stat().st_size
        if there and not whole and not self._ours(relative, storage.sha256_of(target)):
            self.summary.edited.append(relative)
            return
        entry = self.written[relative] = _Entry({sha}, {conversation})
        if not whole:  # named by its hash: one of its size there is this very file
            self._note(relative, entry)
            copy(source, target)

    def others(self) -> list[str]:
        """The notes an earlier run wrote of conversations this one did not select (they stay
        and stay listed), by name."""
        return sorted(
            name
            for name, entry in self.previous.items()
            if not name.startswith("attachments/")
            and name not in self.written
            and (entry.legacy or not entry.owners & self.selection)
        )

    def finish(self, count: int) -> Summary:
        """Remove what this run made stale (files as freehold wrote them), and what a killed run
        left half written; list what the folder now holds of this export."""
        kept: dict[str, _Entry] = {}
        for name, entry in self.previous.items():
            if name in self.summary.edited:
                continue  # a person's now: left alone, and no longer listed
            if name in self.written:
                self.written[name].owners |= entry.owners - self.selection
                continue
            left = entry.owners - self.selection
            if entry.legacy or left:
                kept[name] = _Entry(entry.hashes, left if not entry.legacy else entry.owners)
            else:
                self._remove(name, entry)
        for name in _half_written(self.out, self.listed):
            (self.out / name).unlink(missing_ok=True)
        self._rewrite(kept, self.written)
        self.summary.written = count
        self.summary.earlier = len(self.others())
        return self.summary

    def _remove(self, name: str, entry: _Entry) -> None:
        stale = self.out / name
        if stale.is_symlink() or not stale.is_file():  # a folder of that name is not ours
            return
        if storage.sha256_of(stale) in entry.hashes:
            stale.unlink()
            self.summary.removed.append(name)
        else:
            self.summary.edited.append(name)


def _line(name: str, entry: _Entry) -> str:
    if entry.legacy:
        return name
    return "\n".join(
        f"{name}\t{sha}\t{','.join(sorted(entry.owners))}" for sha in sorted(entry.hashes)
    )


def _plain(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def read_listing(out: Path) -> list[str]:
    listing = out / LISTING
    if listing.is_symlink() or not listing.is_file():
        return []
    return listing.read_text(encoding="utf-8", errors="replace").splitlines()


def _half_written(out: Path, listed: re.Pattern[str]) -> set[str]:
    """The temporary files ``storage.written`` leaves when its process is killed, of names
    this export writes: never a file a person keeps there under another name."""
    found = set()
    for folder in (out, out / "attachments"):
        for path in folder.glob("*.tmp") if folder.is_dir() and not folder.is_symlink() else ():
            name = path.relative_to(out).as_posix()
            if listed.match(name.removesuffix(".tmp")):
                found.add(name)
    return found


class Attachments:
    """Copies of attachment blobs in ``out/attachments/``, made on first use by each
    conversation (``current``), through the run's ``copy``."""

    def __init__(self, archive: Archive, run: Run, extension: Callable[[AttachmentRef], str]):
        self.archive = archive
        self.run = run
        self.extension = extension
        self.current = ""

    def link(self, ref: AttachmentRef) -> str | None:
        """The relative path of the copy; None when the archive lacks the bytes."""
        sha = ref.sha256
        if sha is None or not _SHA.match(sha):
            return None
        source = self.archive.blob_path(sha)
        if not source.is_file():
            return None
        relative = f"attachments/{sha}{self.extension(ref)}"
        self.run.copy(source, relative, sha, self.current)
        return relative


def subfolder(folder: Path) -> None:
    """``folder`` (one level inside the export) made when missing; one that is a link is
    refused, so nothing is ever written through it."""
    if folder.is_symlink():
        raise FreeholdError(
            f"{folder}: is a link, not a folder — remove it and run the export again"
        )
    with storage.guarded(folder):
        folder.mkdir(exist_ok=True)


def copy(source: Path, target: Path) -> None:
    """A copy of the archive's file ``source`` at ``target`` (``storage.written``: whole or
    not at all), its folder made when missing."""
    subfolder(target.parent)
    with source.open("rb") as stream, storage.written(target) as out:
        shutil.copyfileobj(stream, out)
