"""A hostile export cannot drive the terminal: every command prints its escape sequences as text.

The export below carries an OSC 52 clipboard write, a window title, a screen erase, a C1 CSI,
DEL and a bidi override in its titles, messages, model names, content types, attachment and
member names; the file imported is named with one too.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from freehold import render
from freehold.archive import conversation_id
from freehold.cli import cli

EVIL = "\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u202c\x7f\x08\r!"
SHOWN = r"\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u202c\x7f\x08\x0d!"
# What no output may hold: C0 controls but newline and tab, DEL, C1, bidi controls.
OBEYED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def node(mid: str, parent: str, role: str, content: dict[str, Any]) -> dict[str, Any]:
    message = {
        "id": mid,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": 1.7e9,
        "content": content,
        "metadata": {"model_slug": "gpt-4o" + EVIL} if role == "assistant" else {},
    }
    return {"id": mid, "parent": parent, "message": message}


def hostile_export(folder: Path) -> Path:
    image = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://f" + EVIL}
    asked = {"content_type": "multimodal_text", "parts": ["pivot question " + EVIL, image]}
    answered = {"content_type": "text", "parts": ["pivot **answer** " + EVIL]}
    conv = {
        "id": "evil-1",
        "title": "Pivot " + EVIL,
        "create_time": 1.7e9,
        "current_node": "a",
        "mapping": {
            "root": {"id": "root", "parent": None, "message": None},
            "u": node("u", "root", "user", asked),
            "a": node("a", "u", "assistant", answered),
            "x": node("x", "u", "assistant", {"content_type": "odd" + EVIL, "parts": ["x"]}),
        },
    }
    path = folder / f"export{EVIL}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conv, {"id": "no-map" + EVIL}]))
        archive.writestr(f"stray{EVIL}.txt", "not referenced")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def flat(output: str) -> str:
    """The output without white space and box lines: rich wraps and centres long lines."""
    return re.sub(r"[\s\u2500-\u257f]", "", output)


def assert_inert(result: Result) -> None:
    for stream in (result.stdout, result.stderr):
        assert OBEYED.findall(stream) == []


@pytest.fixture
def imported(tmp_path: Path) -> Result:
    return run("import", str(hostile_export(tmp_path)))


def test_import_report_and_problems_are_inert_and_readable(imported: Result) -> None:
    assert_inert(imported)
    assert f"odd{SHOWN}1" in flat(imported.stdout)  # the content type, whole
    assert f"stray{SHOWN}.txt" in flat(imported.stderr)  # the member, in a problem
    assert f"no-map{SHOWN}" in flat(imported.stderr)


def test_search_show_and_stats_are_inert_and_readable(imported: Result) -> None:
    searched = run("search", "pivot")
    assert searched.exit_code == 0
    assert_inert(searched)
    assert f"Pivot{SHOWN}" in flat(searched.stdout)
    assert f"pivotquestion{SHOWN}" in flat(searched.stdout)
    shown = run("show", conversation_id("chatgpt", "evil-1"), "--all-branches")
    assert shown.exit_code == 0
    assert_inert(shown)
    text = flat(shown.stdout)
    assert f"Pivot{SHOWN}" in text and f"gpt-4o{SHOWN}" in text and f"f{SHOWN}" in text
    stats = run("stats")
    assert stats.exit_code == 0
    assert_inert(stats)


def test_json_output_escapes_every_control_and_keeps_the_value(tmp_path: Path) -> None:
    report = run("import", "--json", str(hostile_export(tmp_path)))
    assert_inert(report)
    assert json.loads(report.stdout)["content_types"] == {
        "multimodal_text": 1,
        "odd" + EVIL: 1,
        "text": 1,
    }
    result = run("search", "pivot", "--json")
    assert_inert(result)
    assert "\\u001b]52" in result.stdout and "\\u009b31m\\u202eevil" in result.stdout
    assert json.loads(result.stdout)[0]["title"] == "Pivot " + EVIL


def test_a_failed_import_names_the_file_inertly(tmp_path: Path) -> None:
    path = tmp_path / f"notes{EVIL}.json"
    path.write_text('{"nothing": "known"}')
    result = run("import", str(path))
    assert result.exit_code == 1
    assert_inert(result)
    assert f"notes{SHOWN}.json" in flat(result.stderr)


def test_click_errors_are_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / f"home{EVIL}"
    home.write_text("a file where the data folder should be")
    monkeypatch.setenv("FREEHOLD_HOME", str(home))
    result = run("stats")
    assert result.exit_code == 1
    assert_inert(result)
    assert f"home{SHOWN}" in flat(result.stderr)


def test_a_colour_terminal_writes_only_rich_styles() -> None:
    """With colours on, the only escape sequences written are rich's own SGR styles."""
    file = io.StringIO()
    console = render.Terminal(file=file, force_terminal=True, color_system="standard", width=300)
    console.print("plain " + EVIL, style="bold")
    console.print(Text("a Text made without visible() " + EVIL, style="bold red"))
    written = re.sub(r"\x1b\[[0-9;]*m", "", file.getvalue())
    assert OBEYED.findall(written) == []
    assert f"plain {SHOWN}" in written
    assert r"visible() \x1b]52;c;ZXZpbA==" in written  # rich drops BEL and CR from a Text


def test_names_are_printed_as_they_are_not_as_emoji_or_markup(tmp_path: Path) -> None:
    """Rich reads ``:fire:`` as an emoji code and ``[bold]`` as markup; a file name is neither."""
    names = ["photo :fire: 1.png", "[bold]notes[/bold] :smile:.txt"]
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([{"id": "x", "mapping": {}}]))
        for name in names:
            archive.writestr(name, b"not referenced")
    result = run("import", str(path))
    assert "leftout" in flat(result.output)  # each named, as what it is
    for name in names:
        assert flat(name) in flat(result.output)
    assert "🔥" not in result.output and "😄" not in result.output


def test_a_terminal_prints_strings_as_they_are() -> None:
    """Whatever a caller asks: no emoji codes, no markup, no highlighting (no style at all)."""
    text = "x:m :fire: [bold red]not bold[/] 192.168.1.1 True 'quoted' https://example.org"
    for options in ({}, {"emoji": True, "markup": True, "highlight": True}):
        file = io.StringIO()
        console = render.Terminal(file=file, force_terminal=True, color_system="standard")
        console.print(text, **options)
        assert file.getvalue() == text + "\n"


@given(st.text())
def test_visible_leaves_nothing_a_terminal_obeys(text: str) -> None:
    shown = render.visible(text)
    assert OBEYED.findall(shown) == []
    if not OBEYED.search(text):
        assert shown == text  # ordinary text, any script, is printed as it is
    dumped = render.json_text(orjson.dumps(text).decode())
    assert OBEYED.findall(dumped) == [] and json.loads(dumped) == text
