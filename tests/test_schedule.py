"""Installing the daily job: the files each scheduler reads (parsed with the tools that read
them), and the install and removal on Linux in a temporary XDG folder (tests/test_daily.py runs
the job itself).

Nothing here touches the machine's real schedulers: PATH holds only a temporary folder, where
the programs a test needs (``systemctl``, ``crontab``, ``launchctl``, ``schtasks``) are small
scripts that record their arguments and keep what they are given in files — the parts of the
system that cannot run in a test.
"""

from __future__ import annotations

import configparser
import plistlib
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from freehold import exits
from freehold.archive import open_archive
from freehold.backup import schedule
from freehold.backup.schedule import (
    Cron,
    Job,
    Launchd,
    Systemd,
    TaskScheduler,
    cron_line,
    launchd_plist,
    systemd_units,
    task_xml,
)
from freehold.backup.status import daily_job
from freehold.cli import cli
from freehold.errors import FreeholdError

NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
SECRET = "canary-passphrase-4711"
ODD = Path('/home/ann/My Data %d $HOME/"quoted"')  # spaces, %, $ and quotes: every escape


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def job(home: Path = ODD, passphrase: Path | None = None) -> Job:
    return Job(home, Path("/opt/py thon/bin/python3"), passphrase)


# -- the files -----------------------------------------------------------------------------------


def unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_systemd_units(secret: Path) -> None:
    the_job = job(passphrase=secret)
    units = systemd_units(the_job, "07:05")
    service, timer = unit(units["freehold-backup.service"]), unit(units["freehold-backup.timer"])
    assert service["Service"]["Type"] == "oneshot"
    exec_start = service["Service"]["ExecStart"]
    assert "%%d" in exec_start and "$$HOME" in exec_start  # systemd would expand them
    unescaped = exec_start.replace("%%", "%").replace("$$", "$")
    assert shlex.split(unescaped) == the_job.command()
    assert timer["Timer"]["OnCalendar"] == "*-*-* 07:05:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "freehold-backup.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert all(SECRET not in text for text in units.values())


def test_launchd_plist() -> None:
    agent = plistlib.loads(launchd_plist(job(), "21:30").encode())
    assert agent["Label"] == "org.freehold.backup"
    assert agent["ProgramArguments"] == job().command()
    assert agent["StartCalendarInterval"] == {"Hour": 21, "Minute": 30}
    assert agent["RunAtLoad"] is False


def test_task_scheduler_xml() -> None:
    text = task_xml(job(), "03:00", start=date(2026, 12, 7))
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    task = ET.fromstring(text.split("\n", 1)[1])
    assert task.tag == f"{{{NS['t']}}}Task" and task.get("version") == "1.2"
    assert task.findtext(".//t:StartBoundary", namespaces=NS) == "2026-12-07T03:00:00"
    assert task.findtext(".//t:DaysInterval", namespaces=NS) == "1"
    assert task.findtext(".//t:StartWhenAvailable", namespaces=NS) == "true"
    assert task.findtext(".//t:LogonType", namespaces=NS) == "InteractiveToken"
    assert task.findtext(".//t:Command", namespaces=NS) == "/opt/py thon/bin/python3"
    arguments = task.findtext(".//t:Arguments", namespaces=NS)
    assert arguments == subprocess.list2cmdline(job().command()[1:])
    assert '"' + str(ODD).replace('"', '\\"') + '"' in arguments  # quoted as Windows parses


def test_cron_line() -> None:
    line = cron_line(job(), "03:07")
    minute, hour, day, month, weekday, command = line.split(maxsplit=5)
    assert (minute, hour, day, month, weekday) == ("7", "3", "*", "*", "*")
    assert command.endswith(" # freehold-backup")
    assert "%d" not in command.replace("\\%d", "")  # cron would cut the line at a bare %
    words = shlex.split(command[: -len(" # freehold-backup")].replace("\\%", "%"))
    assert words == job().command()


@pytest.mark.parametrize("at", ["24:00", "3", "03:60", "noon", "-1:00"])
def test_a_time_that_is_not_one(at: str) -> None:
    with pytest.raises(FreeholdError, match="HH:MM"):
        cron_line(job(), at)
    result = CliRunner().invoke(cli, ["backup", "schedule", "--at", at, "--print"])
    assert result.exit_code == 2 and "HH:MM" in result.stderr


