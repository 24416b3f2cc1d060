"""The exit plan: for every platform a person rents, know what it holds, keep its exports, and
know when the next one is due.

Three parts. The **catalogue** (``exits.toml``, shipped with freehold, dated, each entry with
its sources) describes common platforms: what data each holds, where its export is, which
formats it gives (open or not: ``formats.py`` decides, one rule for the catalogue and for
files) and a suggested cadence. The **plan** is the person's list of platforms (from the
catalogue or their own), in the archive (``exit_platforms``). Each **recorded export** is a
file kept in ``vault/`` by its SHA-256, exactly as attachments are kept in ``blobs/``, with
its date, size, sniffed format and name (``exit_exports``); the vault is part of every backup.
An AI platform's export is also imported into the archive by freehold's importers.

``status`` says, per platform, when the last export was taken and whether the next one is
overdue (the last export's date plus the cadence has passed, or none was ever recorded), and
whether the latest one is in an open format. The date of an export is the one given, else the
file's modification time (when it was downloaded), never later than now. Only a **usable**
export counts (``unusable``): one whose container was cut short or damaged, or an AI export no
import has read, is kept but does not move the due date, and one newer than the last usable
export is named, so a failed download is not mistaken for a fresh export.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, cast

from freehold import formats
from freehold._exitplan import ExportRecord, PlanEntry
from freehold.archive import Archive, now_iso
from freehold.errors import FreeholdError, NotFoundError
from freehold.importers._plan import plan as import_plan
from freehold.importers._safezip import check_on_disk
from freehold.ingest import ImportReport, Progress, import_path

__all__ = [
    "CATEGORIES",
    "Catalogue",
    "Format",
    "Platform",
    "Recorded",
    "Status",
    "Unusable",
    "add",
    "catalogue",
    "import_export",
    "needs_import",
    "parse_cadence",
    "parse_date",
    "planned",
    "record",
    "status",
    "unknown_platform",
    "unusable",
]

CATEGORIES = {
    "ai": "AI chat apps",
    "payments": "Payments",
    "email-list": "E-mail lists",
    "crm": "CRMs",
    "shop": "Shops",
    "hosting": "Hosting",
    "social": "Social accounts",
    "cloud-drive": "Cloud drives",
    "mail": "Mail",
    "workspace": "Workspaces",
}
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_CADENCES = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365}
_MAX_CADENCE = 3660


@dataclass(frozen=True)
class Format:
    """A format a platform's export comes in; ``open`` by ``formats.is_open``."""

    format: str
    note: str | None = None

    @property
    def open(self) -> bool:
        return formats.is_open(self.format)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "open": self.open, "note": self.note}


@dataclass(frozen=True)
class Platform:
    """A catalogue entry: what the platform holds and how to take its data out."""

    id: str
    name: str
    category: str
    holds: tuple[str, ...]
    export: str
    docs: str
    formats: tuple[Format, ...]
    cadence_days: int
    sources: tuple[str, ...]
    importer: str | None = None
    note: str | None = None
    aliases: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "aliases": list(self.aliases),
            "category": self.category,
            "holds": list(self.holds),
            "export": self.export,
            "docs": self.docs,
            "formats": [f.to_json() for f in self.formats],
            "cadence_days": self.cadence_days,
            "importer": self.importer,
            "sources": list(self.sources),
            "note": self.note,
        }


@dataclass(frozen=True)
class Catalogue:
    """The shipped catalogue: ``compiled`` is the date its entries were checked."""

    compiled: str
    platforms: dict[str, Platform]

    def find(self, wanted: str) -> Platform | None:
        """An entry by id, or by name or another name in any case (``"Le Chat"``)."""
        key = wanted.strip().casefold()
        if key in self.platforms:
            return self.platforms[key]
        named = (p for p in self.platforms.values() if key in (p.name.casefold(), *p.aliases))
        return next(named, None)

    def suggest(self, wanted: str) -> list[str]:
        return difflib.get_close_matches(wanted.casefold(), list(self.platforms), n=3)


