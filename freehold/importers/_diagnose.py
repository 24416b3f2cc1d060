"""What a file is when no importer reads it, and what to do: one line a person can act on.

Called by ``_plan`` in two places: for a path no importer recognises (``unknown``: the
message of the ``UnknownExportError``), and for each member of a folder or zip that no
importer reads (``member``: named in the report as left out). The same checks serve both, in
order, each from the file's first bytes (JSON is parsed whole only when it is small):

1. a file an export is known to hold beside its conversations (``Format.companions``, e.g.
   ChatGPT's ``chat.html``, Claude's ``users.json``): say whose it is and what to import;
2. empty; a type known by its magic bytes (an image, a PDF, an archive to unpack, a SQLite
   database that is not llm's, a zip inside the zip); a file named ``.zip`` that is not one;
3. JSON: not valid (cut short?), an empty array, an array or object of a shape no importer
   knows (its keys are quoted, so a person can tell what it is);
4. a web page, text, or binary data.

A folder or zip is summed up from its members: empty, only files of one known export without
its conversations ("this folder holds 3 Claude files … but no conversations.json"), one file,
or the first few members with what each is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import filetype

from freehold import plugins
from freehold._words import plural
from freehold.importers._skeleton import Export

__all__ = ["EXPECTED", "Finding", "member", "unknown"]

EXPECTED = (
    "expected a ChatGPT, Claude, Gemini (Takeout), Open WebUI, LibreChat, Google AI Studio, "
    "Grok or Mistral export (zip, folder or JSON file), an llm logs.db, or a folder written by "
    "`freehold export --format json`"
)
_PARSE_LIMIT = 32 << 20  # JSON parsed whole to say what it is; larger files are judged by head
_SHOWN_KEYS = 5
_SHOWN_MEMBERS = 4
_SQLITE = b"SQLite format 3\x00"
_ARCHIVES = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "7z": "7-Zip", "rar": "RAR", "tar": "tar"}
_ARCHIVES |= {"zst": "zstd", "br": "Brotli", "lz": "lzip", "lz4": "LZ4", "Z": "compress"}
_OFFICE = {"docx": "a Word document", "xlsx": "an Excel workbook", "pptx": "a PowerPoint file"}
_OFFICE |= {"odt": "an OpenDocument text", "ods": "an OpenDocument spreadsheet"}
_OFFICE |= {"epub": "an EPUB book"}


@dataclass(frozen=True)
class Finding:
    """What a file is, what to do about it, and whether it looks like data that was lost."""

    what: str
    todo: str = EXPECTED
    lost: bool = False
    owner: str | None = None  # the export this file belongs with, for companions


def unknown(path: Path, export: Export) -> str:
    """The one-line message for a path that no importer reads."""
    names = export.names()
    if export.one_file:
        found = _file(export, names[0], whole_path=path)
        return f"{path.name}: {found.what} — {found.todo}"
    return f"{export.label}: {_container(path, export, names)}" + _refused(export)


def member(export: Export, name: str) -> Finding:
    """What one member of a folder or zip is."""
    return _file(export, name)


# -- a folder or zip -------------------------------------------------------------------------------


def _container(path: Path, export: Export, names: list[str]) -> str:
    noun = "folder" if path.is_dir() else "zip"
    kind = filetype.guess(_head(path)) if path.is_file() else None
    if kind is not None and kind.extension in _OFFICE:
        return f"{_OFFICE[kind.extension]}, not an export — {EXPECTED}"
    if not names:
        todo = "give the export's zip, or the folder it unpacked to"
        empty = "holds no files" if noun == "folder" else "is empty (no files)"
        return f"the {noun} {empty} — {todo if noun == 'folder' else 'download the export again'}"
    found = {name: _file(export, name) for name in names[:50]}
    owners = {f.owner for f in found.values()}
    if len(names) <= 50 and len(owners) == 1 and None not in owners:
        return _companions_only(noun, found)
    if len(names) == 1:
        ((name, one),) = found.items()
        return f"its only file, {name}, is {one.what} — {one.todo}"
    listed = "; ".join(f"{name}: {f.what}" for name, f in list(found.items())[:_SHOWN_MEMBERS])
    more = f"; and {len(names) - _SHOWN_MEMBERS} more" if len(names) > _SHOWN_MEMBERS else ""
    none = f"a {noun} of {len(names)} files, none of them an export freehold reads"
    return f"{none} ({listed}{more}) — {EXPECTED}"


def _companions_only(noun: str, found: dict[str, Finding]) -> str:
    """Files that come with one known export, without the file that holds its conversations."""
    first = next(iter(found.values()))
    shown = ", ".join(sorted(PurePosixPath(name).name for name in found))
    files = "file" if len(found) == 1 else "files"
    held = f"this {noun} holds {_count(len(found))} {first.owner} {files} ({shown})"
    return f"{held} but not its conversations — {first.todo}"


def _refused(export: Export) -> str:
    if not export.rejected:
        return ""
    shown = "; ".join(f"{name}: {reason}" for name, reason in export.rejected[:3])
    return f" ({plural(len(export.rejected), 'member')} refused: {shown})"


def _count(number: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return words[number] if number < len(words) else str(number)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(8192)


# -- one file --------------------------------------------------------------------------------------


def _file(export: Export, name: str, whole_path: Path | None = None) -> Finding:
    companion = _companion(name)
    if companion is not None:
        return companion
    size = export.size(name)
    if size == 0:
        return Finding(
            "an empty file (0 bytes)", "the download or copy did not finish; get the file again"
        )
    head = export.head(name)
    if whole_path is not None and whole_path.suffix.lower() == ".zip" and head[:2] != b"PK":
        inner = _content(export, name, head, size).what.split(", not ")[0]  # what it is
        what = f"named .zip but not a zip archive: it is {inner}"
        return Finding(what, "download the export again", lost=True)
    return _content(export, name, head, size)


def _companion(name: str) -> Finding | None:
    """A file that a known export holds beside its conversations (declared by each format)."""
    base = PurePosixPath(name).name
    for module in plugins.importers().values():
        fmt = getattr(module, "FORMAT", None)
        described = getattr(fmt, "companions", {}).get(base)
        if described:
            return Finding(described, fmt.advice, owner=fmt.title)  # type: ignore[union-attr]
    return None


def _content(export: Export, name: str, head: bytes, size: int) -> Finding:
    if head.startswith(_SQLITE):
        todo = "give the database `llm logs path` prints, or export the data as JSON"
        return Finding("a SQLite database, but not an llm logs database", todo)
    kind = filetype.guess(head[:8192])
    if kind is not None:
        return _typed(kind.mime, kind.extension)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body[:1] in (b"{", b"["):
        return _json(export, name, size)
    if body[:1] == b"<":
        return Finding("a web page (HTML), not an export")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut by the head's end
            return Finding("binary data, not a zip, a JSON file or a SQLite database")
    return Finding("a text file, not an export")


def _typed(mime: str, extension: str) -> Finding:
    if extension == "zip":
        return Finding("a zip inside the export", "unzip it and import what it holds")
    if extension in _ARCHIVES:
        return Finding(
            f"a {_ARCHIVES[extension]} archive", "unpack it, then import the export it holds"
        )
    if extension in _OFFICE:
        return Finding(f"{_OFFICE[extension]}, not an export")
    top = mime.split("/")[0]
    if top in ("image", "audio", "video"):
        article = "a" if top == "video" else "an"
        return Finding(f"{article} {top} ({extension.upper()}), not an export")
    if extension == "pdf":
        return Finding("a PDF document, not an export")
    return Finding(f"a {extension} file ({mime}), not an export")


def _json(export: Export, name: str, size: int) -> Finding:
    if size > _PARSE_LIMIT:
        return Finding(f"a JSON file of {size >> 20} MiB that no importer recognises")
    try:
        with export.open(name) as handle:
            value = json.loads(handle.read())
    except (ValueError, RecursionError) as error:
        what = f"not valid JSON ({_short(error)}; cut short?)"
        return Finding(what, "download or export it again", lost=True)
    return _shape(value)


def _short(error: BaseException) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos}"
    return "nested too deeply" if isinstance(error, RecursionError) else str(error)[:80]


def _shape(value: Any) -> Finding:
    if value == []:
        return Finding("an empty JSON array: no conversations in it", "there is nothing to import")
    if value == {}:
        return Finding("an empty JSON object", "there is nothing to import")
    if isinstance(value, list):
        kinds = sorted({_json_kind(item) for item in value})
        if kinds != ["object"]:
            return Finding(
                f"a JSON array of {', '.join(k + 's' for k in kinds)}, not conversations"
            )
        keys = sorted({key for item in value for key in item})
        what = f"a JSON array of {plural(len(value), 'object')} with keys {_keys(keys)}"
        return Finding(f"{what}, not conversations freehold knows")
    if isinstance(value, dict):
        return Finding(
            f"a JSON object with keys {_keys(sorted(value))}, not an export freehold knows"
        )
    return Finding(f"a lone JSON {_json_kind(value)}, not an export")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "array" if isinstance(value, list) else "object"


def _keys(keys: list[str]) -> str:
    shown = ", ".join(json.dumps(key, ensure_ascii=False) for key in keys[:_SHOWN_KEYS])
    return shown + (f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else "")
