"""The daily job itself (``python -m freehold.backup.daily``) on real data folders: every step
run and logged whatever the others did, the drill once a week, the passphrase only as a file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freehold import exits
from freehold.archive import open_archive
from freehold.backup import daily
from freehold.backup.schedule import Job

SECRET = "canary-passphrase-4711"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def _plan(home: Path) -> None:
    with open_archive(home) as archive:
        exits.add(archive, "stripe")  # never exported: overdue


def _run_job_as_scheduled(home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The job's command line as a scheduler runs it: no FREEHOLD_HOME, almost no PATH."""
    command = Job(home, Path(sys.executable).absolute()).command() + list(extra)
    environment = {"PATH": "/nonexistent", "HOME": str(home.parent)}
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=300, check=False
    )


def test_the_job_runs_every_step_and_logs_them(tmp_path: Path) -> None:
    home = tmp_path / "data"
    _plan(home)
    done = _run_job_as_scheduled(home)
    assert done.returncode == 1  # no backup configured here, and Stripe is overdue
    assert f"see {home}/logs/daily.log" in done.stdout
    log = (home / "logs" / "daily.log").read_text()
    assert "-- freehold backup run: exit " in log and "-- freehold backup run: exit 0" not in log
    assert "-- freehold exits status: exit 1" in log
    assert "overdue: Stripe — no export recorded yet" in log  # the data folder it was given
    assert "verify and drill skipped: no --passphrase-file" in log
    assert stat.S_IMODE((home / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "logs" / "daily.log").stat().st_mode) == 0o600


def test_with_a_passphrase_file_it_verifies_and_drills_until_a_drill_succeeds(
    tmp_path: Path, secret: Path
) -> None:
    home = tmp_path / "data"
    _plan(home)
    now = datetime(2026, 12, 6, 3, tzinfo=UTC)
    assert daily.run_job(home, secret, now) == 1
    log = (home / "logs" / "daily.log").read_text()
    assert "-- freehold backup verify --sample 5 --passphrase-file" in log
    assert "-- freehold backup drill --passphrase-file" in log  # failed: tried again tomorrow
    assert SECRET not in log
    (home / "logs" / "daily.json").write_text('{"drill_ok_at": "2026-12-04T03:00:00+00:00"}')
    daily.run_job(home, secret, now + timedelta(days=1))
    last_run = (home / "logs" / "daily.log").read_text().rsplit("== ", 1)[1]
    assert "backup drill" not in last_run  # the last good drill is 3 days old
    daily.run_job(home, secret, now + timedelta(days=5))
    last_run = (home / "logs" / "daily.log").read_text().rsplit("== ", 1)[1]
    assert "backup drill" in last_run  # a week old


def test_the_passphrase_reaches_the_steps_only_as_the_file(
    tmp_path: Path, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FREEHOLD_PASSPHRASE", SECRET)
    seen: list[dict[str, str]] = []
    real = subprocess.run

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(dict(kwargs["env"]))  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", spy)
    (tmp_path / "data").mkdir()  # the job never makes a data folder
    daily.run_job(tmp_path / "data", secret)
    assert seen and all("FREEHOLD_PASSPHRASE" not in env for env in seen)
    assert all(env["FREEHOLD_HOME"] == str(tmp_path / "data") for env in seen)


def test_the_log_keeps_one_megabyte_before_this_run(tmp_path: Path) -> None:
    home = tmp_path / "data"
    logs = home / "logs"
    logs.mkdir(parents=True)
    (logs / "daily.log").write_text("old\n" * 300_000)
    daily.run_job(home)
    assert (logs / "daily.log.1").read_text().startswith("old\n")
    assert (logs / "daily.log").read_text().startswith("== ")


def test_a_broken_state_file_is_a_fresh_start(tmp_path: Path, secret: Path) -> None:
    home = tmp_path / "data"
    (home / "logs").mkdir(parents=True)
    (home / "logs" / "daily.json").write_text("{not json")
    daily.run_job(home, secret)
    assert "backup drill" in (home / "logs" / "daily.log").read_text()
    assert os.path.exists(home / "logs" / "daily.json")
