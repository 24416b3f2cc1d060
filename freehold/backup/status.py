"""``freehold backup status``: per destination, the last run, verify and drill; 3-2-1 or not.

Read from this machine's state alone (no network): a status is cheap enough for a scheduled
job and the web app. A destination counts as a copy while its last successful run is at most
48 hours old. 3-2-1 is met with at least three copies (the archive itself is the first), on
at least two kinds of media (this disk, another disk, remote storage) and at least one off
site. A place is one copy whatever its names: a destination that is the same place as one
before it (``destinations.duplicates``) is not counted, and is a problem. The status fails
(``ok`` false, and the command exits 1) when any destination has no successful run in 48
hours, when its last run found a stored file gone or changed on disk (``run``: the last good
copy), when its last drill failed, when two names are one place, or when there is no
destination.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freehold.backup import schedule
from freehold.backup.credentials import masked
from freehold.backup.destinations import duplicates, media
from freehold.backup.run import offsite, same_place_problem
from freehold.backup.settings import DestinationConfig, load
from freehold.backup.state import Event, State, open_state
from freehold.errors import FreeholdError

__all__ = ["MAX_AGE", "DailyJob", "DestinationStatus", "Status", "daily_job", "status"]

MAX_AGE = timedelta(hours=48)


@dataclass(slots=True)
class DestinationStatus:
    name: str
    url: str
    media: str
    offsite: bool
    last_run: dict[str, Any] | None
    last_success: str | None
    last_verify: dict[str, Any] | None
    last_drill: dict[str, Any] | None
    current: bool  # a successful run in the last 48 hours
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Status:
    destinations: list[DestinationStatus]
    copies: int
    media_kinds: list[str]
    offsite: bool
    three_two_one: bool
    schedule: str  # ``daily_job.words()``: what the terminal and ``--json`` have said
    kit_saved: str | None
    problems: list[str]
    daily_job: DailyJob  # the same, as a state a page phrases in its language

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _event(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"at": event.at, "ok": event.ok, "snapshot": event.snapshot, **event.detail}


@dataclass(slots=True)
class DailyJob:
    """What ``freehold backup schedule`` installed for a data folder, as a state a page can
    phrase in its language (``web/templates/backups.html``) and ``words`` in English: ``active``
    or ``inactive`` (written, not active; ``at``, ``kind``), ``none``, ``elsewhere`` (the job
    backs up another folder, ``home``), ``unknown`` (the scheduler could not be asked,
    ``error``)."""

    state: str
    at: str | None = None
    kind: str | None = None
    home: str | None = None
    error: str | None = None

    def words(self) -> str:
        if self.state == "unknown":
            return f"unknown ({self.error})"
        if self.state == "none":
            return "not scheduled (freehold backup schedule)"
        if self.state == "elsewhere":
            return f"not scheduled: the daily job backs up {self.home} (freehold backup schedule)"
        state = "active" if self.state == "active" else "written, NOT active"
        return f"daily at {self.at} ({self.kind}, {state})"


def daily_job(home: Path) -> DailyJob:
    """The daily job for the data folder ``home`` (the job is one per user account: one for
    another folder does not back this up)."""
    try:
        job = schedule.installed()
    except FreeholdError as error:  # a scheduler that cannot be asked is said, not fatal
        return DailyJob("unknown", error=str(error))
    if job is None:
        return DailyJob("none")
    if job.home != home.expanduser().absolute():
        return DailyJob("elsewhere", home=str(job.home))
    return DailyJob("active" if job.active else "inactive", at=job.at, kind=job.kind)


def status(home: Path, now: datetime | None = None) -> Status:
    settings = load(home)
    moment = now or datetime.now(UTC)
    state = open_state(home, create=False)  # a status only reads: it makes nothing
    try:
        rows = [
            _destination(state, config, home, moment) for config in settings.destinations.values()
        ]
    finally:
        state.close()
    twins = duplicates(settings.destinations.values())
    for row in rows:
        if row.name in twins:
            row.problems.append(same_place_problem(row.name, twins[row.name]))
    counted = [d for d in rows if d.current and d.name not in twins]  # one place, one copy
    kinds = sorted({"this disk", *(d.media for d in counted)})
    offsite = any(d.offsite for d in counted)
    problems = [p for d in rows for p in d.problems]
    if not rows:
        problems.append("no backup destination — freehold backup add NAME URL")
    copies = 1 + len(counted)
    job = daily_job(home)
    return Status(
        rows,
        copies,
        kinds,
        offsite,
        copies >= 3 and len(kinds) >= 2 and offsite,
        job.words(),
        settings.kit_saved,
        problems,
        job,
    )


def _destination(
    state: State, config: DestinationConfig, home: Path, moment: datetime
) -> DestinationStatus:
    success = state.last("run", config.name, ok=True)
    current = success is not None and moment - datetime.fromisoformat(success.at) <= MAX_AGE
    row = DestinationStatus(
        config.name,
        masked(config.url),  # a URL with a password in it (written by hand) is never shown
        media(config, home),
        offsite(config, home),
        _event(state.last("run", config.name)),
        success.at if success else None,
        _event(state.last("verify", config.name)),
        _event(state.last("drill", config.name)),
        current,
    )
    if not current:
        when = f"since {success.at}" if success else "ever"
        row.problems.append(f"{config.name}: no successful backup {when} (more than 48 hours)")
    if row.last_run is not None and row.last_run.get("files_not_kept"):
        row.problems.append(_not_kept(config.name, row.last_run))
    if row.last_drill is not None and not row.last_drill["ok"]:
        row.problems.append(f"{config.name}: the last drill failed ({row.last_drill['at']})")
    return row


def _not_kept(name: str, run: dict[str, Any]) -> str:
    """The last run found stored files gone or changed on disk: how many, how many lost."""
    count = run["files_not_kept"]  # the first 20 of each are listed; the counts are whole
    lost = run.get("lost_count", len(run.get("lost", [])))  # (a run before lost_count)
    first = (run.get("lost") or run.get("carried") or ["?"])[0]
    files = "1 stored file" if count == 1 else f"{count:,} stored files"
    return (
        f"{name}: the last run found {files} gone or changed on disk ({first}"
        f"{'' if count == 1 else ', …'}), {lost:,} of them in no snapshot — freehold backup "
        "run names each and what to do"
    )
