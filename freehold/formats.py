"""What a file is, and whether it is in an open format: the exit plan's question about every
export it keeps ("could I read this without the platform that made it?").

``sniff(path)`` looks at the bytes, never the name alone: binary formats by their magic
numbers (``filetype``), text formats by their first 64 KiB (JSON, JSON Lines, CSV/TSV, HTML,
XML, mbox, vCard, iCalendar, plain text). A zip is opened through the importers' safe reader
(``_safezip``: no extraction, bomb and hostile-name checks, a cut zip salvaged and named) and
a tar streamed: each member is classified by its extension, or by its first bytes when the
extension says nothing (``.dat``, none); the container is open only when every member is.

*Open* means documented and readable with standard tools, without the vendor: text formats,
ISO and IETF standards (PDF, ODF, Office Open XML, PNG, MP4…), SQLite, common containers.
Legacy binary office files, Outlook's PST, RAR and anything freehold does not recognise are
*not open*: the plan names them, so the person can look for a better export. An unknown file
is never called open.
"""

from __future__ import annotations

import csv
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import filetype

from freehold.errors import FreeholdError
from freehold.importers._safezip import ZipFiles

__all__ = ["CLOSED_FORMATS", "OPEN_FORMATS", "Sniffed", "is_open", "sniff", "sniff_bytes"]

_HEAD = 1 << 16
_MAX_LISTED = 20
_MAX_SNIFFED_MEMBERS = 5000

Opener = Callable[[str], IO[bytes]]


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Formats freehold calls open: documented, and read by standard tools without the vendor.
OPEN_FORMATS = _names(
    "json jsonl csv tsv txt md html xml mbox eml vcf ics pdf yaml toml js css srt vtt "
    "png jpg gif webp svg tif bmp heic avif ico apng jpx "
    "mp3 m4a aac ogg opus flac wav aiff mp4 m4v mov mkv webm 3gp mpg "
    "woff woff2 ttf otf zip tar gz bz2 xz 7z zst sqlite odt ods odp docx xlsx pptx epub rtf "
    "car"
)
# Recognised, and not open: a proprietary binary layout (prefer another export format).
CLOSED_FORMATS = _names("doc xls ppt pst ost rar psd exe swf wmv flv amr numbers pages key")
_ALIASES = {
    "jpeg": "jpg",
    "htm": "html",
    "xhtml": "html",
    "yml": "yaml",
    "tiff": "tif",
    "ical": "ics",
    "ifb": "ics",
    "vcard": "vcf",
    "text": "txt",
    "log": "txt",
    "markdown": "md",
    "ndjson": "jsonl",
    "tgz": "gz",
    "mpeg": "mpg",
    "oga": "ogg",
    "ogv": "ogg",
    "sqlite3": "sqlite",
    "db": "sqlite",
}
_MIMES = {
    "json": "application/json",
    "jsonl": "application/jsonl",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "txt": "text/plain",
    "html": "text/html",
    "xml": "application/xml",
    "mbox": "application/mbox",
    "vcf": "text/vcard",
    "ics": "text/calendar",
}


def is_open(format_name: str) -> bool:
    return format_name in OPEN_FORMATS


@dataclass(frozen=True)
class Sniffed:
    """What a file is: ``format`` (``zip``, ``json``, ``csv``… or ``unknown``), its MIME type
    when known, whether it is open, and for a container the formats of its members, with the
    first members that are not open, and a problem found on the way (a cut zip)."""

    format: str
    mime: str | None
    open: bool
    members: dict[str, int] = field(default_factory=dict)
    not_open: list[str] = field(default_factory=list)
    problem: str | None = None

    def contents(self) -> dict[str, object] | None:
        """The member summary as stored with a recorded export (None for a plain file)."""
        if not self.members and self.problem is None:
            return None
        return {"members": self.members, "not_open": self.not_open, "problem": self.problem}


def sniff(path: Path) -> Sniffed:
    """What the file at ``path`` is (see the module docstring); a container is looked into."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD)
    name, mime = sniff_bytes(head, path.name)
    if name == "zip":
        return _container(name, mime, _zip_members(path))
    if name == "tar" or (name in ("gz", "bz2", "xz") and _is_tar(path)):
        return _container(name, mime, _tar_members(path))
    return Sniffed(name, mime, is_open(name))


def sniff_bytes(head: bytes, name: str = "") -> tuple[str, str | None]:
    """(format, MIME type) from a file's first bytes, its name's extension breaking ties."""
    extension = _extension(name)
    kind = filetype.guess(head) if head else None
    if kind is not None:
        found = _ALIASES.get(kind.extension, kind.extension)
        # A docx or an epub is a zip too; filetype tells them apart, a bare zip stays a zip.
        return found, kind.mime
    text = _as_text(head)
    if text is None:
        if b"gversion" in head[:128]:  # a CBOR header naming its version: IPLD CAR (Bluesky)
            return "car", "application/vnd.ipld.car"
        return (extension if extension in CLOSED_FORMATS else "unknown"), None
    found = _text_format(text, extension)
    return found, _MIMES.get(found, "text/plain" if found == "txt" else None)


def _extension(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    return _ALIASES.get(suffix, suffix)


def _as_text(head: bytes) -> str | None:
    """The bytes as text when they are UTF-8 (a cut final character allowed) or UTF-16 with a
    byte-order mark; None for binary."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head[: len(head) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in head:
        return None
    for cut in range(4):  # the 64 KiB window may end inside a character
        try:
            return head[: len(head) - cut].decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
    return None