def test_the_job_carries_the_data_folder_and_no_secret(
    _isolated_home: Path, secret: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    planned = schedule.planned(at="04:00", passphrase_file=secret)
    assert planned.command[-4:] == ("--home", str(_isolated_home), "--passphrase-file", str(secret))
    assert planned.command[0] == str(Path(sys.executable).absolute())
    assert all(SECRET not in text for text in planned.files.values())


def test_a_passphrase_file_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.write_text(SECRET)
    shared.chmod(0o644)
    with pytest.raises(FreeholdError, match="chmod 600"):
        schedule.planned(passphrase_file=shared)
    with pytest.raises(FreeholdError, match="no such file"):
        schedule.planned(passphrase_file=tmp_path / "missing")


# -- installing on Linux, with fake scheduler programs ------------------------------------------


def fake(bin_dir: Path, name: str, script: str) -> Path:
    """A program on PATH: ``script`` runs with sh (``$here`` is its folder, the only one on
    PATH, so other programs need absolute paths); every call is logged to ``calls``."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    head = f'#!/bin/sh\nhere="{bin_dir}"\necho "{name} $*" >> "$here/calls"\n'
    path.write_text(head + script + "\n")
    path.chmod(0o755)
    return path


def calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls"
    return log.read_text().splitlines() if log.exists() else []


def an_archive(home: Path) -> Path:
    with open_archive(home) as archive:
        exits.add(archive, "stripe")
    return home


@pytest.fixture
def linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _isolated_home: Path) -> Path:
    """Linux, an archive in FREEHOLD_HOME, a temporary XDG_CONFIG_HOME, and a PATH with
    nothing on it yet."""
    an_archive(_isolated_home)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_without_systemctl_or_crontab_the_line_is_printed_and_nothing_written(
    linux: Path, tmp_path: Path
) -> None:
    done = schedule.install(at="05:15")
    assert (done.kind, done.active, done.where) == ("cron", False, ())
    assert done.files["crontab"].startswith("15 5 * * * ")
    assert not (tmp_path / "config").exists()
    assert schedule.installed() is None and schedule.remove() is False
    result = CliRunner().invoke(cli, ["backup", "schedule", "--at", "05:15"])
    assert result.exit_code == 1
    assert "no scheduler found here" in result.stderr
    assert "15 5 * * * " in result.stdout and "# freehold-backup" in result.stdout
    printed = CliRunner().invoke(cli, ["backup", "schedule", "--print"])
    assert printed.exit_code == 0 and "0 3 * * * " in printed.stdout


SYSTEMCTL = """case "$*" in
  "--user is-enabled freehold-backup.timer") echo enabled ;;
esac
exit 0"""


def test_a_systemd_user_timer(linux: Path, tmp_path: Path, _isolated_home: Path) -> None:
    fake(linux, "systemctl", SYSTEMCTL)
    done = schedule.install(at="02:30")
    folder = tmp_path / "config" / "systemd" / "user"
    assert done.kind == "systemd" and done.active
    assert done.where == (
        str(folder / "freehold-backup.service"),
        str(folder / "freehold-backup.timer"),
    )
    assert (
        unit((folder / "freehold-backup.timer").read_text())["Timer"]["OnCalendar"]
        == "*-*-* 02:30:00"
    )
    assert calls(linux)[-2:] == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now freehold-backup.timer",
    ]
    found = schedule.installed()
    assert found is not None
    assert (found.kind, found.at, found.active) == ("systemd", "02:30", True)
    assert found.command == done.command and str(_isolated_home) in found.command
    assert (
        daily_job(_isolated_home).words() == "daily at 02:30 (systemd, active)"
    )  # as backup status
    assert schedule.remove() is True
    assert "systemctl --user disable --now freehold-backup.timer" in calls(linux)
    assert list(folder.iterdir()) == [] and schedule.installed() is None


def test_a_systemctl_without_a_user_manager_means_cron(linux: Path) -> None:
    fake(linux, "systemctl", "echo 'Failed to connect to bus' >&2; exit 1")
    assert not Systemd.available()
    assert schedule.planned().kind == "cron"


def test_a_systemctl_that_refuses_is_said(linux: Path) -> None:
    fake(
        linux, "systemctl", 'case "$*" in *enable*) echo "Unit file is masked." >&2; exit 1;; esac'
    )
    result = CliRunner().invoke(cli, ["backup", "schedule"])
    assert result.exit_code == 1
    assert (
        "systemctl --user enable --now freehold-backup.timer` failed (Unit file is masked.)"
        in result.stderr
    )


CRONTAB = """store="$here/crontab.txt"
if [ "$1" = "-l" ]; then
  [ -f "$store" ] || { echo "no crontab for ann" >&2; exit 1; }
  /bin/cat "$store"
