"""The skeleton every built-in importer fills in: recognise, read, convert, and the guards.

An importer module is its *mapping*: a ``Format`` subclass that says

* how a file of it is recognised, declaratively where it can: ``names`` (a pattern a member's
  path must match inside a folder or zip; a file given on its own is judged by its content
  alone), ``look`` (what its first bytes hold: how it opens, the keys it names, the keys that
  must not come before them), and ``confirm`` for a check that needs parsing. An export with a
  folder layout (ChatGPT, Claude, freehold) overrides ``claim`` instead;
* where its conversations are in a file: ``shape = "array"`` (a JSON array streamed one
  element at a time, or one object) or ``"file"`` (each file is one conversation, read whole);
* how one element becomes a ``Conversation``: ``convert(value, raw)``.

The module then exposes the public protocol of ``hookspecs.py`` with plain assignments, and
``FORMAT`` for the planner (``_plan``), which asks each format what it claims in a path::

    KIND = "grok"
    PARSER_VERSION = "grok/3"
    FORMAT = _Grok
    detect = _Grok.detect
    iter_conversations = _Grok.iter_conversations

``PARSER_VERSION`` is ``<kind>/<number>``: **bump the number whenever what ``convert`` makes of
the same raw JSON changes** (a fix, a part kept that was dropped). The archive keeps the version
that made each conversation, and a re-import of the same raw JSON by a higher number converts it
again (an update, counted as re-read in the report); the same number leaves it unchanged at no
cost, so a fix without a bump never reaches conversations already stored.

Everything else lives here once: opening the export through ``_safezip`` (an unsafe zip is
refused; anything else unreadable is simply not this format), the ``ExportInfo``, what opening
lost, streaming and its truncation messages, one bad element = one skipped problem, and the
guards that make "any field may be any JSON type" a property of every importer: the readers of
``_fields`` note odd values while ``convert`` runs (the notes join the conversation's
problems), and an error that still escapes ``convert`` costs at most the conversation's
messages, never the conversation: it is kept with its title, times (``heading``) and raw JSON
when ``identify`` finds its id, marked ``salvaged`` so that it never replaces a copy the
archive holds. Nothing read is dropped: an element that is skipped (too deep, not an object,
no id) keeps its raw text as a kept file of the import (``SourceFile`` named
``skipped/<where>``), which the problem names.

A ``Format`` instance is one open export, so an import's state (account id, attachment index)
lives on it.

Converting again (``freehold reparse``, ``freehold/reparse.py``): ``reconvert`` turns one raw JSON
the archive kept back into a ``Conversation`` with no export at hand. The import's state is
rebuilt from what the archive kept (``Kept``): the account id from the conversation's row, the
import's kept files that ``kept_files`` names (an instance sees them as its export, and
``restore`` reads them: Claude's ``projects.json``), and the conversation's own id. A format whose
conversations cannot be made from their raw JSON alone says why in ``refuses_again``, and is
never asked. ``iter_conversations`` takes an optional ``only``: the members of a folder or zip
this importer is given when the path holds several exports (``_plan``); the import then reports
what opening the export lost once, not per importer.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

import orjson

from freehold._words import plural
from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers import _fields
from freehold.importers._common import export_problems
from freehold.importers._fields import Notes, noting
from freehold.importers._safezip import ExportFiles, OneFile, open_export
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import Conversation, ExportInfo, Message, Problem, Record, SourceFile
from freehold.tree import unique_ids

__all__ = [
    "HEAD",
    "READ_ERRORS",
    "Claim",
    "Element",
    "Export",
    "Format",
    "Heading",
    "Kept",
    "KeptFiles",
    "Look",
    "first_time",
    "folder_of",
    "linear",
    "platform_time",
    "under",
]

HEAD = 1 << 16
READ_ERRORS = (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile)
FOREIGN = "freehold-export.json"  # a folder holding it is freehold's own export, read by it alone
SKIPPED = "skipped"  # the folder, among an import's kept files, of the elements it skipped
_BLANK = b"\xef\xbb\xbf \t\r\n"
_CHUNK = 4096  # small reads: a member cut short (or lying about its size) still shows its head
# What a bug or an unforeseen shape raises inside ``convert``; anything else is not ours to hide.
_CONVERT_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError)

_NO_CONVERT = "its importer converts no raw JSON on its own"

Element = tuple[str, Any, bytes, list[str]]  # where, value, raw bytes, problems found parsing it


class Export:
    """One opened export (zip, folder or file), seen through ``names`` only when restricted.

    The first ``HEAD`` bytes of each member are kept once read, so recognising a member for
    several formats, or planning a mixed folder, reads each member's head once.
    """

    def __init__(self, files: ExportFiles, path: Path, only: Collection[str] | None = None) -> None:
        self.files = files
        self.path = path
        self.label = files.label
        self.rejected = files.rejected
        self.truncated = files.truncated
        self.one_file = isinstance(files, OneFile)
        wanted = None if only is None else set(only)
        self._names = [n for n in files.names() if wanted is None or n in wanted]
        self._heads: dict[str, tuple[bytes, bool]] = {}  # first bytes, and whether that is all
        self._damage: dict[str, Exception] = {}  # why reading a head stopped early

    @classmethod
    def of(cls, path: Path, only: Collection[str] | None = None) -> Export:
        return cls(open_export(path), path, only)

    def restrict(self, only: Collection[str]) -> Export:
        """The same open export, showing only ``only`` (the heads read so far are shared)."""
        view = Export(self.files, self.path, only)
        view._heads, view._damage = self._heads, self._damage
        return view

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def names(self) -> list[str]:
        return list(self._names)

    def size(self, name: str) -> int:
        return self.files.size(name)

    def open(self, name: str) -> IO[bytes]:
        return self.files.open(name)

    def close(self) -> None:
        self.files.close()

    def holds(self, base_name: str) -> bool:
        tail = "/" + base_name
        return any(n == base_name or n.endswith(tail) for n in self._names)

    def head(self, name: str, size: int = HEAD) -> bytes:
        """Up to ``size`` bytes from the start of ``name``; what was read before a broken end is
        kept (reading the file itself then reports the damage), and why it broke is kept for
        ``damage``."""
        known, whole = self._heads.get(name, (b"", False))
        if whole or size <= len(known):
            return known[:size]
        chunks: list[bytes] = []
        got = 0
        whole = True
        try:
            with self.open(name) as handle:
                while got < size:
                    chunk = handle.read(min(_CHUNK, size - got))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    got += len(chunk)
                else:
                    whole = False  # stopped at ``size``: there may be more
        except READ_ERRORS as error:
            self._damage[name] = error  # what was read is the whole of what can be read
        data = b"".join(chunks)
        if len(data) > len(known):
            self._heads[name] = (data[:HEAD], whole and len(data) <= HEAD)
        return data

    def damage(self, name: str) -> Exception | None:
        """What stopped ``head`` from reading ``name`` (damaged data, a read error), if it did."""
        return self._damage.get(name)

    def start(self, name: str, size: int = HEAD) -> bytes:
        """The head without a byte-order mark and leading blanks."""
        return self.head(name, size).lstrip(_BLANK)


@dataclass(frozen=True)
class Look:
    """What a file's first bytes hold: it opens with one of ``opens`` (after a BOM and blanks),
    names every key of ``keys`` (a tuple inside means any one of them), and names none of
    ``not_before`` before its first key. ``size`` bytes are looked at."""

    opens: str = "{["
    keys: tuple[str | tuple[str, ...], ...] = ()
    not_before: tuple[str, ...] = ()
    size: int = HEAD

    def matches(self, head: bytes) -> bool:
        body = head.lstrip(_BLANK)
        if not body or chr(body[0]) not in self.opens:
            return False
        places = []
        for key in self.keys:
            options = key if isinstance(key, tuple) else (key,)
            found = [at for at in (body.find(_quoted(o)) for o in options) if at >= 0]
            if not found:
                return False
            places.append(min(found))
        first = places[0] if places else len(body)
        return not any(0 <= body.find(_quoted(o)) < first for o in self.not_before)


def _quoted(key: str) -> bytes:
    return b'"' + key.encode() + b'"'


@dataclass(frozen=True)
class Heading:
    """Where an element names its title and times, the keys tried in order: what ``salvage``
    keeps of a conversation whose messages could not be read. The defaults are the keys the
    built-in formats use at the top of a conversation; a format may name its own."""

    title: tuple[str, ...] = ("title", "name", "displayName")
    created: tuple[str, ...] = ("create_time", "created_at", "createdAt", "createTime")
    updated: tuple[str, ...] = (
        "update_time",
        "updated_at",
        "updatedAt",
        "updateTime",
        "modify_time",
    )


def platform_time(raw: bytes, estimate: float | None) -> float | None:
    """When the platform last updated a conversation that holds turns written here (they
    moved its ``updated_at`` on), read again from ``raw``, its newest raw JSON: the update
    time at its top, by the keys every built-in format uses (``Heading``), else ``estimate``
    (the newest time of a message the platform wrote). The one rule of migration m014 and of
    a freehold export written before the time was said apart (2026-12-07)."""
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return estimate
    if not isinstance(value, dict):
        return estimate
    found = (_fields.any_time(value.get(key)) for key in Heading().updated)
    return next((when for when in found if when is not None), estimate)


@dataclass
class Claim:
    """The members a format reads conversations from, and every member it accounts for.

    ``shared`` are members it owns unless another format reads them as its own: the files
    lying loose in an export's folder that are none of the export's known files (a Grok file
    dropped into a ChatGPT export's folder is Grok's; an attachment never is). ``again``: the
    path holds another export of this format, left whole to a claim of its own among what is
    left (two ChatGPT exports unpacked side by side).
    """

    members: list[str] = field(default_factory=list)
    owns: set[str] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)
    again: bool = False


@dataclass(frozen=True)
class Kept:
    """What the archive kept of a conversation, to convert its raw JSON again (``reconvert``):
    its id in its source, its account, and the files kept by the import that brought the raw
    JSON which the format's ``kept_files`` names (path in the export → bytes)."""

    source_id: str
    account_id: str | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)


