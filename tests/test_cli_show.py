"""``freehold show`` names what a reader knows: the message a branch forks from (not a node id),
what a hidden item is (not its source content type), and counts in words that agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold.archive import open_archive
from freehold.cli import cli
from tests.builders import LIBRECHAT_PREFIX, SYSTEM_PROMPT, own_system_prompts

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
BRANCHED = "c19ee96c229f96f6"  # two branches, reasoning, tool calls, a hidden system message


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), terminal_width=200)


@pytest.fixture
def sample() -> None:
    assert run("import", str(SAMPLE)).exit_code == 0


def test_a_branch_is_headed_by_the_message_it_forks_from(sample: None) -> None:
    with open_archive() as archive:
        conv = archive.get_conversation(BRANCHED)
    node_ids = {message.source_id for message in conv.messages}
    result = run("show", BRANCHED, "--all-branches")
    headers = [line for line in result.stdout.splitlines() if "Branch " in line]
    assert len(headers) == 2  # the first labelled too (probe U: only "Branch 2 of 2" was)
    assert "Branch 1 of 2 — the visible one" in headers[0]
    assert re.search(r"Branch 2 of 2 — from User: “Compare two approaches [^”]*”", headers[1])
    assert not [node for node in node_ids if node in headers[1]]
    assert "Branch " not in run("show", BRANCHED).stdout  # one path: no rule


def test_hidden_items_are_named_for_a_reader(sample: None) -> None:
    result = run("show", BRANCHED)
    hidden = [line.strip() for line in result.stdout.splitlines() if "(hidden)" in line]
    kinds = {line.split(" (hidden)")[0].lstrip("▸ ") for line in hidden}
    assert {"System message", "Tool call", "Tool output", "Reasoning", "Reasoning summary"} <= kinds
    assert "reasoning_recap" not in result.stdout and "▸ hidden" not in result.stdout


def test_counts_agree_with_their_number(sample: None) -> None:
    result = run("show", BRANCHED)
    assert "2 branches" in result.stdout
    assert "1 other branch: --all-branches shows it" in result.stdout
    assert "branch(es)" not in result.stdout


def test_a_conversations_own_system_prompt_is_shown_labelled(real: Path, tmp_path: Path) -> None:
    """Open WebUI's params.system and LibreChat's promptPrefix, boxed under their label before
    the thread, with or without --all-branches; ChatGPT's stay with their message, once."""
    with open_archive() as archive:
        own_system_prompts(archive, tmp_path / "in", real)
        ids = {c.source_kind: str(c.id) for c in archive.iter_conversations()}
    for kind, prompt in (("openwebui", SYSTEM_PROMPT), ("librechat", LIBRECHAT_PREFIX)):
        for extra in ((), ("--all-branches",)):
            shown = run("show", ids[kind], *extra).stdout
            assert re.search(r"Custom instructions ─+╮\n│ " + re.escape(prompt), shown), shown
            assert shown.count(prompt) == 1 and shown.index(prompt) < shown.index("User")
    chatgpt = run("show", ids["chatgpt"]).stdout
    assert chatgpt.count("Preferred name:") == 1


def test_a_message_without_text_but_with_content_is_shown(real: Path) -> None:
    """Probe K, item 6: ``show`` kept a message only when its text was not blank, so a Claude
    tool call whose input is not a string (text "", a code part) and a part it does not
    understand were left out, while the web page and the exports show them."""
    claude = real / "echomine-aucontraire" / "claude"
    for name in ("tool_messages.json", "claude_thinking.json"):
        assert run("import", str(claude / name)).exit_code == 0
    tools = run("show", "tool-conv-004").stdout
    assert "check_prime" in tools and '"number": 5754' in tools
    assert tools.count("Assistant ·") == 4  # two tool calls, two answers
    thinking = run("show", "conv-thinking").stdout
    assert "Content not understood: token_budget" in thinking