elif [ "$1" = "-" ]; then
  /bin/cat > "$store"
fi"""


def test_a_crontab_line_keeps_the_other_lines(linux: Path, _isolated_home: Path) -> None:
    fake(linux, "crontab", CRONTAB)
    (linux / "crontab.txt").write_text("MAILTO=ann\n30 1 * * * /usr/bin/true\n")
    first = schedule.install(at="03:00")
    assert (first.kind, first.active, first.where) == ("cron", True, ("crontab",))
    schedule.install(at="04:45")  # again: replaces freehold's line only
    lines = (linux / "crontab.txt").read_text().splitlines()
    assert lines[:2] == ["MAILTO=ann", "30 1 * * * /usr/bin/true"]
    assert len(lines) == 3 and lines[2].startswith("45 4 * * * ")
    found = schedule.installed()
    assert found is not None and (found.at, found.command) == ("04:45", first.command)
    assert schedule.remove() is True
    assert (linux / "crontab.txt").read_text().splitlines() == lines[:2]
    assert schedule.remove() is False


def test_a_first_crontab(linux: Path) -> None:
    fake(linux, "crontab", CRONTAB)
    assert schedule.install().active
    assert len((linux / "crontab.txt").read_text().splitlines()) == 1


def test_the_cli_installs_and_says_what_it_replaced(
    linux: Path, tmp_path: Path, secret: Path
) -> None:
    fake(linux, "crontab", CRONTAB)
    first = CliRunner().invoke(cli, ["backup", "schedule"])
    assert first.exit_code == 0
    assert "Installed the daily job (cron) at 03:00: crontab" in first.stdout
    assert "cannot verify or drill" in first.stderr
    other = an_archive(tmp_path / "other-home")
    second = CliRunner().invoke(
        cli,
        ["backup", "schedule", "--passphrase-file", str(secret)],
        env={"FREEHOLD_HOME": str(other)},
    )
    assert second.exit_code == 0 and "Replaced the job that ran:" in second.stderr
    assert str(other) in (linux / "crontab.txt").read_text()
    removed = CliRunner().invoke(cli, ["backup", "schedule", "--remove"])
    assert removed.exit_code == 0 and "Removed the daily job." in removed.stdout
    again = CliRunner().invoke(cli, ["backup", "schedule", "--remove"])
    assert again.exit_code == 0 and "No daily job was installed." in again.stderr


# -- macOS and Windows installers, with their programs faked -------------------------------------


def test_a_launchd_agent(linux: Path, tmp_path: Path) -> None:
    fake(linux, "launchctl", 'case "$1" in print) exit 0;; esac')
    agent = Launchd(tmp_path / "ann")
    done = agent.install(job(), "06:00")
    plist = tmp_path / "ann" / "Library" / "LaunchAgents" / "org.freehold.backup.plist"
    assert (
        done.where == (str(plist),)
        and plistlib.loads(plist.read_bytes())["Label"] == "org.freehold.backup"
    )
    assert calls(linux)[-1] == f"launchctl bootstrap {agent.domain} {plist}"
    found = agent.installed()
    assert found is not None and (found.at, found.command, found.active) == (
        "06:00",
        tuple(job().command()),
        True,
    )
    assert agent.remove() is True and not plist.exists()
    assert calls(linux)[-1] == f"launchctl bootout {agent.domain}/org.freehold.backup"


SCHTASKS = """store="$here/task.xml"
case "$1" in
  /Create) /bin/cp "$5" "$store" ;;
  /Query) [ -f "$store" ] || exit 1; /usr/bin/iconv -f UTF-16 -t UTF-8 "$store" ;;
  /Delete) [ -f "$store" ] || exit 1; /bin/rm "$store" ;;
