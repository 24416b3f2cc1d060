"""``freehold profile`` and ``chat --profile`` end to end: a newcomer turns the sample
archive's custom instructions and memory into a profile, edits it in a real editor process,
reviews what it would leak, exports it, and wears it with models of all three protocols on the
loopback wire server — which checks that each one received the profile in its own field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold.cli import cli
from tests.providers.servers import Script, WireServer

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
SECRET_LINE = "Mail sam.jones@example.org or call +1 415-555-0132."
# A real editor, as $EDITOR: a program that changes the file it is given and exits.
EDITOR = """import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
text = text.replace("## How to respond\\n", "## How to respond\\n\\nAlways answer in Dutch.\\n")
open(path, "w", encoding="utf-8").write(text)
"""


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, terminal_width=200)


@pytest.fixture
def sample(_isolated_home: Path) -> Path:
    assert run("import", str(SAMPLE)).exit_code == 0
    return _isolated_home


def _provider(kind: str, wire: WireServer) -> None:
    result = run("providers", "add", kind, "--kind", kind, "--base-url", wire.base_url(kind))
    assert result.exit_code == 0, result.output


def _with_secrets(tmp_path: Path) -> None:
    """Profile ``work`` gets a line with an e-mail address and a phone number."""
    text = run("profile", "show", "work").stdout.replace(
        "## About the user\n\n", f"## About the user\n\n{SECRET_LINE}\n"
    )
    path = tmp_path / "edited.md"
    path.write_text(text, encoding="utf-8")
    assert run("profile", "edit", "work", "--from", str(path)).exit_code == 0


def test_a_newcomer_makes_a_profile_from_the_sample_archive(sample: Path) -> None:
    made = run("profile", "create", "work")
    assert made.exit_code == 0, made.output
    assert "profile work, version 1" in made.stdout and "3 notes" in made.stdout
    assert "not included: custom GPT g-GFJ15ObGb" in made.stderr
    listed = json.loads(run("profile", "list", "--json").stdout)
    assert [(p["name"], p["versions"]) for p in listed] == [("work", [1])]
    shown = run("profile", "show", "work").stdout
    assert shown.startswith("---\nname: work\nversion: 1\n")
    assert "## Memory (notes the user's assistant kept, dated)" in shown
    assert "- 2024-07-03: User wants recipes without peanuts." in shown
    system = run("profile", "show", "work", "--system").stdout
    assert system.startswith("## About the user\n\n") and "---" not in system.split("\n")[0]
    again = run("profile", "create", "work")
    assert again.exit_code == 1 and "exists (version 1)" in again.output


def test_an_empty_archive_says_what_to_import(sample: Path, _isolated_home: Path) -> None:
    (_isolated_home / "archive.sqlite").unlink()
    made = run("profile", "create", "work")
    assert made.exit_code == 1 and "no archive" in made.output.lower()


def test_edit_opens_the_editor_and_keeps_every_version(
    sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run("profile", "create", "work")
    script = tmp_path / "editor.py"
    script.write_text(EDITOR, encoding="utf-8")
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" "{script}"')
    monkeypatch.delenv("VISUAL", raising=False)
    edited = run("profile", "edit", "work")
    assert edited.exit_code == 0, edited.output
    assert "profile work, version 2" in edited.stdout
    assert "Always answer in Dutch." in run("profile", "show", "work", "--system").stdout
    assert "Always answer in Dutch." not in run("profile", "show", "work", "--version", "1").stdout
    # an editor that saves nothing new keeps no version
    monkeypatch.setenv("EDITOR", "true")
    assert "no change" in run("profile", "edit", "work").stderr
    assert json.loads(run("profile", "list", "--json").stdout)[0]["versions"] == [1, 2]


def test_a_broken_edit_is_refused_and_kept(
    sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run("profile", "create", "work")
    script = tmp_path / "breaker.py"
    script.write_text(
        "import sys\nopen(sys.argv[1], 'w').write('---\\nname: [x\\n---\\nmine\\n')\n"
    )
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" "{script}"')
    result = run("profile", "edit", "work")
    assert result.exit_code == 1 and "not valid YAML" in result.output
    kept = Path(result.output.split("kept in ")[1].split(")")[0])
    assert kept.read_text() == "---\nname: [x\n---\nmine\n"
    assert json.loads(run("profile", "list", "--json").stdout)[0]["versions"] == [1]


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("---\n- a list\n---\nmine\n", "not 'key: value' lines"),
        ("---\nname: work\n---\n", "no profile text"),
    ],
)
def test_an_edit_that_is_no_profile_is_refused_and_kept(
    sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, written: str, said: str
) -> None:
    run("profile", "create", "work")
    script = tmp_path / "breaker.py"
    script.write_text(f"import sys\nopen(sys.argv[1], 'w').write({written!r})\n")
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" "{script}"')
    result = run("profile", "edit", "work")
    assert result.exit_code == 1 and said in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    kept = Path(result.output.split("kept in ")[1].split(")")[0])
    assert kept.read_text() == written
    assert json.loads(run("profile", "list", "--json").stdout)[0]["versions"] == [1]


def test_a_file_that_starts_like_json_or_toml_is_text_not_front_matter(
    sample: Path, tmp_path: Path
) -> None:
    run("profile", "create", "work")
    toml = tmp_path / "p.md"
    toml.write_text("+++\nnot = toml = x\n+++\nAlways answer in French.\n", encoding="utf-8")
    edited = run("profile", "edit", "work", "--from", str(toml))
    assert edited.exit_code == 0, edited.output
    assert run("profile", "show", "work", "--system").stdout.startswith("+++\nnot = toml")
    # JSON that is not freehold's own export of a profile: all of it is the text
    other = tmp_path / "other.json"
    other.write_text('{"system": "x", "note": "mine"}\n', encoding="utf-8")
    assert run("profile", "edit", "work", "--from", str(other)).exit_code == 0
    assert run("profile", "show", "work", "--system").stdout.strip() == other.read_text().strip()


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_each_importable_export_comes_back_as_the_same_profile(
    sample: Path, tmp_path: Path, fmt: str
) -> None:
    run("profile", "create", "work")
    exported = tmp_path / f"work.{fmt}"
    made = run("profile", "export", "work", "--format", fmt, "--out", str(exported), "--yes")
    assert made.exit_code == 0, made.output
    kept = run("profile", "edit", "other", "--from", str(exported))
    assert kept.exit_code == 0, kept.output
    work, other = (
        json.loads(run("profile", "show", n, "--json").stdout) for n in ("work", "other")
    )
    assert other["text"] == work["text"] and "## About the user" in other["text"]
    shown = run("profile", "show", "other").stdout
    assert "from:" in shown and shown.count("name: other") == 1  # its front matter, renamed


def test_a_broken_json_export_is_refused_naming_the_markdown_export(
    sample: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "work.json"
    broken.write_text(
        '{"name": "work", "version": 1, "system": 3, "front_matter": {}}\n', encoding="utf-8"
    )
    result = run("profile", "edit", "other", "--from", str(broken))
    assert result.exit_code == 1 and str(broken) in result.output
    assert "--format markdown" in result.output and len(result.output.strip().splitlines()) == 1
    assert run("profile", "list", "--json").stdout.strip() == "[]"


def test_export_reviews_each_flag_once_and_remembers(sample: Path, tmp_path: Path) -> None:
    run("profile", "create", "work")
    _with_secrets(tmp_path)
    shown = run("profile", "show", "work")
    assert "flag: e-mail address sam.….org — not reviewed" in shown.stderr
    refused = run("profile", "export", "work", "--format", "claude")
    assert refused.exit_code == 1 and "no answer for the e-mail address" in refused.output
    answered = run("profile", "export", "work", "--format", "claude", input="k\ns\n")
    assert answered.exit_code == 0, answered.output
    assert "sam.jones@example.org" in answered.stdout
    assert "[struck: phone number]" in answered.stdout and "555-0132" not in answered.stdout
    assert "sam.jones@example.org" not in answered.stderr  # the question shows it masked
    # remembered: the next export asks nothing, in any format
    quiet = run("profile", "export", "work", "--format", "json")
    assert quiet.exit_code == 0 and json.loads(quiet.stdout)["struck"] == 1
    assert "keep or strike" not in quiet.stderr


def test_unattended_export_keeps_or_strikes_all(sample: Path, tmp_path: Path) -> None:
    run("profile", "create", "work")
    _with_secrets(tmp_path)
    out = tmp_path / "chatgpt.txt"
    struck = run(
        "profile", "export", "work", "--format", "chatgpt", "--strike-all", "--out", str(out)
    )
    assert struck.exit_code == 0, struck.output
    text = out.read_text()
    assert "[struck: e-mail address]" in text and "[struck: phone number]" in text
    assert "=== What would you like ChatGPT to know about you? — " in text
    kept = run("profile", "export", "work", "--format", "markdown", "--yes")
    assert SECRET_LINE in kept.stdout
    # --yes and --strike-all hold for one run: nothing was remembered
    assert run("profile", "export", "work").exit_code == 1


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_chat_wears_the_profile_in_each_protocols_own_field(
    sample: Path, wire: WireServer, kind: str
) -> None:
    run("profile", "create", "work")
    _provider(kind, wire)
    system = run("profile", "show", "work", "--system").stdout.strip()
    wire.queue(Script(text="Noted."))
    result = run("chat", "-m", f"{kind}:model-x-20250101", "--profile", "work", "Hi", "--json")
    assert result.exit_code == 0, result.output
    (seen,) = wire.requests
    body = seen.body
    if kind == "openai":
        assert body["messages"][0] == {"role": "system", "content": system}
        assert body["messages"][1:] == [{"role": "user", "content": "Hi"}]
    elif kind == "anthropic":
        assert body["system"] == system
        assert [m["role"] for m in body["messages"]] == ["user"]
    else:
        assert body["systemInstruction"]["parts"][0]["text"] == system
        assert [c["role"] for c in body["contents"]] == ["user"]
    assert "recipes without peanuts" in system
    # the archive keeps what the model was told, as the conversation's system message
    reply = json.loads(result.stdout)
    shown = json.loads(run("show", reply["conversation_id"], "--json").stdout)
    assert shown["messages"][0]["role"] == "system" and shown["messages"][0]["text"] == system


def test_chat_refuses_a_profile_with_flags_nobody_reviewed(
    sample: Path, wire: WireServer, tmp_path: Path
) -> None:
    run("profile", "create", "work")
    _with_secrets(tmp_path)
    _provider("openai", wire)
    result = run("chat", "-m", "openai:model-x-20250101", "--profile", "work", input="Hi\n")
    assert (
        result.exit_code == 1
        and "2 flagged items (likely secrets or personal data) not reviewed" in result.output
    )
    assert wire.requests == []  # nothing left
    run("profile", "export", "work", "--strike-all")  # unattended: not remembered
    assert run("profile", "export", "work", input="s\ns\n").exit_code == 0  # remembered
    wire.queue(Script(text="Noted."))
    sent = run("chat", "-m", "openai:model-x-20250101", "--profile", "work", input="Hi\n")
    assert sent.exit_code == 0, sent.output
    told = wire.requests[0].body["messages"][0]["content"]
    assert "[struck: e-mail address]" in told and "sam.jones" not in told


def test_apply_asks_a_model_wearing_the_profile_and_stores_nothing(
    sample: Path, wire: WireServer
) -> None:
    run("profile", "create", "work")
    _provider("anthropic", wire)
    before = run("stats", "--json").stdout
    wire.queue(Script(text="You are a PM; I will be concise."))
    result = run("profile", "apply", "work", "-m", "anthropic:model-x-20250101", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["provider"], answer["version"]) == ("complete", "anthropic", 1)
    assert answer["text"] == "You are a PM; I will be concise."
    body = wire.requests[0].body
    assert "recipes without peanuts" in body["system"]
    assert "what do you know about me" in body["messages"][0]["content"]
    assert run("stats", "--json").stdout == before
    wire.queue(
        Script(status=401, body={"error": {"type": "authentication_error", "message": "no"}})
    )
    failed = run("profile", "apply", "work", "-m", "anthropic:model-x-20250101", "Hi")
    assert failed.exit_code == 1 and "failed" in failed.output
