"""The daily job: installed the platform's own way, and what it runs.

``install(at="03:00")`` puts one job per user account, named ``freehold-backup``, where the
platform keeps such things: a systemd user timer on Linux (unit files in
``$XDG_CONFIG_HOME/systemd/user``, enabled with ``systemctl --user``), a launchd agent on
macOS (``~/Library/LaunchAgents``), a Task Scheduler task on Windows (``schtasks`` with a task
XML), and a crontab line anywhere else, or on a Linux without a systemd user manager. When no
scheduler answers, the line is returned for the person to add, and nothing is pretended.
``remove()`` takes it out; ``installed()`` says what is there, where, and what it runs. Both
look in every scheduler that may hold the job here (on Linux systemd and cron: a user manager
may answer now that did not when the job was installed), and ``install`` takes freehold's job
out of the others once it is in place, so there is one job, wherever it went.

The job runs ``python -m freehold.backup.daily --home DATA_FOLDER [--passphrase-file FILE]``
(``daily.py`` says what it does) with the interpreter freehold runs in, absolute: schedulers
start jobs with an almost empty PATH. The data folder travels as an argument (Task Scheduler
cannot set environment variables: one way everywhere), and so does the passphrase file's path;
the passphrase itself never enters a unit, plist, task or crontab line. ``install`` refuses a
data folder without an archive (a mistyped or unset ``FREEHOLD_HOME`` would back up nothing).
"""

from __future__ import annotations

import configparser
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import mslex
import platformdirs

from freehold.archive import ARCHIVE_NAME, home_dir
from freehold.errors import FreeholdError

__all__ = [
    "JOB",
    "Cron",
    "Job",
    "Launchd",
    "Schedule",
    "Systemd",
    "TaskScheduler",
    "cron_line",
    "install",
    "installed",
    "launchd_plist",
    "planned",
    "remove",
    "require_archive",
    "systemd_units",
    "task_xml",
]

JOB = "freehold-backup"
LABEL = "org.freehold.backup"  # launchd
_MARK = f"# {JOB}"  # ends freehold's crontab line
_TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
_TIMEOUT = 60


@dataclass(frozen=True)
class Job:
    """What the scheduler runs: this interpreter, the data folder, the passphrase file."""

    home: Path
    python: Path
    passphrase_file: Path | None = None

    def command(self) -> list[str]:
        args = [str(self.python), "-m", "freehold.backup.daily", "--home", str(self.home)]
        if self.passphrase_file is not None:
            args += ["--passphrase-file", str(self.passphrase_file)]
        return args


@dataclass(frozen=True)
class Schedule:
    """A daily job: which scheduler (``systemd``, ``launchd``, ``task-scheduler``, ``cron``),
    the local time, the command, where it lives (files, ``crontab``, the task's name), whether
    the scheduler has it (``active``; False when it could only be written or printed), and the
    text of what was (or would be) written, by file."""

    kind: str
    at: str
    command: tuple[str, ...]
    where: tuple[str, ...]
    active: bool
    files: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    @property
    def home(self) -> Path | None:
        """The data folder the job backs up (its ``--home``); None in a command not ours."""
        words = list(self.command)
        if "--home" not in words[:-1]:
            return None
        return Path(words[words.index("--home") + 1])

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at,
            "command": list(self.command),
            "where": list(self.where),
            "active": self.active,
            "note": self.note,
        }


# -- the texts each scheduler reads ------------------------------------------------------------

_HEADER = "Written by `freehold backup schedule`; `freehold backup schedule --remove` removes it."


def _clock(at: str) -> tuple[int, int]:
    found = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", at.strip())
    if not found:
        raise FreeholdError(f"time {at!r}: give the local time of day as HH:MM, e.g. 03:00")
    return int(found[1]), int(found[2])