esac"""


@pytest.mark.skipif(not Path("/usr/bin/iconv").exists(), reason="needs /usr/bin/iconv")
def test_a_task_scheduler_task(linux: Path) -> None:
    fake(linux, "schtasks", SCHTASKS)
    tasks = TaskScheduler()
    done = tasks.install(job(), "03:30")
    stored = (linux / "task.xml").read_bytes()
    assert stored[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16, as schtasks /XML reads it
    assert done.where == ("freehold-backup",)
    assert calls(linux)[0].startswith("schtasks /Create /TN freehold-backup /XML ")
    found = tasks.installed()
    assert found is not None and (found.at, found.command) == ("03:30", tuple(job().command()))
    assert tasks.remove() is True and tasks.installed() is None and tasks.remove() is False


def test_a_data_folder_without_an_archive_is_refused(linux: Path, tmp_path: Path) -> None:
    fake(linux, "crontab", CRONTAB)
    with pytest.raises(FreeholdError, match="no freehold archive there"):
        schedule.install(home=tmp_path / "typo")
    result = CliRunner().invoke(
        cli, ["backup", "schedule"], env={"FREEHOLD_HOME": str(tmp_path / "typo")}
    )
    assert result.exit_code == 1 and "set FREEHOLD_HOME to your data folder" in result.stderr
    assert not (linux / "crontab.txt").exists() and not (tmp_path / "typo").exists()


def test_cron_and_systemd_classes_are_what_linux_picks(linux: Path) -> None:
    assert isinstance(schedule._scheduler(), Cron)
    fake(linux, "systemctl", "exit 0")
    assert isinstance(schedule._scheduler(), Systemd)


# -- the job whichever scheduler holds it (probe T) ---------------------------------------------


def test_a_cron_job_is_seen_once_a_user_manager_answers(linux: Path, tmp_path: Path) -> None:
    """Probe T, item 6: each call asked the one scheduler it would install with, so a crontab
    line installed when no systemd user manager answered was not shown, not removed, and a
    second install beside it ran the job twice a day."""
    fake(linux, "crontab", CRONTAB)
    assert schedule.install(at="03:00").kind == "cron"
    fake(linux, "systemctl", SYSTEMCTL)  # a user manager answers now
    found = schedule.installed()
    assert found is not None and (found.kind, found.at) == ("cron", "03:00")
    assert (
        found.home is not None and daily_job(found.home).words() == "daily at 03:00 (cron, active)"
    )
    assert schedule.install(at="04:00").kind == "systemd"  # replaces the cron line
    assert "freehold-backup" not in (linux / "crontab.txt").read_text()
    found = schedule.installed()
    assert found is not None and (found.kind, found.at) == ("systemd", "04:00")
    (linux / "crontab.txt").write_text(cron_line(job(), "05:00") + "\n")  # both, by hand
    assert schedule.remove() is True
    assert schedule.installed() is None
    assert "freehold-backup" not in (linux / "crontab.txt").read_text()
    assert not (tmp_path / "config" / "systemd" / "user" / "freehold-backup.timer").exists()


def test_status_says_whose_data_folder_the_job_backs_up(
    linux: Path, tmp_path: Path, _isolated_home: Path
) -> None:
    """Probe T, item 5: ``backup status`` of one data folder said the job installed for
    another was "daily at 03:00 (cron, active)": the job's --home was never compared."""
    fake(linux, "crontab", CRONTAB)
    schedule.install(at="03:00")
    other = an_archive(tmp_path / "other-home")
    said = f"not scheduled: the daily job backs up {_isolated_home} (freehold backup schedule)"
    result = CliRunner().invoke(
        cli, ["backup", "status", "--json"], env={"FREEHOLD_HOME": str(other)}
    )
    assert orjson.loads(result.stdout)["schedule"] == said
    assert daily_job(other).words() == said
    assert daily_job(_isolated_home).words() == "daily at 03:00 (cron, active)"


@pytest.mark.parametrize(
    "more", [["--print"], ["--at", "05:00"], ["--passphrase-file", "x"], ["--at", "03:00"]]
)
def test_remove_takes_no_option_of_an_install(linux: Path, more: list[str]) -> None:
    """Probe T, item 7: ``--print --remove`` removed the job (``--print`` promises to change
    nothing), and ``--remove --at 05:00`` was accepted and the time ignored."""
    fake(linux, "crontab", CRONTAB)
    schedule.install(at="03:00")
    result = CliRunner().invoke(cli, ["backup", "schedule", "--remove", *more])
    assert result.exit_code == 2, result.output
    assert f"--remove takes the job out: give it without {more[0]}" in result.stderr
    assert schedule.installed() is not None
