"""Progress of export and import: done/total conversations with a rate and the time left, on a
terminal as a bar, elsewhere as a periodic line on stderr (``FREEHOLD_PROGRESS_INTERVAL`` sets
the period; 0 gives a line on every step, so no test waits for a clock)."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold import progress, render
from freehold.archive import open_archive
from freehold.cli import cli
from freehold.cli import history as cli_module

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
COUNT_LINE = re.compile(r"^export markdown: ([\d,]+)/23 conversations, [\d,.]+/s, ~\d+ s left$")
READ_LINE = re.compile(
    r"^sample-chatgpt-export\.zip: [\d.]+/[\d.]+ MB, [\d,]+ conversations?"
    r"(, [\d.]+ MB/s, ~\d+ s left)?$"
)


def run(*args: str, interval: str | None = None) -> Result:
    env = {progress.INTERVAL_VARIABLE: interval}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def sample() -> None:
    assert run("import", str(SAMPLE), interval="3600").exit_code == 0


def test_export_off_a_terminal_prints_done_of_total_rate_and_time_left(
    sample: None, tmp_path: Path
) -> None:
    result = run("export", "--format", "markdown", "--out", str(tmp_path / "md"), interval="0")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[-1] == f"wrote 23 conversations to {tmp_path / 'md'}"
    done = [COUNT_LINE.match(line) for line in lines[:-1]]
    assert all(done), lines  # every other line is a progress line of that shape
    assert [int(match[1]) for match in done if match] == list(range(1, 24))


def test_export_shorter_than_the_interval_prints_no_progress(sample: None, tmp_path: Path) -> None:
    result = run("export", "--format", "markdown", "--out", str(tmp_path / "md"), interval="3600")
    assert result.stderr.splitlines() == [f"wrote 23 conversations to {tmp_path / 'md'}"]


def test_import_off_a_terminal_prints_megabytes_and_conversations() -> None:
    result = run("import", str(SAMPLE), interval="0")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("sample-")]
    assert len(lines) >= 2 and all(READ_LINE.match(line) for line in lines), lines
    assert lines[-1].split(", ")[1] == "23 conversations"


def test_export_on_a_terminal_shows_conversations_a_second_not_bytes(
    sample: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    terminal = render.Terminal(file=screen, force_terminal=True, width=200)
    monkeypatch.setattr(cli_module, "err", terminal)
    result = run("export", "--format", "markdown", "--out", str(tmp_path / "md"))
    assert result.exit_code == 0, result.output
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "23/23 conversations" in shown and "conversations/s" in shown
    assert "bytes/s" not in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "claude"], "no conversation matches --source claude — nothing written"),
        (["--model", "gtp-4", "--since", "2024"], "matches --model gtp-4, --since 2024 — nothing"),
    ],
)
def test_an_export_that_selects_nothing_says_so_and_writes_nothing(
    sample: None, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("export", "--format", "json", "--out", str(tmp_path / "out"), *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_export_of_an_empty_archive_says_to_import_first(tmp_path: Path) -> None:
    open_archive(create=True).close()  # an archive that holds nothing yet
    result = run("export", "--format", "json", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "the archive holds no conversations — import an export first" in result.stderr


def test_the_line_reads_like_a_person_wrote_it() -> None:
    line = progress._count_line("export markdown", 12_000, 44_615, 14.1)
    assert line == "export markdown: 12,000/44,615 conversations, 851/s, ~38 s left"
    assert progress._count_line("export pdf", 0, 1, 0.0) == "export pdf: 0/1 conversation"
    assert progress._count_line("export pdf", 3, 900, 2.0).endswith(", 1.5/s, ~10 min left")
    read = progress._read_line("x.zip", 120_000_000, 480_000_000, 1, 4.0)
    assert read == "x.zip: 120.0/480.0 MB, 1 conversation, 30.0 MB/s, ~12 s left"


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0 s"), (89.4, "89 s"), (95, "2 min"), (5399, "90 min")]
)
def test_duration(seconds: float, shown: str) -> None:
    assert progress.duration(seconds) == shown


def test_duration_in_hours_and_plural() -> None:
    assert progress.duration(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert [progress.plural(n, "message") for n in (0, 1, 1234)] == [
        "0 messages",
        "1 message",
        "1,234 messages",
    ]
    assert progress.plural(2, "branch", "branches") == "2 branches"


def test_the_import_bar_starts_its_thread_at_the_first_tick() -> None:
    """The reader process is forked only while one thread runs (``ingest._start_method``),
    and it starts before the first tick: the bar's redraw thread must not exist before then."""
    terminal = render.Terminal(file=io.StringIO(), force_terminal=True, width=120)
    before = set(threading.enumerate())
    with progress.reading(terminal, "export.zip") as tick:
        assert set(threading.enumerate()) == before
        tick(10, 100, 1)
        started = set(threading.enumerate()) - before
        assert len(started) == 1
    redraw = started.pop()
    redraw.join(timeout=30)  # told to stop when the bar closes
    assert not redraw.is_alive()