@cache
def catalogue() -> Catalogue:
    """The catalogue shipped as ``freehold/exits.toml`` (read once)."""
    text = resources.files("freehold").joinpath("exits.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    platforms = {entry["id"]: _platform(entry) for entry in data["platform"]}
    return Catalogue(str(data["compiled"]), platforms)


def _platform(entry: dict[str, Any]) -> Platform:
    return Platform(
        id=entry["id"],
        name=entry["name"],
        category=entry["category"],
        holds=tuple(entry["holds"]),
        export=entry["export"],
        docs=entry["docs"],
        formats=tuple(Format(f["format"], f.get("note")) for f in entry["formats"]),
        cadence_days=int(entry["cadence_days"]),
        sources=tuple(entry["sources"]),
        importer=entry.get("importer"),
        note=entry.get("note"),
        aliases=tuple(entry.get("aliases", ())),
    )


def parse_cadence(text: str) -> int:
    """Days between exports: ``30``, ``30d``, ``2w`` or ``daily``/``weekly``/``monthly``/
    ``quarterly``/``yearly``."""
    value = text.strip().lower()
    if value in _CADENCES:
        return _CADENCES[value]
    found = re.fullmatch(r"([0-9]{1,4})\s*([dw]?)", value)
    if not found or int(found[1]) == 0:
        raise FreeholdError(
            f"cadence {text!r}: give days (30, 30d), weeks (2w) or one of {', '.join(_CADENCES)}"
        )
    days = int(found[1]) * (7 if found[2] == "w" else 1)
    if days > _MAX_CADENCE:
        raise FreeholdError(f"cadence {text!r}: at most {_MAX_CADENCE} days")
    return days


def parse_date(text: str) -> str:
    """``YYYY-MM-DD`` (or an ISO time) as freehold's ISO UTC text; refuses the future."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise FreeholdError(f"date {text!r}: give it as YYYY-MM-DD") from error
    when = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if when > datetime.now(UTC) + timedelta(days=1):
        raise FreeholdError(f"date {text!r} is in the future: give the day the export was made")
    return when.astimezone(UTC).isoformat(timespec="seconds")


# -- the plan ---------------------------------------------------------------------------------


def add(
    archive: Archive,
    wanted: str,
    *,
    name: str | None = None,
    cadence: int | None = None,
    where: str | None = None,
    note: str | None = None,
) -> tuple[PlanEntry, str]:
    """Add a platform to the plan, or change it there; returns the entry and what happened
    (``added``, ``updated``, ``restored``). A catalogue platform is named by its id or name;
    one of the person's own needs ``name`` and an id of lowercase letters, digits and dashes."""
    found = catalogue().find(wanted)
    key = found.id if found else wanted.strip().lower()
    before = archive.exit_platform(key)
    if found is None and name is None and before is None:
        raise FreeholdError(unknown_platform(wanted))
    if found is not None and name is not None:
        raise FreeholdError(
            f"{found.id}: a catalogue platform keeps its own name ({found.name}) — leave out "
            "--name (it names a platform of your own)"
        )
    if found is None and not _ID.fullmatch(key):
        raise FreeholdError(
            f"{wanted!r}: a platform id is 1–40 lowercase letters, digits and dashes "
            "(e.g. acme-crm); give the platform's own name with --name"
        )
    entry = PlanEntry(
        id=key,
        name=found.name if found else name or (before.name if before else key),
        catalogue_id=found.id if found else None,
        cadence_days=cadence or (before.cadence_days if before else _cadence_of(found)),
        export_where=where if where is not None else before.export_where if before else None,
        note=note if note is not None else before.note if before else None,
        added_at=now_iso(),
    )
    return entry, archive.save_exit_platform(entry)


def _cadence_of(platform: Platform | None) -> int:
    return platform.cadence_days if platform else _CADENCES["monthly"]


def unknown_platform(wanted: str) -> str:
    """The message for a name that is neither in the catalogue nor in the plan."""
    close = catalogue().suggest(wanted)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (
        f"{wanted!r} is not in the catalogue — {hint}`freehold exits list --catalogue` lists "
        f"the platforms it knows; to add one of your own, give its name: {_add_command(wanted)}"
    )


def _add_command(wanted: str) -> str:
    """The ``exits add`` command that adds ``wanted``: a platform of the catalogue by its id,
    one of the person's own with the --name it needs."""
    found = catalogue().find(wanted)
    if found is not None:
        return f"freehold exits add {found.id}"
    slug = re.sub(r"[^a-z0-9]+", "-", wanted.lower()).strip("-")[:40] or "my-platform"
    return f"freehold exits add {slug} --name {shlex.quote(wanted.strip())}"


def planned(archive: Archive, wanted: str) -> PlanEntry:
    """A platform of the plan by id or catalogue name; NotFoundError when it is not there."""
    found = catalogue().find(wanted)
    entry = archive.exit_platform(found.id if found else wanted.strip().lower())
    if entry is None or entry.removed_at:
        raise NotFoundError(f"{wanted!r} is not in your exit plan — add it: {_add_command(wanted)}")
    return entry


# -- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unusable:
    """A recorded export that does not count (``why``: from ``unusable``)."""

    export: ExportRecord
    why: str

    def to_json(self) -> dict[str, Any]:
        return {**self.export.to_json(), "why": self.why}


@dataclass(frozen=True)
class Status:
    """Where one platform of the plan stands: its latest usable export, when the next one is
    due (``due``: that export's date plus the cadence, or the day it was added when none was
    ever recorded), whether that has passed, and the exports newer than it that are not usable
    (``unusable``, newest first: a failed download or import to do again)."""

    entry: PlanEntry
    latest: ExportRecord | None
    due: datetime
    overdue: bool
    days_overdue: int
    unusable: tuple[Unusable, ...] = ()

    @property
    def platform(self) -> Platform | None:
        return catalogue().platforms.get(self.entry.catalogue_id or "")

    @property
    def not_open(self) -> bool:
        """The latest export is not (all) in an open format."""
        return self.latest is not None and not self.latest.open

    @property
    def needs_action(self) -> bool:
        """Overdue, or the newest export recorded is not usable: take the export again."""
        return self.overdue or bool(self.unusable)

    def to_json(self) -> dict[str, Any]:
        platform = self.platform
        return {
            "id": self.entry.id,
            "name": self.entry.name,
            "category": platform.category if platform else None,
            "cadence_days": self.entry.cadence_days,
            "last_export": self.latest.exported_at if self.latest else None,
            "due": self.due.isoformat(timespec="seconds"),
            "overdue": self.overdue,
            "days_overdue": self.days_overdue,
            "latest": self.latest.to_json() if self.latest else None,
            "latest_open": self.latest.open if self.latest else None,
            "unusable": [u.to_json() for u in self.unusable],
        }


def unusable(export: ExportRecord) -> str | None:
    """Why a recorded export cannot count as the platform's latest, None when it can: its
    container was cut short or is damaged (said when it was recorded), or it is an export of a
    platform freehold imports (an AI app) that no import has read — the import failed, was cut,
    or ``--no-import`` was given. The one rule for ``status`` and all who read it."""
    problem = (export.contents or {}).get("problem")
    if problem:
        return str(problem)
    if _importer(export.platform_id) is not None and export.source_id is None:
        return (
            "not imported (the import failed, or it was recorded with --no-import) — record "
            "it again to import it, or download the export again"
        )
    return None


def status(archive: Archive, now: datetime | None = None) -> list[Status]:
    """Every platform of the plan, most overdue first, then by name."""
    moment = now or datetime.now(UTC)
    latest: dict[str, ExportRecord] = {}
    newer: dict[str, list[Unusable]] = {}
    for export in archive.exit_exports():  # newest first: the first usable one is the latest
        if export.platform_id in latest:
            continue
        why = unusable(export)
        if why is None:
            latest[export.platform_id] = export
        else:
            newer.setdefault(export.platform_id, []).append(Unusable(export, why))
    found = [
        _status(entry, latest.get(entry.id), moment, newer.get(entry.id, []))
        for entry in archive.exit_plan()
    ]
    return sorted(found, key=lambda s: (not s.overdue, -s.days_overdue, s.entry.name.casefold()))


def _status(
    entry: PlanEntry, latest: ExportRecord | None, now: datetime, newer: list[Unusable]
) -> Status:
    start = datetime.fromisoformat(latest.exported_at if latest else entry.added_at)
    due = start + timedelta(days=entry.cadence_days) if latest else start
    late = now - due
    # Nothing kept yet is overdue from the moment the platform is in the plan, whatever the
    # clock says (a plan added "after" the moment asked about is still without an export).
    overdue = latest is None or late > timedelta(0)
    return Status(entry, latest, due, overdue, max(0, late.days), tuple(newer))


# -- recording an export ----------------------------------------------------------------------


@dataclass
class Recorded:
    """What ``record`` did: the row (``new`` False when this file was recorded before;
    ``moved_from``: the earlier export date it had, when this record moved it forward), the
    platform added to the plan on the way (``added``), and for an AI export the import's
    report, or why the import failed."""

    export: ExportRecord
    new: bool
    sniffed: formats.Sniffed
    added: str | None = None
    report: ImportReport | None = None
    import_error: str | None = None
    notes: list[str] = field(default_factory=list)
    moved_from: str | None = None  # recorded before with this earlier export date


CopyProgress = Callable[[int], None]


def record(
    archive: Archive,
    wanted: str,
    path: Path,
    *,
    exported_at: str | None = None,
    copying: CopyProgress | None = None,
) -> Recorded:
    """Keep ``path`` in the vault as an export of ``wanted`` and record it (``import_export``
    then imports an AI export). A catalogue platform not yet in the plan is added; a missing,
    empty or folder path is refused before anything is written."""
    _check_file(path)
    note = _check_kind(wanted, path)
    entry, added = _entry_for(archive, wanted)
    sniffed = formats.sniff(path)
    with path.open("rb") as handle:
        sha, _, size = archive.write_vault(cast(IO[bytes], _Counted(handle, copying)))
    export, new, earlier = archive.record_exit_export(
        {
            "platform_id": entry.id,
            "sha256": sha,
            "file_name": path.name,
            "size": size,
            "format": sniffed.format,
            "mime": sniffed.mime,
            "open": sniffed.open,
            "contents": sniffed.contents(),
            "exported_at": exported_at or _modified(path),
            "recorded_at": now_iso(),
        }
    )
    return Recorded(export, new, sniffed, added, notes=[note] if note else [], moved_from=earlier)


def needs_import(done: Recorded) -> bool:
    """Whether ``done`` is an AI export that no import has read yet."""
    return _importer(done.export.platform_id) is not None and done.export.source_id is None


def import_export(
    archive: Archive, done: Recorded, path: Path, progress: Progress | None = None
) -> None:
    """Import a recorded AI export (``path``, the file recorded) with freehold's importers;
    the report, or why it failed, goes into ``done``. A recorded export is never lost to a
    failed import: the file is in the vault either way."""
    importer = _importer(done.export.platform_id)
    if importer is None or done.export.source_id is not None:
        return
    try:
        report = import_path(archive, path, progress=progress)
    except FreeholdError as error:
        done.import_error = str(error)
        return
    done.report = report
    archive.link_exit_import(done.export.id, report.source_id)
    done.export = dataclasses.replace(done.export, source_id=report.source_id)  # as stored
    if importer not in report.kind.split("+"):
        done.notes.append(f"recorded under {done.export.platform_id} but read as {report.kind}")


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise FreeholdError(
            f"{path}: a folder — record the export file itself (or zip the folder first: "
            f"zip -r {path.name}.zip {path.name})"
        )
    check_on_disk(path)  # missing, or a pipe or a device
    if path.stat().st_size == 0:
        raise FreeholdError(
            f"{path.name}: an empty file (0 bytes) — the download did not finish; get it again"
        )


def _check_kind(wanted: str, path: Path) -> str | None:
    """An AI platform's export is that platform's, and counts for no other: a ChatGPT export
    recorded under Gemini (or under Perplexity or Mailchimp, which freehold cannot import)
    would count as that platform's latest export (status: not due for a month) while its own
    history was never saved. Every file is sniffed, whatever the platform; one that is
    nothing but an AI platform's export is refused under any other, before anything is
    written, naming the platform it belongs to. Under a platform freehold imports, a file of
    another kind is refused too. Under one it does not import, a file that holds more than an
    AI export (a Google Drive Takeout with a Google AI Studio folder among the documents) is
    that platform's export: kept, with a note (returned) to record it under the AI platform
    too. A file no importer recognises passes: under an AI platform its import fails and
    says so, and ``unusable`` does not count it."""
    found = catalogue().find(wanted)
    expected = found.importer if found else None
    try:
        read = import_plan(path)
    except FreeholdError:
        return None
    kinds = read.kind.split("+")
    if expected in kinds:
        return None
    owner = next((p for p in catalogue().platforms.values() if p.importer in kinds), None)
    if expected is None and (owner is None or read.left_out):
        return None if owner is None else _also(owner.id, read.kind, path)
    where = f"freehold exits record {owner.id} {shlex.quote(str(path))}" if owner else "its own"
    name = found.name if found else wanted
    raise FreeholdError(
        f"{path.name}: {_article(read.kind)} {read.kind} export, not {name}'s — nothing was "
        f"recorded; record it under the platform it comes from: {where}"
    )


def _also(owner: str, kind: str, path: Path) -> str:
    return (
        f"it holds {_article(kind)} {kind} export too — record it under that platform as "
        f"well, so the plan counts it there: freehold exits record {owner} "
        f"{shlex.quote(str(path))}"
    )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _entry_for(archive: Archive, wanted: str) -> tuple[PlanEntry, str | None]:
    """The plan's entry for ``wanted``; a catalogue platform (or one taken out of the plan)
    is added on the way."""
    try:
        return planned(archive, wanted), None
    except NotFoundError:
        found = catalogue().find(wanted)
        before = archive.exit_platform(found.id if found else wanted.strip().lower())
        if found is None and before is None:
            raise
    entry, what = add(archive, wanted)
    return entry, what


def _modified(path: Path) -> str:
    """The file's modification time (its download, usually), never later than now."""
    moment = min(datetime.fromtimestamp(path.stat().st_mtime, UTC), datetime.now(UTC))
    return moment.isoformat(timespec="seconds")


def _importer(platform_id: str) -> str | None:
    """The importer of a catalogue platform's exports (an AI app), else None."""
    platform = catalogue().platforms.get(platform_id)
    return platform.importer if platform else None


class _Counted:
    """A stream that tells ``tick`` how many bytes were read so far (the copy's progress)."""

    def __init__(self, stream: IO[bytes], tick: CopyProgress | None) -> None:
        self.stream = stream
        self.tick = tick
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.done += len(chunk)
        if self.tick is not None:
            self.tick(self.done)
        return chunk
