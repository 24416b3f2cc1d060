"""One label per message for every reader: who speaks and which tools (``Message.label``), what a
hidden item is (``Message.kind``), and the words after a number — in the terminal, the web app
(English and French) and the Markdown and HTML exports alike."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold.archive import conversation_id, open_archive
from freehold.cli import cli
from freehold.models import KIND_NAMES, Message, Part
from freehold.web import i18n
from freehold.web.i18n import FRENCH, counter, translator
from tests.builders import ingest
from tests.web.conftest import Server, start_server

TEMPLATES = Path(i18n.__file__).parent / "templates"
NOUN = re.compile(r"""\bnoun\([^,]+,\s*'([^']+)',\s*'([^']+)'\)""")
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def message(role: str, parts: list[Part], content_type: str = "text", **extra: object) -> Message:
    return Message("m", None, role, content_type, parts, "", **extra)  # type: ignore[arg-type]


def test_the_label_names_the_tools_a_message_calls() -> None:
    call = {"type": "code", "text": "{}", "name": "write_file"}
    output = {"type": "execution_output", "text": "ok", "name": "write_file"}
    other = {"type": "code", "text": "{}", "name": "execute_code"}
    text = {"type": "text", "text": "hi", "name": "not a tool"}
    assert message("assistant", [text, call]).label() == "Assistant · Tool: write_file"
    both = message("assistant", [call, output, other], model="claude-3")
    assert both.label(with_model=True) == "Assistant (claude-3) · Tools: write_file, execute_code"
    assert both.label(translator("fr")) == "Assistant · Outils: write_file, execute_code"
    # a tool message whose author is the tool says it once
    assert message("tool", [output], author_name="write_file").label() == "Tool: write_file"
    assert message("assistant", [{"type": "code", "name": 7}]).label() == "Assistant"


@pytest.mark.parametrize(
    ("role", "content_type", "types", "kind"),
    [
        ("assistant", "reasoning_recap", ["thought"], "Reasoning summary"),
        ("assistant", "thoughts", ["thought"], "Reasoning"),
        ("assistant", "thinking", ["thought"], "Reasoning"),  # Claude's, by its part
        ("assistant", "code", ["code"], "Tool call"),
        ("tool", "execution_output", ["execution_output"], "Tool output"),
        ("tool", "tether_browsing_display", ["web"], "Web results"),
        ("user", "user_editable_context", ["context"], "Custom instructions"),
        ("user", "model_editable_context", ["context"], "Memory"),
        ("system", "text", ["text"], "System message"),
        ("tool", "text", ["text"], "Tool output"),
        ("assistant", "text", ["text"], "Assistant message"),
        ("critic", "text", ["text"], "Message"),
    ],
)
def test_a_hidden_item_is_named_as_a_reader_calls_it(
    role: str, content_type: str, types: list[str], kind: str
) -> None:
    found = message(role, [{"type": t} for t in types], content_type).kind()
    assert found == kind and found in KIND_NAMES


def test_every_label_and_counted_word_has_french() -> None:
    words = {word for path in TEMPLATES.glob("*.html") for pair in NOUN.findall(path.read_text())
             for word in pair}  # fmt: skip
    assert {"conversation", "conversations", "branch", "branches", "result"} <= words
    wanted = words | KIND_NAMES | {"Tool", "Tools", "hidden"}
    assert sorted(wanted - FRENCH.keys()) == []


def test_counted_words_agree_with_the_number() -> None:
    english, french = counter("en"), counter("fr")
    assert [english(n, "conversation", "conversations") for n in (0, 1, 2)] == [
        "conversations",
        "conversation",
        "conversations",
    ]
    assert [french(n, "result", "results") for n in (0, 1, 2)] == [
        "résultat",
        "résultat",
        "résultats",
    ]


# -- the same labels everywhere, on a real Claude export with tool calls -------------------------


@pytest.fixture
def claude_home(real: Path, tmp_path: Path) -> Path:
    home = tmp_path / "claude-home"
    with open_archive(home) as archive:
        ingest(archive, real / "echomine-aucontraire" / "claude" / "tool_messages.json")
    return home


@pytest.fixture
def claude_server(claude_home: Path) -> Iterator[Server]:
    yield from start_server(claude_home)


def test_claude_tool_names_show_in_the_terminal_the_exports_and_the_web_page(
    claude_home: Path, claude_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FREEHOLD_HOME", str(claude_home))
    cid = conversation_id("claude", "tool-conv-001")
    shown = CliRunner().invoke(cli, ["show", cid])
    assert "Assistant · Tool: write_file" in shown.stdout
    assert "Assistant · Tool: execute_code" in shown.stdout
    for fmt in ("markdown", "html"):
        out = tmp_path / fmt
        assert (
            CliRunner().invoke(cli, ["export", "--format", fmt, "--out", str(out)]).exit_code == 0
        )
        written = "".join(p.read_text() for p in out.rglob("*.*") if p.suffix in (".md", ".html"))
        assert "Tool: write_file" in written and "Tool: execute_code" in written, fmt
    shutil.rmtree(tmp_path / "markdown")
    with claude_server.client(headers={"Accept-Language": "fr"}) as client:
        page = client.get(f"/conversations/{cid}")
    assert "Assistant · Outil: write_file" in page.text


@pytest.fixture
def sample_server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "sample-home"
    with open_archive(home) as archive:
        ingest(archive, SAMPLE)
    yield from start_server(home)


def test_the_web_page_names_hidden_items_and_counts_in_words(sample_server: Server) -> None:
    with sample_server.client() as client:
        page = client.get("/conversations/c19ee96c229f96f6").text
        home = client.get("/").text
    summaries = re.findall(r"<summary>([^<]*)</summary>", page)
    assert "Reasoning summary (hidden)" in summaries and "Tool call (hidden)" in summaries
    assert not [s for s in summaries if "_" in s]  # no internal type name
    assert re.search(r"<strong>1</strong> import\s", home)  # one import, "1 imports" before
    with sample_server.client(headers={"Accept-Language": "fr"}) as client:
        page = client.get("/conversations/c19ee96c229f96f6").text
    assert "<summary>Résumé du raisonnement (masqué)</summary>" in page


def test_the_import_table_counts_attachment_links_and_files_apart(tmp_path: Path) -> None:
    """25 links in the sample, 10 with their bytes in the zip, 8 distinct files: one row
    mixing links (read) and files (new) read as if 8 of 25 attachments were new."""
    shutil.copy(SAMPLE, tmp_path / "sample.zip")
    first = CliRunner().invoke(cli, ["import", str(tmp_path / "sample.zip")], terminal_width=120)
    again = CliRunner().invoke(cli, ["import", str(tmp_path / "sample.zip")], terminal_width=120)
    assert "attachment links 25" in _rows(first.output)
    assert "new attachment files 8" in _rows(first.output)
    # the words of the web page's report too (report_labels.LABELS, probe U-4)
    assert "attachment links: 10 with their file, 15 missing their file" in first.output
    assert "new attachment files 0" in _rows(again.output)


def _rows(output: str) -> list[str]:
    """A table's lines as words: its cell borders and padding gone."""
    return [re.sub(r"[│\s]+", " ", line).strip() for line in output.splitlines()]