def _text_format(text: str, extension: str) -> str:
    start = text.lstrip()[:512]
    lowered = start.lower()
    if start.startswith(("{", "[")):
        lines = [line for line in text.splitlines()[:3] if line.strip()]
        many = len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines)
        return "jsonl" if many and extension != "json" else "json"
    if lowered.startswith(("<!doctype html", "<html")) or (extension == "html" and "<" in start):
        return "html"
    if lowered.startswith("<?xml") or (start.startswith("<") and extension in ("xml", "svg")):
        return "svg" if "<svg" in text[:4096].lower() else "xml"
    for marker, found in (("BEGIN:VCARD", "vcf"), ("BEGIN:VCALENDAR", "ics"), ("From ", "mbox")):
        if start.startswith(marker):
            return found
    if extension in ("csv", "tsv", "md", "yaml", "toml", "js", "css", "srt", "vtt", "eml"):
        return extension
    return _delimited(text) or "txt"


def _delimited(text: str) -> str | None:
    """``csv`` or ``tsv`` when the first lines split into the same number (≥ 2) of fields."""
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return None
    rows = list(csv.reader(sample.splitlines(), dialect))
    if len(rows) < 2 or len({len(row) for row in rows[:-1]}) != 1 or len(rows[0]) < 2:
        return None
    return "tsv" if dialect.delimiter == "\t" else "csv"


def _container(name: str, mime: str | None, members: Iterator[tuple[str, str]]) -> Sniffed:
    """A zip or tar: open when every member is; the first members that are not are named."""
    counts: Counter[str] = Counter()
    closed: list[str] = []
    problem = None
    try:
        for member, member_format in members:
            counts[member_format] += 1
            if not is_open(member_format) and len(closed) < _MAX_LISTED:
                closed.append(member)
    except _Cut as cut:
        problem = str(cut)
    except FreeholdError as error:  # a zip the safe reader refuses (bomb, overlap)
        problem = str(error)
    all_open = not problem and all(is_open(found) for found in counts)
    return Sniffed(name, mime, all_open, dict(counts.most_common()), closed, problem)


class _Cut(Exception):
    """A container whose end is missing."""


def _zip_members(path: Path) -> Iterator[tuple[str, str]]:
    with closing(ZipFiles(path)) as files:
        if files.truncated:
            raise _Cut(files.truncated)
        names = files.names()
        for index, name in enumerate(names):
            yield name, _member_format(name, files.open if index < _MAX_SNIFFED_MEMBERS else None)
        for rejected, reason in files.rejected:
            yield f"{rejected} ({reason})", "unknown"


def _member_format(name: str, opener: Opener | None) -> str:
    """A member's format: by its extension when freehold knows it, else by its first bytes."""
    extension = _extension(name)
    if extension in OPEN_FORMATS or extension in CLOSED_FORMATS:
        return extension
    if opener is None:
        return "unknown"
    with opener(name) as member:
        return sniff_bytes(member.read(8192), name)[0]


def _is_tar(path: Path) -> bool:
    try:
        with tarfile.open(path, "r:*") as archive:
            return archive.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _tar_members(path: Path) -> Iterator[tuple[str, str]]:
    """A tar's members in one streaming pass (a compressed tar cannot seek)."""
    try:
        with tarfile.open(path, "r|*") as archive:
            for index, info in enumerate(archive):
                if info.isdir():
                    continue
                if not info.isfile():
                    yield info.name, "unknown"
                    continue
                reader = archive.extractfile(info) if index < _MAX_SNIFFED_MEMBERS else None
                yield info.name, _member_format(info.name, _once(reader))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise _Cut(f"{path.name}: the tar ends early or is damaged ({error})") from error


def _once(reader: IO[bytes] | None) -> Opener | None:
    """An opener for ``_member_format`` over a tar member already opened (or none)."""
    if reader is None:
        return None
    return lambda _name: reader
