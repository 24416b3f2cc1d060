"""What a file is when no importer reads it, and what to do: one line a person can act on.

Called by ``_plan`` in two places: for a path no importer recognises (``unknown``: the
message of the ``UnknownExportError``), and for each member of a folder or zip that no
importer reads (``member``: named in the report as left out). The same checks serve both, in
order, each from the file's first bytes (JSON is parsed whole only when it is small):

1. a JSONL file for training (``{"messages": [...]}`` lines, as ``freehold export --format
   jsonl`` writes them; freehold's JSON export names its lines file alike), which no importer
   reads: say so and point at the JSON export;
2. a file an export is known to hold beside its conversations (``Format.companions``, e.g.
   ChatGPT's ``chat.html``, Claude's ``users.json``): say whose it is and what to import;
3. empty; damaged (its bytes cannot be read: bad compressed data or CRC-32 in a zip, a read
   error: ``Export.damage``), which says to download the export again, never what the few
   bytes read before the damage look like;
4. a type known by its magic bytes (an image, a PDF, an archive to unpack, a SQLite database
   that is not llm's, a zip inside the zip); a file named ``.zip`` that is not one; text in
   UTF-16 or UTF-32 (by its byte-order mark), to be saved as UTF-8;
5. JSON: not valid (cut short?), an empty array, an array or object of a shape no importer
   knows (its keys are quoted, so a person can tell what it is);
6. a settings file (INI or TOML: a section header such as ``[ui]`` first, which no JSON text
   begins with), a web page, text, or binary data.

A member left out is *lost* (the import fails) when it may hold conversations nobody read:
JSON that is not empty, a database, an archive, wide text, damaged or binary data. Text,
settings, web pages, pictures and documents are named as notes: no chat export keeps its
conversations in them, and an import must not fail over a README beside an export.

A folder or zip is summed up from its members: damaged members first (the cause), empty, only
files of one known export without its conversations ("this folder holds 3 Claude files … but
no conversations.json"), one file, or the first few members with what each is.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import filetype

from freehold import plugins
from freehold._words import plural
from freehold.importers._skeleton import READ_ERRORS, Export

__all__ = ["EXPECTED", "Finding", "left_out", "member", "unknown"]

EXPECTED = (
    "expected a ChatGPT, Claude, Gemini (Takeout), Open WebUI, LibreChat, Google AI Studio, "
    "Grok or Mistral export (zip, folder or JSON file), an llm logs.db, or a folder written by "
    "`freehold export --format json`"
)
_PARSE_LIMIT = 32 << 20  # JSON parsed whole to say what it is; larger files are judged by head
_SHOWN_KEYS = 5
_SHOWN_MEMBERS = 4
_SQLITE = b"SQLite format 3\x00"
# A chat fine-tuning line: what `freehold export --format jsonl` writes (and OpenAI reads).
_TRAINING = re.compile(rb'[\xef\xbb\xbf \t\r\n]*\{\s*"messages"\s*:\s*\[')
# A section header (INI, TOML tables and arrays of tables), then perhaps a comment.
_SECTION = re.compile(rb"\[\[?([A-Za-z_][\w.:\- ]*)\]\]?[ \t]*(?:[#;].*)?\r?$")
# Byte-order marks of wide text, UTF-32 first (its little-endian mark starts like UTF-16's).
_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
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
    damaged: bool = False  # its bytes cannot be read (bad compressed data, a read error)


def unknown(path: Path, export: Export) -> str:
    """The one-line message for a path that no importer reads, naming it as given (of
    several paths, or a long one, its last part alone may not find it)."""
    names = export.names()
    if export.one_file:
        found = _file(export, names[0], whole_path=path)
        return f"{path}: {found.what} — {found.todo}"
    return f"{path}: {_container(path, export, names)}" + _refused(export)


def member(export: Export, name: str, *, parse: bool = True) -> Finding:
    """What one member of a folder or zip is; ``lost`` when it may hold conversations that
    nobody read (JSON, a database, an archive, unreadable data), not for what no chat export
    keeps its conversations in (text, a web page, a picture, a document). Without ``parse``,
    JSON is judged by its first bytes only."""
    return _file(export, name, parse=parse)


def left_out(found: Finding) -> str:
    """How a report says a member nobody read: what it is, left out, and what to do (unless
    the usual: import an export)."""
    todo = f" — {found.todo}" if found.todo != EXPECTED else ""
    return f"{found.what}; left out{todo}"


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
    damaged = [(name, f) for name, f in found.items() if f.damaged]
    if damaged:  # the cause, whatever else the path holds
        listed = "; ".join(f"{name} is {f.what}" for name, f in damaged[:_SHOWN_MEMBERS])
        return f"{listed} — {damaged[0][1].todo}"
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


def _file(
    export: Export, name: str, whole_path: Path | None = None, *, parse: bool = True
) -> Finding:
    if _TRAINING.match(export.head(name)):
        what = "a JSONL export, for training: it cannot be imported"
        return Finding(what, "import a `freehold export --format json` export")
    companion = _companion(name)
    if companion is not None:
        return companion
    size = export.size(name)
    if size == 0:
        return Finding(
            "an empty file (0 bytes)", "the download or copy did not finish; get the file again"
        )
    head = export.head(name)
    error = export.damage(name)
    if error is not None:
        return _damaged(error)
    if whole_path is not None and whole_path.suffix.lower() == ".zip" and head[:2] != b"PK":
        inner = _content(export, name, head, size).what.split(", not ")[0]  # what it is
        what = f"named .zip but not a zip archive: it is {inner}"
        return Finding(what, "download the export again", lost=True)
    return _content(export, name, head, size, parse=parse)


def _companion(name: str) -> Finding | None:
    """A file that a known export holds beside its conversations (declared by each format)."""
    base = PurePosixPath(name).name
    for module in plugins.importers().values():
        fmt = getattr(module, "FORMAT", None)
        described = getattr(fmt, "companions", {}).get(base)
        if described:
            return Finding(described, fmt.advice, owner=fmt.title)  # type: ignore[union-attr]
    return None


def _damaged(error: Exception) -> Finding:
    """A file whose bytes cannot be read: damaged data in a zip, or a file the system refuses."""
    reason = str(error).strip() or type(error).__name__
    reason = reason if len(reason) <= 120 else reason[:117] + "..."
    if isinstance(error, OSError):  # a folder's file: permissions, a failing disk
        what, todo = (
            f"a file that cannot be read ({reason})",
            "check that it opens, then import again",
        )
    else:  # bad deflate data, a bad CRC-32, data cut short inside a zip
        what, todo = f"damaged: its data cannot be read ({reason})", "download the export again"
    return Finding(what, todo, lost=True, damaged=True)


def _content(export: Export, name: str, head: bytes, size: int, *, parse: bool = True) -> Finding:
    if head.startswith(_SQLITE):
        todo = "give the database `llm logs path` prints, or export the data as JSON"
        return Finding("a SQLite database, but not an llm logs database", todo, lost=True)
    wide = _wide(head)
    if wide is not None:
        return wide
    kind = filetype.guess(head[:8192])
    if kind is not None:
        return _typed(kind.mime, kind.extension)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _settings(body):
        return Finding("a settings file (INI or TOML), not an export")
    if body[:1] in (b"{", b"["):
        if not parse:
            return Finding("a JSON file no importer recognises", lost=True)
        return _json(export, name, size)
    if body[:1] == b"<":
        return Finding("a web page (HTML), not an export")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut by the head's end
            return Finding("binary data, not a zip, a JSON file or a SQLite database", lost=True)
    return Finding("a text file, not an export")


def _settings(body: bytes) -> bool:
    """An INI or TOML file: its first line a section header (``[ui]``, ``[tool:pytest]``,
    ``[[servers]]``), which no JSON text begins with: a bare word is not a JSON value (but
    ``true``, ``false`` and ``null``, left to the JSON checks)."""
    match = _SECTION.match(body.split(b"\n", 1)[0])
    return match is not None and match.group(1) not in (b"true", b"false", b"null")


def _wide(head: bytes) -> Finding | None:
    """Text in UTF-16 or UTF-32, known by its byte-order mark (Windows PowerShell writes
    UTF-16 when a file is saved with ``>`` or ``Out-File``): exports are UTF-8, and so is
    every reader of them, so freehold asks for the file in UTF-8 rather than reading it."""
    for bom, encoding, label in _WIDE:
        if head.startswith(bom):
            text = head[len(bom) : len(bom) + 256].decode(encoding, "replace")
            is_json = text.lstrip(" \t\r\n")[:1] in ("{", "[")
            what = f"{'JSON' if is_json else 'text'} in {label}, not UTF-8"
            todo = (
                "save it as UTF-8 and import that (PowerShell: `Get-Content IN | Set-Content "
                "-Encoding utf8 OUT`), or import the export as it was downloaded"
            )
            return Finding(what, todo, lost=is_json)
    return None


def _typed(mime: str, extension: str) -> Finding:
    if extension == "zip":
        return Finding("a zip inside the export", "unzip it and import what it holds", lost=True)
    if extension in _ARCHIVES:
        what, todo = (
            f"a {_ARCHIVES[extension]} archive",
            "unpack it, then import the export it holds",
        )
        return Finding(what, todo, lost=True)
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
        return Finding(f"a JSON file of {size >> 20} MiB that no importer recognises", lost=True)
    try:
        with export.open(name) as handle:
            value = json.loads(handle.read())
    except READ_ERRORS as error:  # damaged past its head
        return _damaged(error)
    except (ValueError, RecursionError) as error:
        what = f"not valid JSON ({_short(error)}; cut short?)"
        return Finding(what, "download or export it again", lost=True)
    return _shape(value)


def _short(error: BaseException) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos}"
    return "nested too deeply" if isinstance(error, RecursionError) else str(error)[:80]


def _shape(value: Any) -> Finding:
    """What a JSON value that no importer reads holds; anything but an empty array or object
    may be conversations of a shape freehold does not know, so it counts as lost."""
    if value == []:
        return Finding("an empty JSON array: no conversations in it", "there is nothing to import")
    if value == {}:
        return Finding("an empty JSON object", "there is nothing to import")
    if isinstance(value, list):
        kinds = sorted({_json_kind(item) for item in value})
        if kinds != ["object"]:
            what = f"a JSON array of {', '.join(k + 's' for k in kinds)}, not conversations"
            return Finding(what, lost=True)
        keys = sorted({key for item in value for key in item})
        what = f"a JSON array of {plural(len(value), 'object')} with keys {_keys(keys)}"
        return Finding(f"{what}, not conversations freehold knows", lost=True)
    if isinstance(value, dict):
        what = f"a JSON object with keys {_keys(sorted(value))}, not an export freehold knows"
        return Finding(what, lost=True)
    return Finding(f"a lone JSON {_json_kind(value)}, not an export", lost=True)


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
