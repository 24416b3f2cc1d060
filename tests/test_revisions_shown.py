"""A message's earlier words, kept on import when the platform changed them (``<id>#rev-<n>``,
``archive._revision``), read as what they are in every reader: labelled "Earlier version
(changed upstream, kept on import)" beside their message, never as a branch (probe P, item 2).
One predicate, ``Message.revision_of``; ``tree.reading_paths`` leaves them out of the branches."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold.cli import cli
from freehold.models import REVISION_LABEL
from tests.builders import chatgpt_chats


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), terminal_width=200)


@pytest.fixture
def revised(tmp_path: Path) -> str:
    """Conversation c1 whose answer changed upstream: "forty-two", then "forty-three"."""
    for n, answer in enumerate(("forty-two", "forty-three")):
        export = chatgpt_chats(
            tmp_path / f"v{n}.zip", {"c1": ("Plan", ["question", answer])}, 1.7e9 + n * 100
        )
        assert run("import", str(export)).exit_code == 0
    return "c1"


def test_message_revision_of_is_the_one_predicate() -> None:
    from freehold.models import Message

    def message(source_id: str) -> Message:
        return Message(source_id, None, "assistant", "text", [], "")

    assert message("m2#rev-1").revision_of == "m2"
    assert message("a#rev-1#rev-12").revision_of == "a#rev-1"
    assert [message(s).revision_of for s in ("m2", "m2#2", "m2#rev-", "m2#rev-0", "rev-1")] == [
        None
    ] * 5


def test_show_labels_an_earlier_version_beside_its_message(revised: str) -> None:
    shown = run("show", revised).stdout
    assert "2 branches" not in shown and "other branch" not in shown, shown
    assert "1 earlier version kept (changed upstream): --all-branches shows it" in shown
    full = run("show", revised, "--all-branches").stdout
    assert "Branch " not in full, full
    label = re.escape(REVISION_LABEL)
    assert re.search(rf"\nforty-three *\n\n{label} · Assistant · [^\n]*\n?[^\n]*\nforty-two", full)


def test_exports_label_it_and_list_no_other_branch(revised: str, tmp_path: Path) -> None:
    assert run("export", "--format", "markdown", "--out", str(tmp_path / "md")).exit_code == 0
    note = next(p for p in (tmp_path / "md").glob("*.md") if p.name != "index.md").read_text()
    assert "Other branches" not in note and "branches: 1\n" in note
    assert re.search(
        rf"<summary>{re.escape(REVISION_LABEL)} · Assistant[^<]*</summary>\n\nforty-two", note
    ), note
    assert note.index("forty-three") < note.index("forty-two")
    assert run("export", "--format", "html", "--out", str(tmp_path / "html")).exit_code == 0
    page = next(p for p in (tmp_path / "html").glob("*.html") if p.name != "index.html").read_text()
    assert (
        "Other branches" not in page
        and "branches" not in page.split("<main>")[1].split("</h1>")[1][:300]
    )
    assert f"<summary>{REVISION_LABEL} · Assistant" in page
    assert page.index("forty-three") < page.index("forty-two")


def test_search_json_says_a_hit_is_an_earlier_version(revised: str) -> None:
    old = json.loads(run("search", "forty-two", "--json").stdout)
    new = json.loads(run("search", "forty-three", "--json").stdout)
    assert [hit["revision"] for hit in old] == [True]
    assert [hit["revision"] for hit in new] == [False]


def test_the_pdf_labels_it_and_lists_no_other_branch(revised: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    assert run("export", "--format", "pdf", "--out", str(tmp_path / "pdf")).exit_code == 0
    document = next((tmp_path / "pdf").glob("*.pdf"))
    words = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(document).pages)
    assert "Other branches" not in words and "branches" not in words, words
    assert words.index("forty-three") < words.index("Earlier version") < words.index("forty-two")
