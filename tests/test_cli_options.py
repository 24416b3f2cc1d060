"""Selection flags that cannot match are refused with the choices (exit 2), not answered with
nothing: a misspelt ``--source`` or ``--format``, a date that is not one, an empty period."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold import plugins
from freehold.archive import open_archive
from freehold.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def sample() -> None:
    assert run("import", str(SAMPLE)).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["search", "pivot", "--source", "chatgtp"],
        ["export", "--format", "json", "--out", "{out}", "--source", "chatgtp"],
        ["conversations", "--source", "chatgtp"],
    ],
)
def test_an_unknown_source_kind_is_refused_with_the_kinds(
    sample: None, tmp_path: Path, args: list[str]
) -> None:
    result = run(*(arg.format(out=tmp_path / "out") for arg in args))
    assert result.exit_code == 2
    assert "Invalid value for '--source': unknown source kind 'chatgtp'" in result.stderr
    for kind in plugins.importers():  # every registered kind is offered, freehold's own too
        assert kind in result.stderr
    assert "freehold" in plugins.importers()
    assert not (tmp_path / "out").exists()


def test_a_source_kind_in_any_case_is_the_kind(sample: None) -> None:
    result = run("search", "pivot", "--source", "ChatGPT", "--json")
    assert result.exit_code == 0 and '"source": "chatgpt"' in result.stdout


def test_an_unknown_format_is_refused_with_the_formats(sample: None, tmp_path: Path) -> None:
    result = run("export", "--format", "mardown", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "unknown format 'mardown'; choose one of: csv, html, json" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--since", "2024-13"), ("--until", "yesterday"), ("--since", "99999")]
)
def test_a_date_that_is_not_one_is_refused_naming_the_option(
    sample: None, tmp_path: Path, option: str, value: str
) -> None:
    export = ["export", "--format", "json", "--out", str(tmp_path)]
    for args in (["search", "pivot"], export, ["conversations"]):
        result = run(*args, option, value)
        assert result.exit_code == 2
        assert f"Invalid value for '{option}': '{value}': not a date" in result.stderr
        assert "YYYY-MM-DD" in result.stderr


@pytest.mark.parametrize("command", [["search", "pivot"], ["conversations"]])
def test_a_period_that_ends_before_it_starts_is_refused(sample: None, command: list[str]) -> None:
    result = run(*command, "--since", "2025", "--until", "2024")
    assert result.exit_code == 2
    assert "--since 2025 is after --until 2024: nothing can match" in result.stderr


def test_a_role_that_is_none_lists_the_roles(sample: None) -> None:
    result = run("search", "pivot", "--role", "bot")
    assert result.exit_code == 2
    # worded as the web app's 400 page words it (freehold/filters.py, probe U-5)
    assert "unknown role 'bot'; choose one of: user, assistant, system, tool" in result.stderr
    assert run("search", "pivot", "--role", "Assistant").exit_code == 0


def test_no_matches_names_the_filters_that_may_be_mistyped(sample: None) -> None:
    result = run("search", "pivot", "--model", "gtp-4")
    assert result.exit_code == 0
    assert "no matches with --model gtp-4" in result.stderr


def test_until_an_iso_time_takes_that_whole_second_or_minute(sample: None, tmp_path: Path) -> None:
    """Probe N #8: ``--until`` is inclusive for an ISO time as for a date (the sample has a
    conversation made at 2023-11-20T19:35:26.77Z), ``--since T --until T`` is that instant's
    period, and a year past the last date there is ends at the last one."""
    moment = "2023-11-20T19:35:26Z"
    for args in (
        ["--until", moment],
        ["--since", moment, "--until", moment],
        ["--since", "2023-11-20T19:35", "--until", "2023-11-20T19:35"],
        ["--since", "2023-11-20T19:35:26", "--until", "9999"],
    ):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        result = run("export", "--format", "csv", "--out", str(out), "--json", *args)
        assert result.exit_code == 0, (args, result.output)
        assert '"written": ' in result.output
    result = run("export", "--format", "csv", "--out", str(tmp_path / "x"), "--until", moment[:-4])
    assert result.exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["search", "the", "--json", "--model", "gpt-5"],
        ["search", "zzzznothing", "--model", "gpt-5"],
        ["export", "--format", "csv", "--out", "{out}", "--model", "gpt-5"],
        ["conversations", "--model", "gpt-5"],
    ],
)
def test_an_exact_model_says_which_names_it_leaves_out(
    sample: None, tmp_path: Path, args: list[str]
) -> None:
    """R2 #3: ``--model`` became exact, so ``gpt-5`` leaves out ``gpt-5-thinking``; scripts got
    fewer results with no word. One line on stderr names them and the prefix that takes them."""
    result = run(*(arg.format(out=tmp_path / "out") for arg in args))
    assert result.exit_code in (0, 1), result.output
    said = " ".join(result.stderr.split())
    assert "models starting with gpt-5: gpt-5-thinking — gpt-5* takes them" in said, said
    prefixed = run(*(arg.format(out=tmp_path / "o2") for arg in args[:-1]), "gpt-5*")
    assert "models starting with" not in prefixed.stderr


def test_the_model_note_names_models_only_messages_name(sample: None) -> None:
    """The note listed conversations' models only; a message's own model (the person picked
    another mid-conversation), which ``--model`` matches too, was left out of it."""
    with open_archive() as archive:
        archive.db.execute(
            "UPDATE messages SET model = 'gpt-5-mini' WHERE id = (SELECT max(id) FROM messages)"
        )
        named = archive.db.execute("SELECT group_concat(model) FROM conversations").fetchone()
        assert "gpt-5-mini" not in named[0]
    said = " ".join(run("search", "zzzznothing", "--model", "gpt-5").stderr.split())
    assert "models starting with gpt-5: gpt-5-mini, gpt-5-thinking — gpt-5* takes them" in said
