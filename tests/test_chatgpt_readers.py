"""What every reader shows of a ChatGPT conversation (``show``, search, the Markdown, HTML and
Open WebUI exports) is what ChatGPT shows: probe I (2026-12-07), I3–I5 and I7, on one small
export shaped like the real ones (FORMATS.md §A)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freehold.archive import open_archive
from freehold.cli import cli
from freehold.models import without_citation_marks
from tests.importers.test_chatgpt import PK, chain, message

ENTITY = '\ue200entity\ue202["restaurant","Chez Janou","Paris"]\ue201'
NEW_CITE = "\ue200cite\ue202turn0search0\ue201"
OLD_CITE = "【3†source】"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), terminal_width=200)


def said(text: str) -> dict[str, Any]:
    return {"content_type": "text", "parts": [text]}


def answer(mid: str, text: str, t: float, **metadata: Any) -> dict[str, Any]:
    return message(mid, "assistant", said(text), t, metadata={"model_slug": "gpt-4o", **metadata})


def export() -> list[dict[str, Any]]:
    entity = [
        message("u", "user", said("Where to eat?"), 1.0),
        answer("a", f"Try {ENTITY} near the Marais{NEW_CITE}.", 2.0),
    ]
    cites = [
        message("u", "user", said("Which site?"), 1.0),
        answer(
            "a",
            f"Answer here{OLD_CITE} done.",
            2.0,
            citations=[
                {
                    "start_ix": 11,
                    "end_ix": 22,
                    "metadata": {"url": "https://ex.org/a", "title": "A"},
                }
            ],
        ),
    ]
    return [chain("entity", entity), chain("cites", cites)]


@pytest.fixture
def imported(tmp_path: Path) -> dict[str, str]:
    """The export imported; the freehold id of each conversation by its source id."""
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(export()))
    assert run("import", str(path)).exit_code == 0
    with open_archive() as archive:
        return {c.source_id: str(c.id) for c in archive.iter_conversations()}


def exported(tmp_path: Path, form: str) -> str:
    """Everything one export format wrote, as one text."""
    out = tmp_path / form
    result = run("export", "--format", form, "--out", str(out))
    assert result.exit_code == 0, result.output
    return "\n".join(
        p.read_text() for p in sorted(out.rglob("*")) if p.suffix in (".md", ".html", ".json")
    )


# -- the rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (f"Try {ENTITY} near.", "Try Chez Janou near."),
        (f"Paris{NEW_CITE}.", "Paris."),
        (f"Paris{OLD_CITE}.", "Paris."),
        ("Tower【4:0†source】 and【0†Ocelots†example.org】.", "Tower and."),
        ("【公告】 a CJK title, no dagger: kept", "【公告】 a CJK title, no dagger: kept"),
        ('\ue200entity\ue202["only-a-type"]\ue201x', "x"),
        ("\ue200entity\ue202not json\ue201x", "x"),
    ],
)
def test_one_rule_for_what_a_marker_shows(written: str, shown: str) -> None:
    assert without_citation_marks(written) == shown


# -- I3, I4: markers in every reader ---------------------------------------------------------------


def test_show_and_search_show_the_entity_label(imported: dict[str, str]) -> None:
    shown = run("show", imported["entity"]).stdout
    assert "Try Chez Janou near the Marais." in shown
    assert "restaurant" not in shown and "turn0search0" not in shown
    assert "Chez Janou" in run("search", "Janou").stdout


@pytest.mark.parametrize("form", ["markdown", "html", "openwebui"])
def test_exports_show_the_entity_label_and_no_citation_marker(
    imported: dict[str, str], tmp_path: Path, form: str
) -> None:
    text = exported(tmp_path, form)
    assert "Chez Janou" in text and "Marais" in text
    assert "【" not in text and "†source" not in text
    assert "\ue200" not in text and "\\ue200" not in text and "turn0search0" not in text
    assert "Answer here done." in text


def test_the_old_marker_leaves_a_source(imported: dict[str, str], tmp_path: Path) -> None:
    assert "https://ex.org/a" in exported(tmp_path, "markdown")


def test_the_real_2023_markers_are_not_exported(real: Path, tmp_path: Path) -> None:
    """pkuppens' "Improve Website Recommendations" cites with ``【n†source】``."""
    assert run("import", str(real / PK / "conversations.json")).exit_code in (0, 1)
    for form in ("markdown", "html", "openwebui"):
        text = exported(tmp_path, form)
        assert "†source】" not in text, form


