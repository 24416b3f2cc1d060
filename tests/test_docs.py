"""Docs are part of the product: generated pages current, every command and table documented."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import click

from freehold.archive import Archive
from freehold.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("generate_cli", DOCS / "generate_cli.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    expected = _generator().render()  # type: ignore[attr-defined]
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run python docs/generate_cli.py"
    )


def test_every_command_is_in_the_reference_and_the_guides() -> None:
    assert isinstance(cli, click.Group)
    reference = (DOCS / "cli.md").read_text(encoding="utf-8")
    guides = "".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md") if p.name != "cli.md")
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):  # every command, its module loaded on the way
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert f"## freehold {name}\n" in reference
        assert f"freehold {name}" in guides + README.read_text(encoding="utf-8"), name
        assert command.help, f"freehold {name} has no docstring"
        for sub, subcommand in getattr(command, "commands", {}).items():  # a group's commands
            assert f"### freehold {name} {sub}\n" in reference
            assert f"freehold {name} {sub}" in guides, f"{name} {sub}"
            assert subcommand.help, f"freehold {name} {sub} has no docstring"


def test_every_table_is_documented(archive: Archive) -> None:
    text = (DOCS / "archive-format.md").read_text(encoding="utf-8")
    tables = [
        row[0]
        for row in archive.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if not re.search(r"_fts_|^sqlite_", row[0])
    ]
    assert "messages" in tables
    for table in tables:
        assert f"`{table}`" in text, f"table {table} missing from docs/archive-format.md"


def test_every_column_is_documented(archive: Archive) -> None:
    text = (DOCS / "archive-format.md").read_text(encoding="utf-8")
    for table in ("sources", "conversations", "messages", "attachments", "message_attachments"):
        for column in archive.db.execute(f"PRAGMA table_info({table})"):
            assert f"`{column[1]}`" in text, f"{table}.{column[1]} undocumented"


def test_readme_has_the_two_code_blocks_ci_runs() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 2
    assert "freehold import" in blocks[0]
    ci = (DOCS.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci, ".ci/run must run exactly the README's test command"


def test_the_readme_try_it_leaves_nothing_for_git_to_show() -> None:
    """The folders the Try-it block writes (the archive, the export) are ignored by git."""
    first = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)[0]
    written = re.findall(r'FREEHOLD_HOME="\$PWD/([\w.-]+)"|--out ([\w.-]+)', first)
    folders = {home or out for home, out in written}
    assert {"demo-archive", "demo-markdown"} <= folders
    ignored = (DOCS.parent / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert sorted(f for f in folders if f"/{f}/" not in ignored and f"{f}/" not in ignored) == []


def test_the_readme_imports_your_own_export_outside_the_demo_archive() -> None:
    """The Try-it block exports FREEHOLD_HOME=demo-archive; the next step, your own export,
    unsets it first, or your conversations land among the 23 synthetic ones for good."""
    text = README.read_text(encoding="utf-8")
    own = text.split("```", 2)[2].split("Your own export", 1)[1].split("\n\n", 1)[0]
    assert "unset FREEHOLD_HOME" in own.split("freehold import ~/Downloads/", 1)[0]
    assert "~/.local/share/freehold" in own  # and says where the archive then lives
