"""Which importer reads which part of a path, and what no importer reads.

A file is read by the first importer that recognises it. A folder or zip may hold several
exports — AI Studio prompts beside a Grok export and a Claude file — so each importer, in the
registry's order, claims what it recognises among the members nobody claimed yet (an export
with a folder layout, such as ChatGPT's, claims its whole folder) and is later given only those
(``iter_conversations(path, only=…)``); a format that says the path holds another export of it
(``Claim.again``: two ChatGPT exports unpacked side by side) claims again among what is left,
each export a part of its own. The members nobody claims are named in the report, each
with what it is (``_diagnose``); when nobody claims anything, ``_diagnose`` says what the path
is and what to do instead.

One import of a path is one ``sources`` row whatever it holds: its kind is the kinds it held
(``aistudio+claude+grok``, each once), each conversation keeps its own kind (its identity), and the
records of the parts follow one another behind one ``ExportInfo``. What opening the path lost
(refused zip members, a cut zip) is reported once here, not once per importer.

An importer that does not use the skeleton (a third-party plugin with only ``detect`` and
``iter_conversations``) cannot say what it claims: when it recognises the path, it reads all
of it, as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freehold import plugins
from freehold._words import plural
from freehold.errors import BadExportError, UnknownExportError
from freehold.importers import _diagnose
from freehold.importers._common import export_problems
from freehold.importers._safezip import ExportFiles, check_on_disk, lending
from freehold.importers._skeleton import Claim, Export
from freehold.litter import is_litter
from freehold.models import Conversation, ExportInfo, Problem, Record

__all__ = ["Part", "Plan", "plan"]

_LISTED = 20  # left-out members named one by one; the rest are counted


@dataclass(frozen=True)
class Part:
    """One importer and the members of the path it reads (None: all of it)."""

    module: str
    kind: str
    version: str
    only: tuple[str, ...] | None = None

    def load(self) -> Any:
        return importlib.import_module(self.module)

    def records(self, path: Path) -> Iterator[Record]:
        """The importer's records, each conversation stamped with this part's version."""
        module = self.load()
        if self.only is None:
            return _stamped(module.iter_conversations(path), self.version)
        return _stamped(module.iter_conversations(path, only=self.only), self.version)


def _stamped(records: Iterable[Record], version: str) -> Iterator[Record]:
    """The archive keeps which importer version made each conversation, to re-read those an
    older one made when the same raw JSON comes again (``Archive.add_conversation``)."""
    for record in records:
        if isinstance(record, Conversation) and record.parser_version is None:
            record.parser_version = version
        yield record


@dataclass
class Plan:
    """What importing ``path`` will read, with whom, and what it leaves out."""

    path: Path
    parts: list[Part]
    problems: list[Problem] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # members no importer reads (not litter)
    # The export as ``plan(keep=True)`` opened it, for ``records`` to read (never pickled: a
    # spawned reader opens its own).
    files: ExportFiles | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "files": None}

    def close(self) -> None:
        """Close what ``plan(keep=True)`` kept open."""
        if self.files is not None:
            self.files.close()

    @property
    def kind(self) -> str:
        return _joined(part.kind for part in self.parts)

    @property
    def version(self) -> str:
        return _joined(part.version for part in self.parts)

    def records(self) -> Iterator[Record]:
        """One ``ExportInfo`` (the parts' merged when several), what the plan found, then the
        records of each part in turn."""
        with lending(self.files, self.path):  # each part opens the path as it starts
            streams = [part.records(self.path) for part in self.parts]
            infos = [
                _info(stream, self.path, part)
                for stream, part in zip(streams, self.parts, strict=True)
            ]
        yield infos[0] if len(infos) == 1 else _merged(infos)
        yield from self.problems
        for stream in streams:
            yield from stream


def plan(path: Path, *, keep: bool = False) -> Plan:
    """Who reads what in ``path``; raises ``UnknownExportError`` when nobody reads anything.

    With ``keep``, the export stays open for ``Plan.records`` to read (``Plan.close`` closes
    it): opened and checked once per import."""
    check_on_disk(path)
    export = Export.of(path)
    try:
        found = _plan(path, export)
    except BaseException:
        export.close()
        raise
    if keep:
        found.files = export.files
    else:
        export.close()
    return found


def _plan(path: Path, export: Export) -> Plan:
    """Claims in the registry's order, each among what earlier ones did not take; a claim's
    ``shared`` members stay on offer to the formats after it, and what nobody read of them
    goes back to the claim, so a Grok file inside a ChatGPT export's folder is read as Grok,
    while the export's own files (attachments included) are never offered."""
    claims: list[tuple[Any, Claim]] = []
    free = export.names()
    for module in plugins.importers().values():
        fmt = getattr(module, "FORMAT", None)
        if fmt is None:
            if not claims and module.detect(path):
                return Plan(path, [Part(module.__name__, module.KIND, module.PARSER_VERSION)])
            continue
        again = True  # while the format says the path holds another export of it
        while again and free:
            claim = fmt(export.restrict(free)).claimed()
            again = claim.again and bool(claim.members)
            if claim.members:
                claims.append((module, claim))
                taken = set(claim.members) | (claim.owns - claim.shared)
                free = [n for n in free if n not in taken]
    if not claims:
        raise UnknownExportError(_diagnose.unknown(path, export))
    parts = []
    for module, claim in claims:
        extra = {n for n in free if n in claim.shared}
        free = [n for n in free if n not in extra]
        only = tuple(sorted({*claim.members, *(claim.owns - claim.shared), *extra}))
        parts.append(Part(module.__name__, module.KIND, module.PARSER_VERSION, only))
    problems = list(export_problems(export)) + list(_left_out(export, free))
    return Plan(path, parts, problems, [n for n in free if not is_litter(n)])


def _left_out(export: Export, free: list[str]) -> Iterator[Problem]:
    """Each member nobody reads, with what it is; past ``_LISTED``, a count and names. One
    that may hold conversations (``_diagnose``: JSON, a database, an archive, damaged data) is
    lost, and makes the import fail: a file of conversations nobody recognised must not pass
    as a note."""
    names = [n for n in free if not is_litter(n)]
    for name in names[:_LISTED]:
        found = _diagnose.member(export, name)
        yield Problem(name, _diagnose.left_out(found), lost=found.lost)
    rest = names[_LISTED:]
    if rest:
        shown = ", ".join(rest[:5]) + (f" and {len(rest) - 5} more" if len(rest) > 5 else "")
        what = f"{plural(len(rest), 'more file')} no importer reads, left out: {shown}"
        lost = any(_diagnose.member(export, name, parse=False).lost for name in rest)
        yield Problem(export.label, what, lost=lost)


def _info(stream: Iterator[Record], path: Path, part: Part) -> ExportInfo:
    first = next(stream, None)
    if not isinstance(first, ExportInfo):
        raise BadExportError(f"{path.name}: the {part.kind} importer found nothing to read")
    return first


def _merged(infos: list[ExportInfo]) -> ExportInfo:
    """Several exports in one path: every file, and no account (nothing is flagged gone
    upstream, since no part is known to be a whole account's export on its own)."""
    files = [item for info in infos for item in info.files]
    return ExportInfo(kind=_joined(info.kind for info in infos), files=files)


def _joined(kinds: Iterable[str]) -> str:
    """``claude+aistudio``: each kind once, in the order of the parts."""
    return "+".join(dict.fromkeys(kinds))