def _systemd_word(arg: str) -> str:
    """One word of an ``ExecStart=`` line: quoted when needed; ``%`` and ``$`` doubled, which
    systemd would otherwise expand."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[\w@%+=:,./-]+", arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(job: Job, at: str) -> dict[str, str]:
    """``freehold-backup.service`` and ``.timer``: a oneshot service run daily at ``at``,
    and at the next boot when the machine was off then (``Persistent``)."""
    hour, minute = _clock(at)
    command = " ".join(_systemd_word(arg) for arg in job.command())
    service = (
        f"# {_HEADER}\n[Unit]\nDescription=freehold: daily backup, verify and exit-plan check\n\n"
        f"[Service]\nType=oneshot\nExecStart={command}\nNice=10\nIOSchedulingClass=idle\n"
    )
    timer = (
        f"# {_HEADER}\n[Unit]\nDescription=freehold: run the daily job at {hour:02d}:{minute:02d}"
        f"\n\n[Timer]\nOnCalendar=*-*-* {hour:02d}:{minute:02d}:00\nPersistent=true\n"
        f"Unit={JOB}.service\n\n[Install]\nWantedBy=timers.target\n"
    )
    return {f"{JOB}.service": service, f"{JOB}.timer": timer}


def launchd_plist(job: Job, at: str) -> str:
    """A launchd agent: run daily at ``at`` (or at wake, when the Mac slept through it)."""
    hour, minute = _clock(at)
    agent = {
        "Label": LABEL,
        "Comment": _HEADER,
        "ProgramArguments": job.command(),
        "StartCalendarInterval": {"Hour": hour, "Minute": minute},
        "RunAtLoad": False,
        "ProcessType": "Background",
        "LowPriorityIO": True,
    }
    return plistlib.dumps(agent).decode()


def task_xml(job: Job, at: str, *, start: date | None = None) -> str:
    """A Task Scheduler task (schema 1.2): daily at ``at``, as soon as possible when the
    machine was off then, only while the user is logged on (no password stored)."""
    hour, minute = _clock(at)
    day = start or date.today()
    ET.register_namespace("", _TASK_NS)
    task = ET.Element(_q("Task"), version="1.2")
    info = ET.SubElement(task, _q("RegistrationInfo"))
    _text(info, "Description", f"freehold: daily backup, verify and exit-plan check. {_HEADER}")
    trigger = ET.SubElement(ET.SubElement(task, _q("Triggers")), _q("CalendarTrigger"))
    _text(trigger, "StartBoundary", f"{day.isoformat()}T{hour:02d}:{minute:02d}:00")
    _text(trigger, "Enabled", "true")
    _text(ET.SubElement(trigger, _q("ScheduleByDay")), "DaysInterval", "1")
    principal = ET.SubElement(ET.SubElement(task, _q("Principals")), _q("Principal"), id="Author")
    _text(principal, "LogonType", "InteractiveToken")
    _text(principal, "RunLevel", "LeastPrivilege")
    settings = ET.SubElement(task, _q("Settings"))
    for name, value in _TASK_SETTINGS:
        _text(settings, name, value)
    action = ET.SubElement(ET.SubElement(task, _q("Actions"), Context="Author"), _q("Exec"))
    command = job.command()
    _text(action, "Command", command[0])
    _text(action, "Arguments", subprocess.list2cmdline(command[1:]))
    ET.indent(task)
    return '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")


_TASK_SETTINGS = (
    ("MultipleInstancesPolicy", "IgnoreNew"),
    ("DisallowStartIfOnBatteries", "false"),
    ("StopIfGoingOnBatteries", "false"),
    ("StartWhenAvailable", "true"),
    ("ExecutionTimeLimit", "PT23H"),
    ("Enabled", "true"),
)


def _q(name: str) -> str:
    return f"{{{_TASK_NS}}}{name}"


def _text(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, _q(name)).text = value


def cron_line(job: Job, at: str) -> str:
    """The crontab line: daily at ``at``; ``%`` escaped (cron reads it as a newline)."""
    hour, minute = _clock(at)
    command = " ".join(shlex.quote(arg) for arg in job.command()).replace("%", "\\%")
    return f"{minute} {hour} * * * {command} {_MARK}"


# -- the schedulers ------------------------------------------------------------------------------


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """A scheduler's own command; a missing program is a failed run, never an exception."""
    try:
        return subprocess.run(
            args, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return subprocess.CompletedProcess(args, 127, "", str(error))


def _checked(*args: str, stdin: str | None = None) -> None:
    done = _run(*args, stdin=stdin)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise FreeholdError(
            f"`{' '.join(args)}` failed ({said[-1] if said else f'exit {done.returncode}'}) — "
            "nothing was scheduled; `freehold backup schedule --print` shows what to install "
            "by hand"
        )


def _write(path: Path, text: str) -> None:
    """A scheduler's file, written whole or not at all (no secret in it: the user's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as out:
        out.write(text)
    Path(out.name).chmod(0o644)
    os.replace(out.name, path)


class _Scheduler(Protocol):
    kind: str

    def texts(self, job: Job, at: str) -> dict[str, str]: ...
    def install(self, job: Job, at: str) -> Schedule: ...
    def remove(self) -> bool: ...
    def installed(self) -> Schedule | None: ...


class Systemd:
    """A systemd user timer; the units in ``folder`` (``$XDG_CONFIG_HOME/systemd/user``)."""

    kind = "systemd"

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(platformdirs.user_config_dir()) / "systemd" / "user"

    @staticmethod
    def available() -> bool:
        """A ``systemctl`` that reaches a user manager (not in containers, WSL without it…)."""
        return (
            bool(shutil.which("systemctl"))
            and _run("systemctl", "--user", "show-environment").returncode == 0
        )

    def texts(self, job: Job, at: str) -> dict[str, str]:
        return {str(self.folder / name): text for name, text in systemd_units(job, at).items()}

    def install(self, job: Job, at: str) -> Schedule:
        written = self.texts(job, at)
        for path, text in written.items():
            _write(Path(path), text)
        _checked("systemctl", "--user", "daemon-reload")
        _checked("systemctl", "--user", "enable", "--now", f"{JOB}.timer")
        return Schedule(self.kind, at, tuple(job.command()), tuple(written), True, written)

    def remove(self) -> bool:
        paths = [self.folder / f"{JOB}.timer", self.folder / f"{JOB}.service"]
        if not any(p.exists() for p in paths):
            return False
        if shutil.which("systemctl"):  # units a manager never loaded need no disabling
            _run("systemctl", "--user", "disable", "--now", f"{JOB}.timer")
        for path in paths:
            path.unlink(missing_ok=True)
        if shutil.which("systemctl"):
            _run("systemctl", "--user", "daemon-reload")
        return True

    def installed(self) -> Schedule | None:
        timer, service = self.folder / f"{JOB}.timer", self.folder / f"{JOB}.service"
        if not (timer.is_file() and service.is_file()):
            return None
        when = _unit(timer)["Timer"]["OnCalendar"].split()[-1][:5]
        line = _unit(service)["Service"]["ExecStart"].replace("%%", "%").replace("$$", "$")
        command = tuple(shlex.split(line))
        enabled = _run("systemctl", "--user", "is-enabled", f"{JOB}.timer").stdout.strip()
        where = (str(timer), str(service))
        return Schedule(self.kind, when, command, where, enabled == "enabled")


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


class Cron:
    """A line in the user's crontab (``crontab -l`` / ``crontab -``), marked as freehold's."""

    kind = "cron"

    def texts(self, job: Job, at: str) -> dict[str, str]:
        return {"crontab": cron_line(job, at)}

    def install(self, job: Job, at: str) -> Schedule:
        line = cron_line(job, at)
        command = tuple(job.command())
        if not shutil.which("crontab"):
            note = (
                "no scheduler found here: add this line to yours (`crontab -e` where there is cron)"
            )
            return Schedule(self.kind, at, command, (), False, {"crontab": line}, note)
        kept = [row for row in self._lines() if not row.endswith(_MARK)]
        _checked("crontab", "-", stdin="\n".join([*kept, line]) + "\n")
        return Schedule(self.kind, at, command, ("crontab",), True, {"crontab": line})

    def _lines(self) -> list[str]:
        done = _run("crontab", "-l")
        return done.stdout.splitlines() if done.returncode == 0 else []  # 1: no crontab yet

    def remove(self) -> bool:
        if not shutil.which("crontab"):
            return False
        lines = self._lines()
        kept = [row for row in lines if not row.endswith(_MARK)]
        if len(kept) == len(lines):
            return False
        _checked("crontab", "-", stdin="".join(row + "\n" for row in kept))
        return True

    def installed(self) -> Schedule | None:
        if not shutil.which("crontab"):
            return None
        for row in self._lines():
            if row.endswith(_MARK):
                minute, hour, _, _, _, command = row.split(maxsplit=5)
                words = tuple(shlex.split(command[: -len(_MARK)].replace("\\%", "%")))
                at = f"{int(hour):02d}:{int(minute):02d}"
                return Schedule(self.kind, at, words, ("crontab",), True)
        return None


class Launchd:
    """A launchd agent in ``~/Library/LaunchAgents``, loaded with ``launchctl bootstrap``."""

    kind = "launchd"

    def __init__(self, user_home: Path | None = None) -> None:
        folder = (user_home or Path.home()) / "Library" / "LaunchAgents"
        self.path = folder / f"{LABEL}.plist"
        self.domain = f"gui/{os.getuid() if hasattr(os, 'getuid') else 0}"

    def texts(self, job: Job, at: str) -> dict[str, str]:
        return {str(self.path): launchd_plist(job, at)}

    def install(self, job: Job, at: str) -> Schedule:
        _write(self.path, launchd_plist(job, at))
        _run("launchctl", "bootout", f"{self.domain}/{LABEL}")  # the previous one, if loaded
        _checked("launchctl", "bootstrap", self.domain, str(self.path))
        written = {str(self.path): self.path.read_text()}
        return Schedule(self.kind, at, tuple(job.command()), (str(self.path),), True, written)

    def remove(self) -> bool:
        if not self.path.exists():
            return False
        _run("launchctl", "bootout", f"{self.domain}/{LABEL}")
        self.path.unlink()
        return True

    def installed(self) -> Schedule | None:
        if not self.path.is_file():
            return None
        agent = plistlib.loads(self.path.read_bytes())
        when = agent["StartCalendarInterval"]
        at = f"{when['Hour']:02d}:{when['Minute']:02d}"
        loaded = _run("launchctl", "print", f"{self.domain}/{LABEL}").returncode == 0
        return Schedule(self.kind, at, tuple(agent["ProgramArguments"]), (str(self.path),), loaded)


class TaskScheduler:
    """A Windows task named ``freehold-backup``, created from its XML with ``schtasks``."""

    kind = "task-scheduler"

    def texts(self, job: Job, at: str) -> dict[str, str]:
        return {f"{JOB}.xml": task_xml(job, at)}

    def install(self, job: Job, at: str) -> Schedule:
        text = task_xml(job, at)
        with tempfile.TemporaryDirectory(prefix="freehold-") as folder:
            path = Path(folder) / f"{JOB}.xml"
            path.write_text(text, encoding="utf-16")  # what schtasks /XML reads
            _checked("schtasks", "/Create", "/TN", JOB, "/XML", str(path), "/F")
        return Schedule(self.kind, at, tuple(job.command()), (JOB,), True, {f"{JOB}.xml": text})

    def remove(self) -> bool:
        return _run("schtasks", "/Delete", "/TN", JOB, "/F").returncode == 0

    def installed(self) -> Schedule | None:
        done = _run("schtasks", "/Query", "/TN", JOB, "/XML")
        if done.returncode != 0:
            return None
        return _task_schedule(done.stdout)


def _task_schedule(text: str) -> Schedule:
    """What a task's XML (as ``schtasks /Query /XML`` prints it) schedules."""
    body = re.sub(r"^<\?xml[^>]*\?>", "", text.strip())
    task = ET.fromstring(body)
    start = task.findtext(f".//{_q('StartBoundary')}") or "T00:00"
    action = task.find(f".//{_q('Exec')}")
    command = [action.findtext(_q("Command"), "")] if action is not None else []
    arguments = action.findtext(_q("Arguments"), "") if action is not None else ""
    command += mslex.split(arguments, like_cmd=False, ucrt=True)  # as Python's runtime reads it
    enabled = task.findtext(f".//{_q('Settings')}/{_q('Enabled')}") != "false"
    return Schedule("task-scheduler", start.split("T")[1][:5], tuple(command), (JOB,), enabled)


def _scheduler() -> _Scheduler:
    """The scheduler a job is installed with here (see the module docstring)."""
    return _schedulers()[0]


def _schedulers() -> list[_Scheduler]:
    """Every scheduler that may hold freehold's job here, the one to install with first: on
    Linux both systemd and cron, since which one answers can change (a user manager that
    was not running when the job went into the crontab)."""
    if sys.platform == "win32":
        return [TaskScheduler()]
    if sys.platform == "darwin":
        return [Launchd()]
    if sys.platform.startswith("linux"):
        return [Systemd(), Cron()] if Systemd.available() else [Cron(), Systemd()]
    return [Cron()]


# -- the public surface ------------------------------------------------------------------------


def _job(home: Path | None, passphrase_file: Path | None) -> Job:
    folder = (home or home_dir()).expanduser().absolute()
    secret = passphrase_file.expanduser().absolute() if passphrase_file else None
    if secret is not None:
        _check_private(secret)
    return Job(folder, _interpreter(), secret)


def _interpreter() -> Path:
    """This Python, absolute; on Windows its windowless twin (no console at 3 a.m.)."""
    python = Path(sys.executable).absolute()
    quiet = python.with_name("pythonw.exe")
    return quiet if sys.platform == "win32" and quiet.is_file() else python


def _check_private(path: Path) -> None:
    if not path.is_file():
        raise FreeholdError(f"{path}: no such file — give the file that holds the passphrase")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise FreeholdError(
            f"{path}: other users can read it — make it private first: chmod 600 {path}"
        )


def planned(
    *, at: str = "03:00", passphrase_file: Path | None = None, home: Path | None = None
) -> Schedule:
    """What ``install`` would put in place here, written nowhere (``--print`` first checks
    ``require_archive``, as ``install`` does)."""
    job, scheduler = _job(home, passphrase_file), _scheduler()
    texts = scheduler.texts(job, at)
    return Schedule(scheduler.kind, at, tuple(job.command()), tuple(texts), False, texts)


def install(
    *, at: str = "03:00", passphrase_file: Path | None = None, home: Path | None = None
) -> Schedule:
    """Install the daily job (replacing freehold's previous one) for the data folder ``home``
    (default: ``FREEHOLD_HOME`` or the platform's); see the module docstring."""
    _clock(at)
    job = _job(home, passphrase_file)
    require_archive(job.home)
    chosen, *others = _schedulers()
    done = chosen.install(job, at)
    if done.active:  # one job: the one another scheduler held goes
        for other in others:
            other.remove()
    return done


def require_archive(home: Path) -> None:
    """A job is only for a data folder holding an archive."""
    if not (home / ARCHIVE_NAME).is_file():
        raise FreeholdError(
            f"{home}: no freehold archive there, nothing to back up — set FREEHOLD_HOME to "
            "your data folder (or import an export, or add to the exit plan, first)"
        )


def remove() -> bool:
    """Take the daily job out of every scheduler that holds it; False when none did."""
    removed = [scheduler.remove() for scheduler in _schedulers()]
    return any(removed)


def installed() -> Schedule | None:
    """The daily job, whichever of this platform's schedulers holds it, or None."""
    for scheduler in _schedulers():
        found = scheduler.installed()
        if found is not None:
            return found
    return None