class KeptFiles:
    """Kept files seen as an export's files (``ExportFiles``), read from memory."""

    label = "the archive's kept files"
    truncated: str | None = None

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.rejected: list[tuple[str, str]] = []

    def names(self) -> list[str]:
        return list(self.files)

    def size(self, name: str) -> int:
        return len(self.files[name])

    def open(self, name: str) -> IO[bytes]:
        return io.BytesIO(self.files[name])

    def close(self) -> None:
        return None


class Format:
    """One export format; an instance is one open export of it (see the module docstring)."""

    kind: ClassVar[str]
    version: ClassVar[str]
    title: ClassVar[str] = ""  # as a person names the source: "ChatGPT"
    # Files the export holds beside its conversations, by name, and what to import instead
    # when one of them is given alone (``_diagnose``).
    companions: ClassVar[Mapping[str, str]] = {}
    advice: ClassVar[str] = ""
    names: ClassVar[re.Pattern[str] | None] = None
    look: ClassVar[Look] = Look()
    shape: ClassVar[Literal["array", "file"]] = "array"
    noun: ClassVar[str] = "conversation"
    again: ClassVar[str] = "download the export again"
    missing: ClassVar[str] = "no conversations found"
    limit: ClassVar[int] = 256 << 20  # the largest file read whole (``shape = "file"``)
    too_deep: ClassVar[str] = "check the file"  # what to do about a file nested too deeply
    invalid: ClassVar[str] = "not a JSON object"  # why an element that is not ``valid`` is not
    heading: ClassVar[Heading] = Heading()
    # Converting again from kept raw JSON (``reconvert``): the import's kept files ``restore``
    # reads, and why this format cannot convert its raw JSON alone (then it is never asked).
    kept_files: ClassVar[re.Pattern[str] | None] = None
    refuses_again: ClassVar[str] = ""

    def __init__(self, export: Export) -> None:
        self.export = export
        self.account_id: str | None = None
        self.member = ""  # the member being read

    # -- the public protocol -----------------------------------------------------------------

    @classmethod
    def detect(cls, path: Path) -> bool:
        """True when ``path`` holds something of this format to read."""
        try:
            export = Export.of(path)
        except UnsafeArchiveError:
            raise
        except FreeholdError:
            return False
        with export:
            return bool(cls(export).claimed().members)

    @classmethod
    def iter_conversations(
        cls, path: Path, only: Collection[str] | None = None
    ) -> Iterator[Record]:
        """Yield an ``ExportInfo``, then conversations, kept files, context and problems."""
        with Export.of(path, only) as export:
            reading = cls(export)
            claim = reading.claimed()
            if not claim.members:
                raise BadExportError(f"{export.label}: {cls.missing}")
            yield from reading.records(claim, planned=only is not None)

    # -- recognition -------------------------------------------------------------------------

    def claimed(self) -> Claim:
        """``claim``, except that freehold's own export folder is read by freehold alone."""
        if self.kind != "freehold" and self.export.holds(FOREIGN):
            return Claim()
        return self.claim()

    def claim(self) -> Claim:
        """What this format reads in the export: by default each member it ``accepts``."""
        members = [name for name in self.export.names() if self.accepts(name)]
        return Claim(members, set(members))

    def accepts(self, name: str) -> bool:
        """One member: its name (inside a folder or zip), its first bytes, then ``confirm``."""
        if not self.export.one_file and self.names and not self.names.search(name):
            return False
        first = self.export.start(name, _CHUNK)[:1]
        if not first or chr(first[0]) not in self.look.opens:
            return False  # a picture, an attachment: judged by its first bytes, never read on
        head = self.export.head(name, self.look.size)
        try:
            return self.look.matches(head) and self.confirm(name, head)
        except _CONVERT_ERRORS:  # a check that trips on an odd value: not recognised
            return False

    def confirm(self, name: str, head: bytes) -> bool:
        """A closer look, for formats that need to parse; the head already matched."""
        return True

    # -- reading -----------------------------------------------------------------------------

    def records(self, claim: Claim, *, planned: bool) -> Iterator[Record]:
        names = self.candidates(claim)
        before = list(self.prologue(names))  # side files: the account is known before the info
        yield self.info(names)
        if not planned:
            yield from export_problems(self.export)
        yield from before
        for name in names:
            self.member = name
            yield from self.read(name)
        yield from self.epilogue(names)

    def candidates(self, claim: Claim) -> list[str]:
        """The members read one by one (by default the claimed ones)."""
        return claim.members

    def info(self, names: list[str]) -> ExportInfo:
        return ExportInfo(
            kind=self.kind,
            account_id=self.account_id,
            full_export=self.full_export(),
            files=[(name, self.export.size(name)) for name in names],
            expected_conversations=len(names) if self.shape == "file" else None,
        )

    def full_export(self) -> bool:
        """True when the export holds every conversation of its account (gone-upstream flags)."""
        return False

    def prologue(self, names: list[str]) -> Iterator[Record]:
        """Records before the conversations (account files), read before the ``ExportInfo``."""
        return iter(())

    def epilogue(self, names: list[str]) -> Iterator[Record]:
        """Records after the conversations (what nothing read)."""
        return iter(())

    def read(self, name: str) -> Iterator[Record]:
        if self.shape == "file":
            yield from self.whole(name)
        else:
            yield from self.stream(name)

    def stream(self, name: str) -> Iterator[Record]:
        """Each element of ``name``; a file that breaks ends with a problem saying where, how
        many were read, and what to do."""
        count = 0

        def lost() -> str:
            return (
                f"{plural(count, self.noun)} read before it; the rest of this file was not "
                f"imported — {self.again}"
            )

        try:
            for element in self.elements(name):
                count += 1
                yield from self.element(*element)
        except JsonStreamError as error:
            yield Problem(name, f"{error} at character {error.offset}: {lost()}")
        except FreeholdError as error:
            yield Problem(name, f"{error}: {lost()}")
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
            yield Problem(name, f"the data stops ({error}): {lost()}")
        except ValueError as error:  # a whole-file parse (``elements`` overridden)
            yield Problem(name, f"not valid JSON ({error}): {lost()}")

    def elements(self, name: str) -> Iterator[Element]:
        """The elements of a JSON array (or the one object) in ``name``, streamed."""
        with self.export.open(name) as handle:
            for element in iter_elements(handle):
                where = f"{name}[{element.index}]"
                yield where, element.value, element.raw, element.problems

    def whole(self, name: str) -> Iterator[Record]:
        """``name`` as one conversation, read whole."""
        if self.export.size(name) > self.limit:
            too_big = f"larger than {self.limit >> 20} MiB"
            yield from self.skip(name, too_big, "split or check the file")
            return
        try:
            with self.export.open(name) as handle:
                raw = handle.read()
        except READ_ERRORS as error:
            yield from self.skip(name, f"cannot be read ({error})", self.again)
            return
        try:
            value = self.parse(raw)
        except RecursionError:
            yield from self.skip(name, "nested too deeply to read", self.too_deep, raw=raw)
            return
        except ValueError as error:
            bad = f"not valid JSON ({error}; truncated?)"
            yield from self.skip(name, bad, self.again, raw=raw)
            return
        yield from self.element(name, value, raw, [], todo="check this file")

    def parse(self, raw: bytes) -> Any:
        return orjson.loads(raw)

    # -- converting again from kept raw JSON (``freehold reparse``) --------------------------

    @classmethod
    def reconvert(cls, raw: bytes, kept: Kept) -> Iterator[Record]:
        """The conversation ``raw`` holds, converted again with the state ``kept`` rebuilds,
        and its problems; a raw JSON that is not one of this format's conversations is one
        skipped problem (the archive keeps it as it was)."""
        with Export(KeptFiles(kept.files), Path(KeptFiles.label)) as export:
            reading = cls(export)
            reading.account_id = kept.account_id
            reading.restore(kept)
            yield from reading.read_again(raw, kept)

    def restore(self, kept: Kept) -> None:
        """Rebuild the import's state from the kept files (by default there is none to)."""
        return None

    def read_again(self, raw: bytes, kept: Kept) -> Iterator[Record]:
        """One kept raw JSON, parsed and converted as an element of the export was."""
        where = f"{self.kind} conversation {kept.source_id}"
        if type(self).convert is Format.convert:  # it reads its export another way
            yield Problem(where, f"{_NO_CONVERT} — import its export again", skipped=1)
            return
        try:
            value = self.parse(raw)
        except (ValueError, RecursionError) as error:
            what = f"its raw JSON cannot be parsed ({error}); left as it was"
            yield Problem(where, what, skipped=1)
            return
        try:
            valid = self.valid(value)
        except _CONVERT_ERRORS:
            valid = False
        if not valid:
            what = f"its raw JSON is not read as a {self.noun} ({self.invalid}); left as it was"
            yield Problem(where, what, skipped=1)
            return
        convert = self.converter(value)
        yield from self.guarded(where, value, raw, convert=convert, source_id=kept.source_id)

    def converter(self, value: Any) -> Callable[[Any, bytes], Conversation]:
        """What converts ``value`` when it is read again (``convert``, unless a format has
        several kinds of conversation and told them apart by the file they were in)."""
        return self.convert

    # -- one element -------------------------------------------------------------------------

    def valid(self, value: Any) -> bool:
        """Whether an element is one of this format's conversations at all."""
        return isinstance(value, dict)

    def element(
        self,
        where: str,
        value: Any,
        raw: bytes,
        problems: list[str],
        *,
        todo: str = "check this element of the export",
    ) -> Iterator[Record]:
        try:
            valid = self.valid(value)
        except _CONVERT_ERRORS:
            valid = False
        if not valid:
            yield from self.skip(where, "; ".join(problems) or self.invalid, todo, raw=raw)
            return
        yield from self.guarded(where, value, raw, problems, todo=todo)

    def guarded(
        self,
        where: str,
        value: Any,
        raw: bytes,
        problems: list[str] | None = None,
        *,
        convert: Callable[[Any, bytes], Conversation] | None = None,
        todo: str = "check this element of the export",
        source_id: str | None = None,
    ) -> Iterator[Record]:
        """``convert`` with its odd values noted; an error it raises costs the conversation's
        messages only, when its id is known (``source_id``, else ``identify``), else the
        conversation."""
        # Nothing is yielded while the notes are being collected: whoever consumes the records
        # must not note into this conversation's collector.
        with noting() as notes:
            try:
                conversation = (convert or self.convert)(value, raw)
            except _CONVERT_ERRORS as error:
                failed: Exception | None = error
            else:
                failed = None
        if failed is not None:
            known = source_id or self._identified(value, raw)
            yield from self.salvage(where, known, value, raw, failed, notes, todo)
            return
        conversation.problems[:0] = problems or []
        conversation.problems += notes.lines()
        yield conversation

    def convert(self, value: Any, raw: bytes) -> Conversation:
        """One element → a ``Conversation``; raise ``ValueError`` when it has no usable id."""
        raise NotImplementedError

    def identify(self, value: Any, raw: bytes) -> str | None:
        """The conversation id of an element ``convert`` could not read, to keep it by."""
        return None

    def _identified(self, value: Any, raw: bytes) -> str | None:
        try:
            return self.identify(value, raw)
        except _CONVERT_ERRORS:
            return None

    def salvage(
        self,
        where: str,
        source_id: str | None,
        value: Any,
        raw: bytes,
        error: Exception,
        notes: Notes,
        todo: str,
    ) -> Iterator[Record]:
        what = f"{type(error).__name__}: {error}"
        if source_id is None or isinstance(error, RecursionError):
            unreadable = f"not a readable {self.noun} ({what})"
            yield from self.skip(where, unreadable, todo, it=True, raw=raw)
            return
        yield self.salvaged(source_id, value, raw, notes)
        lost = f"its messages could not be read ({what}); kept with its title, times and raw JSON"
        yield Problem(where, f"{lost} only — please report this (the raw JSON is in the archive)")

    def salvaged(self, source_id: str, value: Any, raw: bytes, notes: Notes) -> Conversation:
        """What can be kept of a conversation whose messages could not be read: its head
        (``heading``), read loosely, and its raw JSON; marked so that the archive never lets
        it replace a stored copy."""
        with noting() as more:
            title = _first(value, self.heading.title, _fields.text)
            created = _first(value, self.heading.created, _fields.when)
            updated = _first(value, self.heading.updated, _fields.when)
        problems = notes.lines()
        problems += [line for line in more.lines() if line not in problems]
        return Conversation(
            self.kind,
            source_id,
            title,
            [],
            raw,
            created_at=created,
            updated_at=updated,
            account_id=self.account_id,
            problems=problems,
            salvaged=True,
        )

    def skip(
        self, where: str, what: str, todo: str, *, it: bool = False, raw: bytes = b""
    ) -> Iterator[Record]:
        """One skipped conversation, saying what it was and what to do. Its raw bytes, when
        there are any, are kept as a file of the import (lossless), and the problem says
        under which name."""
        subject = "it" if it else f"this {self.noun}"
        kept = ""
        if raw:
            file, said = self.kept(where, raw)
            yield file
            kept = f" ({said})"
        yield Problem(where, f"{what}; {subject} was skipped{kept} — {todo}", skipped=1)

    def kept(self, where: str, raw: bytes) -> tuple[SourceFile, str]:
        """``raw``, the text of what was skipped at ``where``, as a file of the import
        (``source_files``), and the words that tell a person where to find it."""
        name = f"{SKIPPED}/{where}"
        return SourceFile(name, raw), f"its raw text is kept in the archive as {name}"