def test_an_empty_turn_is_still_left_out(_isolated_home: Path, tmp_path: Path) -> None:
    """ChatGPT's ``parts: [""]`` (a turn with nothing in it): left out, as ChatGPT does."""
    from tests.builders import chatgpt_chats

    export = chatgpt_chats(tmp_path / "e.zip", {"e1": ("Empty", ["hi", "", "bye"])}, 1.7e9)
    assert run("import", str(export)).exit_code == 0
    shown = run("show", "e1").stdout
    assert "hi" in shown and "bye" in shown and "Assistant ·" not in shown


def test_tool_input_is_code_and_a_tool_result_is_a_tool_turn(real: Path) -> None:
    """R2 #7: ``show`` printed ``Message.text`` (the search text): a tool call's input came out
    as Markdown prose (``__name__`` turned bold, indentation gone), and a Claude tool result
    sent as a human turn was "User" while the exports made it a tool turn (``turn_role``)."""
    path = real / "echomine-aucontraire" / "claude" / "tool_messages.json"
    assert run("import", str(path)).exit_code == 0
    shown = run("show", "tool-conv-001").stdout
    # The input as the exports show it (a code block: its JSON, as written).
    assert '\n  "path": "fibonacci.py",' in shown  # indentation kept
    assert "if __name__" in shown and '\\"__main__\\"' in shown  # not Markdown's bold
    assert re.search(r"^Tool · .*\nOutput:\nFile written successfully", shown, re.M), shown
    assert not re.search(r"^User · .*\n.*File written successfully", shown, re.M)
    assert shown.count("User ·") == 1 and shown.count("Assistant ·") == 3


def test_reasoning_is_labelled_not_printed_as_the_answer(real: Path) -> None:
    """Probe P, item 4: ``show`` printed a Claude reply's reasoning dim but unlabelled, right
    above its answer, as if it were part of it; the exports label it "Thought" (one table of
    part labels, ``models.PART_LABELS``)."""
    path = real / "echomine-aucontraire" / "claude" / "claude_thinking.json"
    assert run("import", str(path)).exit_code == 0
    shown = run("show", "conv-thinking").stdout
    assert re.search(r"^Thought.*\nLet me analyze this step by step\.\.\.$", shown, re.M), shown
    assert shown.index("Let me analyze") < shown.index("Here is my answer.")
    assert "(Content not understood: token_budget, kept raw)" in shown


def test_citation_sources_are_listed_apart(real: Path) -> None:
    """Probe P, item 5: the docs say citations' sources are "listed apart" in ``show`` as in
    the exports; ``show`` dropped them (an AI Studio answer's grounding came out bare)."""
    path = real / "polylogue-aistudio-and-misc" / "aistudio-branching_session.json"
    assert run("import", str(path)).exit_code == 0
    shown = run("show", "gemini-branching-1", "--all-branches").stdout
    assert re.search(
        r"Second answer with grounding\. *\nSources:\n  https://example\.com/source — Example\n",
        shown,
    ), shown


def test_show_json_is_the_json_export_record_with_epoch_times_and_says_so(
    sample: None, tmp_path: Path
) -> None:
    """Probe U-6: ``show --json`` gives epoch seconds where ``search --json`` gives ISO
    strings. It is the JSON export's record, unchanged; its help and docs say so."""
    import orjson

    shown = orjson.loads(run("show", BRANCHED, "--json").stdout)
    assert run("export", "--format", "json", "--out", str(tmp_path / "out")).exit_code == 0
    lines = (tmp_path / "out" / "conversations.jsonl").read_bytes().splitlines()
    record = next(r for r in map(orjson.loads, lines) if r["id"] == BRANCHED)
    assert shown == {key: value for key, value in record.items() if key != "raw"}
    assert isinstance(shown["created_at"], float)
    assert isinstance(shown["messages"][0]["created_at"], float | None)
    said = " ".join(run("show", "--help").stdout.split())
    assert "a line of the JSON export" in said and "epoch seconds" in said
