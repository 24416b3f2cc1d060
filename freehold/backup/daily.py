"""The daily job that ``freehold backup schedule`` installs:
``python -m freehold.backup.daily --home DATA_FOLDER [--passphrase-file FILE]``.

It runs, each step in its own process (``python -m freehold`` with ``FREEHOLD_HOME`` set to the
data folder) and every step whatever the others did:

1. ``freehold backup run``: the day's snapshot to every destination;
2. ``freehold backup verify --sample 5``: 5 % of the objects read back and checked (every
   object within about 20 days), and ``freehold backup drill`` when the last drill this job
   ran successfully is a week old (a failed one is tried again the next day): a real restore,
   compared with the archive;
3. ``freehold exits status``: which exports of the exit plan are overdue;
4. ``freehold break-test --yes`` when the last one this job ran successfully is a week old
   (like the drill): what would still work if a provider or a destination vanished.

It exits 1 when any step failed, so the scheduler's own status shows it too, and appends what
each step printed to ``logs/daily.log`` in the data folder (the previous megabyte kept as
``daily.log.1``); the last good drill's date is in ``logs/daily.json``. The job never holds the
passphrase: verify and drill get the path of a private file (``--passphrase-file``), and
``FREEHOLD_PASSPHRASE`` is taken out of the steps' environment; without a file they are
skipped and the log says so — a backup alone needs only the public recipients.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from freehold import _private
from freehold.archive import ARCHIVE_NAME
from freehold.errors import BackupError

__all__ = ["main", "run_job"]

_SAMPLE_PERCENT = 5
_DRILL_EVERY = timedelta(days=7)
_BREAK_TEST_EVERY = timedelta(days=7)
_PROVEN = {"backup drill": "drill_ok_at", "break test": "break_test_ok_at"}
_LOG_LIMIT = 1 << 20
_OUTPUT_KEPT = 8000


@dataclass
class _Step:
    name: str
    args: list[str]
    code: int = -1
    output: str = ""


def run_job(home: Path, passphrase_file: Path | None = None, now: datetime | None = None) -> int:
    """Run the daily steps for the data folder ``home`` (each in its own process, all of them
    whatever the others did), log them, and return 1 when any failed."""
    moment = now or datetime.now(UTC)
    if not home.is_dir():  # a data folder is never made here: say so
        raise BackupError(
            f"no archive at {home / ARCHIVE_NAME}: {home} is not there — the job runs for your "
            "data folder: install it again with FREEHOLD_HOME set to it (is its disk mounted?)"
        )
    logs = home / "logs"
    _private.make_dirs(logs)
    state = _state(logs)
    steps = _steps(passphrase_file, state, moment)
    for step in steps:
        _run_step(step, home)
        if step.name in _PROVEN and step.code == 0:
            state[_PROVEN[step.name]] = moment.isoformat(timespec="seconds")
    skipped = None if passphrase_file else "verify and drill skipped: no --passphrase-file"
    _log(logs / "daily.log", moment, steps, skipped)
    _save_state(logs, state)
    return int(any(step.code != 0 for step in steps))


def _steps(passphrase_file: Path | None, state: dict[str, str], now: datetime) -> list[_Step]:
    steps = [_Step("backup run", ["backup", "run"])]
    secret = ["--passphrase-file", str(passphrase_file)] if passphrase_file else []
    if secret:
        sample = ["--sample", str(_SAMPLE_PERCENT)]
        steps.append(_Step("backup verify", ["backup", "verify", *sample, *secret]))
        if _due(state.get("drill_ok_at"), now, _DRILL_EVERY):
            steps.append(_Step("backup drill", ["backup", "drill", *secret]))
    steps.append(_Step("exits status", ["exits", "status"]))
    if _due(state.get("break_test_ok_at"), now, _BREAK_TEST_EVERY):
        steps.append(_Step("break test", ["break-test", "--yes", *secret]))
    return steps


def _due(last: str | None, now: datetime, every: timedelta) -> bool:
    """Never done successfully, or not for ``every``: a failure is tried again the next day."""
    return last is None or now - datetime.fromisoformat(last) >= every


def _run_step(step: _Step, home: Path) -> None:
    environment = {**os.environ, "FREEHOLD_HOME": str(home)}
    environment.pop("FREEHOLD_PASSPHRASE", None)  # the file is the one way in
    try:
        done = subprocess.run(
            [sys.executable, "-m", "freehold", *step.args],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        step.code, step.output = 127, str(error)
        return
    step.code = done.returncode
    step.output = (done.stdout + done.stderr)[-_OUTPUT_KEPT:]


def _state(logs: Path) -> dict[str, str]:
    try:
        found = orjson.loads((logs / "daily.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _save_state(logs: Path, state: dict[str, str]) -> None:
    path = logs / "daily.json"
    new = path.with_suffix(".tmp")
    new.unlink(missing_ok=True)
    with _private.open_new(new) as out:
        out.write(orjson.dumps(state))
    os.replace(new, path)


def _log(path: Path, moment: datetime, steps: Sequence[_Step], skipped: str | None) -> None:
    """Append this run to the log (the previous megabyte kept as ``daily.log.1``)."""
    if path.exists() and path.stat().st_size > _LOG_LIMIT:
        os.replace(path, path.with_name(path.name + ".1"))
    lines = [f"== {moment.isoformat(timespec='seconds')} freehold daily job"]
    for step in steps:
        lines.append(f"-- freehold {' '.join(step.args)}: exit {step.code}")
        lines += ["   " + line for line in step.output.rstrip().splitlines()]
    if skipped:
        lines.append(f"-- {skipped}")
    if not path.exists():
        _private.create(path)
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m freehold.backup.daily --home DIR [--passphrase-file FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m freehold.backup.daily")
    parser.add_argument("--home", type=Path, required=True, help="the data folder")
    parser.add_argument("--passphrase-file", type=Path, help="the file holding the passphrase")
    options = parser.parse_args(argv)
    try:
        code = run_job(options.home, options.passphrase_file)
    except BackupError as error:
        print(f"freehold daily job: {error}", file=sys.stderr)
        return 1
    if sys.stdout is not None:  # pythonw has none
        print(
            f"freehold daily job: {'failed' if code else 'ok'}; see {options.home}/logs/daily.log"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