# -- shared pieces of mappings ---------------------------------------------------------------------


def folder_of(name: str) -> str:
    """The folder of an export's member, with its slash ("" at the top)."""
    folder = name.rpartition("/")[0]
    return folder + "/" if folder else ""


def under(name: str, folders: set[str]) -> bool:
    """Whether the member ``name`` lies in one of ``folders`` (each with its slash): another
    export's, left whole to a claim of its own (``Claim.again``)."""
    return any(name.startswith(folder) for folder in folders)


def linear(
    items: list[Any],
    build: Callable[[dict[str, Any], int], Message],
    problems: list[str],
    noun: str = "message",
    rename: Callable[[int], str] | None = None,
) -> list[Message]:
    """Messages of a linear conversation: each hangs from the one before (an id given twice is
    made unique first, ``tree.unique_ids``: ``rename`` gives the format's own name for the
    duplicate at an item's index); a non-object item is left out with a problem."""
    messages: list[Message] = []
    indexes: list[int] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{noun} {index} is not an object; left out — check the export")
            continue
        messages.append(build(item, index))
        indexes.append(index)
    own = (lambda at: rename(indexes[at])) if rename is not None else None
    unique_ids(messages, problems, noun, own)
    for before, message in zip([None, *messages], messages, strict=False):
        message.parent_source_id = before.source_id if before else None
    return messages


def _first(value: Any, keys: tuple[str, ...], read: Callable[[Any, str], Any]) -> Any:
    """The first of ``keys`` that ``read`` finds a value for in ``value``."""
    for key in keys:
        found = read(value, key)
        if found is not None:
            return found
    return None


def first_time(messages: list[Message]) -> float | None:
    times = [m.created_at for m in messages if m.created_at is not None]
    return min(times) if times else None
