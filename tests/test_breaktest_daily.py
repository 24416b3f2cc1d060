"""The daily job runs the break test weekly, like the drill: after its own backup run, on a
real data folder with two folder destinations; a failed break test is tried again the next
day, a successful one a week later."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold import exits
from freehold.archive import now_iso, open_archive
from freehold.backup import crypto, daily, destinations, settings
from freehold.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
NOW = datetime(2026, 12, 6, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample imported and an identity made once (scrypt takes a second each time)."""
    home = tmp_path_factory.mktemp("daily-break-test") / "data"
    environment = {"FREEHOLD_HOME": str(home)}
    assert CliRunner().invoke(cli, ["import", str(SAMPLE)], env=environment).exit_code == 0
    identity = crypto.create_identity(home, "correct horse battery staple")
    settings.set_value(home, "recipients", [str(identity.to_public())])
    return home


@pytest.fixture
def data_folder(tmp_path: Path, template: Path) -> Path:
    """A copy of the template (the sample archive, an identity), and two folder destinations
    with no backup yet."""
    home = tmp_path / "data"
    shutil.copytree(template, home)
    for name in ("usb", "spare"):
        destinations.add(home, name, str(tmp_path / name))  # makes its marker
    return home


def _last_run(home: Path) -> str:
    return (home / "logs" / "daily.log").read_text().rsplit("== ", 1)[1]


def test_the_daily_job_runs_the_break_test_weekly_and_retries_a_failed_one(
    data_folder: Path,
) -> None:
    home = data_folder
    with open_archive(home) as archive:
        exits.add(archive, "stripe")  # never exported: overdue, so the break test fails
    assert daily.run_job(home, None, NOW) == 1
    log = _last_run(home)
    assert "-- freehold backup run: exit 0" in log  # before it: the backups it drills
    assert "-- freehold break-test --yes: exit 1" in log
    assert "overdue: Stripe (never exported)" in log
    kept = json.loads((home / "break-test" / "last.json").read_text())
    assert [loss["name"] for loss in kept["losses"]] == ["usb", "spare"]

    payments = home.parent / "payments.csv"  # Stripe's own export (a ChatGPT one is refused)
    payments.write_text("id,amount\nch_1,1.00\n")
    with open_archive(home) as archive:
        exits.record(archive, "stripe", payments, exported_at=now_iso())
    daily.run_job(home, None, NOW + timedelta(days=1))  # failed yesterday: again today
    log = _last_run(home)
    assert "-- freehold break-test --yes: exit 0" in log
    assert "skipped, not proven" in log  # no passphrase file: its drills are skipped

    daily.run_job(home, None, NOW + timedelta(days=7))
    assert "break-test" not in _last_run(home)  # the last good one is 6 days old
    daily.run_job(home, None, NOW + timedelta(days=8))
    assert "-- freehold break-test --yes: exit 0" in _last_run(home)


def test_with_a_passphrase_file_the_break_test_drills(data_folder: Path, tmp_path: Path) -> None:
    home = data_folder
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple")
    secret.chmod(0o600)
    assert daily.run_job(home, secret, NOW) == 0
    log = _last_run(home)
    assert f"-- freehold break-test --yes --passphrase-file {secret}: exit 0" in log
    kept = json.loads((home / "break-test" / "last.json").read_text())
    assert kept["proven"] is True