# -- I5: late-2023 custom instructions -------------------------------------------------------------


def instructions_2023(tmp_path: Path) -> str:
    """A 2023 system message whose metadata holds the custom instructions; its id here."""
    data = {"about_user_message": "I am OLDABOUT", "about_model_message": "Be OLDTERSE"}
    messages = [
        message(
            "s", "system", said(""), 1.0,
            metadata={"user_context_message_data": data, "is_user_system_message": True},
        ),
        message("u", "user", said("Hi"), 2.0),
        answer("a", "Hello.", 3.0),
    ]  # fmt: skip
    path = tmp_path / "ci-2023.json"
    path.write_text(json.dumps([chain("ci-2023", messages)]))
    assert run("import", str(path)).exit_code == 0
    with open_archive() as archive:
        return str(archive.get_conversation("ci-2023").id)


def test_2023_custom_instructions_are_shown(tmp_path: Path) -> None:
    cid = instructions_2023(tmp_path)
    shown = run("show", cid).stdout
    assert "Custom instructions (hidden)" in shown and "OLDABOUT" in shown and "OLDTERSE" in shown
    for form in ("markdown", "html"):
        text = exported(tmp_path, form)
        assert "OLDABOUT" in text and "OLDTERSE" in text, form
        assert "How to respond" in text, form
    assert "OLDTERSE" in run("search", "OLDTERSE").stdout


# -- I7a: a person's text as typed -----------------------------------------------------------------

TYPED = "a*b*c and C:\\new\n    def f():\n        return 1\n1) first\n# not a heading <b>x</b>"


def test_html_shows_user_text_as_typed(tmp_path: Path) -> None:
    messages = [message("u", "user", said(TYPED), 1.0), answer("a", "Some *emphasis*.", 2.0)]
    path = tmp_path / "typed.json"
    path.write_text(json.dumps([chain("typed", messages)]))
    assert run("import", str(path)).exit_code == 0
    page = exported(tmp_path, "html")
    typed = (
        '<p class="verbatim">a*b*c and C:\\new<br>    def f():<br>        return 1<br>1) first'
        "<br># not a heading &lt;b&gt;x&lt;/b&gt;</p>"
    )
    assert typed in page
    assert "<em>b</em>" not in page and "<h1>not a heading" not in page and "<ol" not in page
    assert "Some <em>emphasis</em>." in page  # an answer is still Markdown
    assert ".verbatim { white-space: pre-wrap; }" in (tmp_path / "html" / "style.css").read_text()


# -- I7b, I7c: show --------------------------------------------------------------------------------


def test_show_leaves_out_an_empty_turn_and_names_the_zone(tmp_path: Path) -> None:
    """ChatGPT's ``parts: [""]`` answer (echomine golden-001) is no turn; times say UTC."""
    messages = [
        message("u", "user", said("Hello there"), 1_700_000_000.0),
        message("e", "assistant", said(""), 1_700_000_001.0, metadata={"model_slug": "gpt-4o"}),
        answer("a", "General Kenobi.", 1_700_000_002.0),
    ]
    path = tmp_path / "empty.json"
    path.write_text(json.dumps([chain("empty", messages)]))
    assert run("import", str(path)).exit_code == 0
    with open_archive() as archive:
        cid = str(archive.get_conversation("empty").id)
    shown = run("show", cid).stdout
    assert shown.count("Assistant (gpt-4o)") == 1 and "General Kenobi." in shown
    assert "2023-11-14 22:13 UTC" in shown
    assert "2023-11-14 22:13 UTC" in run("search", "Kenobi").stdout
