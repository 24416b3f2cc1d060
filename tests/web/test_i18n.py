"""English and French: every string the app translates has a French entry, and the language is
chosen from the cookie, then Accept-Language, then English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from freehold import safehtml
from freehold.archive import open_archive
from freehold.models import CONTEXT_FIELDS, PART_LABELS, ROLE_NAMES
from freehold.web import i18n, imports, rehearsals, views
from freehold.web.i18n import FRENCH, choose, translator
from freehold.web.render import CONTEXT_KINDS
from tests.builders import chatgpt_chats, ingest
from tests.web.conftest import Server, start_server

TEMPLATES = Path(i18n.__file__).parent / "templates"
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
CALL = re.compile(r"""\bt\(\s*(["'])(.*?)\1\s*\)""")
NOUN = re.compile(r"""\bnoun\([^,]+,\s*(["'])(.*?)\1\s*,\s*(["'])(.*?)\3\s*\)""", re.S)
SELF_CALL = re.compile(r"""\bself\.t\(\s*(["'])(.*?)\1\s*\)""")


def template_strings() -> set[str]:
    found = {
        text for path in TEMPLATES.glob("*.html") for _, text in CALL.findall(path.read_text())
    }
    assert len(found) > 60  # the pattern still finds the templates' strings
    return found


def test_every_template_string_has_french() -> None:
    missing = sorted(template_strings() - FRENCH.keys())
    assert missing == []


def test_every_counted_word_has_french() -> None:
    """``noun(count, 'one', 'many')``: both words, as ``counter`` translates them."""
    found = {
        word
        for path in TEMPLATES.glob("*.html")
        for match in NOUN.finditer(path.read_text())
        for word in (match[2], match[4])
    }
    assert "message newer than the meaning index is not searched" in found  # still found
    assert sorted(found - FRENCH.keys()) == []


def test_strings_templates_translate_indirectly_have_french(tmp_path: Path) -> None:
    # _report.html: t(line.label) over report_labels (test_every_report_label_is_words…);
    # search.html: t(label) over its facet names; import.html: t(error) over the upload errors
    wanted = {"Source", "Model", "Role"}
    wanted |= {"Nothing was uploaded.", "Another import is running; wait for it to finish."}
    wanted |= {
        "Nothing was uploaded. Send the export as a file from the import page's form "
        "(multipart/form-data).",
        "The upload holds too many parts; send one file.",
        "A form field other than the file is too large.",
    }
    wanted |= set(CONTEXT_KINDS.values())  # conversation.html: t(record.kind|context_kind)
    wanted |= set(rehearsals.STATUS_LABELS.values())  # rehearsal.html: t(statuses.get(…))
    wanted |= {"running", "complete", "partial", "failed"}  # home, source: t(source.status)
    assert sorted(wanted - FRENCH.keys()) == []


def test_messages_the_upload_page_shows_are_the_catalogued_ones() -> None:
    sources = Path(views.__file__).read_text() + Path(imports.__file__).read_text()
    shown = ("Nothing was uploaded.", "Another import is running; wait for it to finish.")
    shown += ("The upload holds too many parts; send one file.",)
    shown += ("A form field other than the file is too large.",)
    for text in shown:
        assert f'"{text}"' in sources and text in FRENCH


def test_every_message_label_has_french() -> None:
    labels = {text for _, text in SELF_CALL.findall(Path(safehtml.__file__).read_text())}
    assert {"Sources", "missing attachment"} <= labels
    labels |= set(PART_LABELS.values())  # the part labels every renderer shares
    labels |= {label for _, label in CONTEXT_FIELDS}
    labels |= set(ROLE_NAMES.values()) | {"Unknown"}
    assert sorted(labels - FRENCH.keys()) == []


def test_french_entries_are_french_and_keep_their_shape() -> None:
    for english, french in FRENCH.items():
        assert french.strip() == french and french, english
        assert english.endswith(".") == french.endswith("."), english


def test_translator() -> None:
    assert translator("fr")("Search") == "Rechercher"
    assert translator("fr")("no such string") == "no such string"
    assert translator("en")("Search") == "Search"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "en"),
        (None, "", "en"),
        (None, "*", "en"),
        (None, "fr", "fr"),
        (None, "fr-CA,fr;q=0.9", "fr"),
        (None, "de-DE,de;q=0.9,fr;q=0.8,en;q=0.7", "fr"),
        (None, "en-GB,en;q=0.9,fr;q=0.8", "en"),
        (None, "en;q=0.1, fr;q=0.9", "fr"),  # the weights decide, not the order
        (None, "fr;q=0, en", "en"),  # q=0: not French
        (None, "fr;q=0", "en"),
        (None, "frr, fr;q=0.5", "fr"),  # North Frisian is not French
        (None, "frr", "en"),
        (None, "fr;q=abc, en;q=0.5", "en"),
        (None, "FR", "fr"),
        ("fr", "en", "fr"),
        ("en", "fr", "en"),
        ("de", "fr", "fr"),  # a cookie for a language we do not have is ignored
        ("", "fr", "fr"),
        ("fr", None, "fr"),
    ],
)
def test_choose(cookie: str | None, header: str | None, expected: str) -> None:
    assert choose(cookie, header) == expected


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("i18n") / "home"
    with open_archive(home) as archive:
        ingest(archive, SAMPLE)
    yield from start_server(home)


def lang(page: httpx.Response) -> str:
    found = re.search(r'<html lang="(\w+)">', page.text)
    assert page.status_code == 200 and found
    return found[1]


def test_page_in_french_from_accept_language(sample: Server) -> None:
    with sample.client(headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}) as client:
        home = client.get("/")
        conversation = client.get("/conversations/c19ee96c229f96f6")
        report = client.get("/sources/1")
    assert lang(home) == "fr"
    assert "Votre archive" in home.text and "Your archive" not in home.text
    assert "Télécharger en Markdown" in conversation.text and "Utilisateur" in conversation.text
    assert "nouveaux 23" in _row(report.text, "Conversations")
    assert "nouveaux fichiers joints 8" in _row(report.text, "Pièces jointes")  # 8 files
    with sample.client(headers={"Accept-Language": "de, en;q=0.5"}) as client:
        assert lang(client.get("/")) == "en"


def test_the_report_page_counts_flags_set_and_cleared(tmp_path: Path) -> None:
    """Probe S #4: an import that brings back a conversation flagged gone upstream says so."""
    home = tmp_path / "home"
    chats = {"x": ("X", ["hi x", "hello x"]), "y": ("Y", ["hi y", "hello y"])}
    with open_archive(home) as archive:
        # b: y alone (at y's own time, else b is older and flags nothing); c: both again
        for name, kept, start in (("a", chats, 0), ("b", {"y": chats["y"]}, 3600), ("c", chats, 0)):
            ingest(archive, chatgpt_chats(tmp_path / f"{name}.zip", kept, 1.7e9 + start))
    for server in start_server(home):
        with server.client(headers={"Accept-Language": "fr"}) as client:
            flagged, cleared = client.get("/sources/2").text, client.get("/sources/3").text
        with server.client() as client:
            english = client.get("/sources/3").text
    assert _row(flagged, "Disparues chez la source") == "1"
    assert _row(cleared, "Revenues chez la source (signalement levé)") == "1"
    assert _row(english, "Back upstream (flag cleared)") == "1"


def _row(page: str, header: str) -> str:
    """The report's cell beside ``header``."""
    cells = _report_cells(page)
    return cells[cells.index(header) + 1]


def test_language_cookie_wins_over_accept_language(sample: Server) -> None:
    with sample.client(headers={"Accept-Language": "fr"}) as client:
        switched = client.get("/language/en", params={"next": "/conversations"})
        assert switched.status_code == 303 and switched.headers["location"] == "/conversations"
        cookie = switched.headers["set-cookie"].lower()
        assert "lang=en" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        page = client.get("/conversations")
        assert lang(page) == "en" and "Has branches" in page.text
        client.get("/language/fr")
        page = client.get("/conversations")
        assert lang(page) == "fr" and "Avec branches" in page.text


def test_error_pages_are_translated(sample: Server) -> None:
    with sample.client(headers={"Accept-Language": "fr"}) as client:
        missing = client.get("/conversations/nope")
        bad = client.get("/conversations?page=x")
    assert missing.status_code == 404 and "Introuvable" in missing.text
    assert bad.status_code == 400 and "Requête invalide" in bad.text


def _report_cells(page: str) -> list[str]:
    """The report table's headers and cells, as text."""
    table = re.search(r'<table class="report">(.*?)</table>', page, re.S)
    assert table, "no report table on the page"
    return [re.sub(r"\s+", " ", cell).strip() for cell in re.findall(r">([^<]+)<", table[1])]


def test_the_web_report_words_every_counter_as_the_terminal_does(sample: Server) -> None:
    """Probe U-4: the page showed keys (``reread 0 · reread_unversioned 0``) and worded the
    attachment links otherwise than ``freehold import``; both read one table of labels now."""
    with sample.client() as client:
        english = _report_cells(client.get("/sources/1").text)
    with sample.client(headers={"Accept-Language": "fr"}) as client:
        french = _report_cells(client.get("/sources/1").text)
    # a content type (multimodal_text) is the export's own name, shown as it is
    labelled = english[: english.index("Content types") + 1]
    assert not [cell for cell in labelled if "_" in cell or "reread" in cell]
    text = " ".join(english)
    assert "with their file 10 · missing their file 15" in text  # the sample's 25 links
    assert "Context records" in english and "Content types" in english  # shown, as the CLI
    french_text = " ".join(french)
    assert "avec leur fichier 10" in french_text and "Enregistrements de contexte" in french
    shared = {"with their file", "missing their file", "context records", "content types"}
    assert not [word for word in shared if word in french_text.lower()]  # all translated


def test_every_report_label_is_words_and_has_french() -> None:
    from freehold.report_labels import LABELS

    assert not [text for text in LABELS.values() if "_" in text]
    assert sorted(set(LABELS.values()) - FRENCH.keys()) == []


def test_codes_the_pages_show_are_said_in_french(sample: Server) -> None:
    """Probe V, item 4: an import's status, the backups' media and daily job, and the search's
    roles came through as English codes on French pages."""
    with sample.client(headers={"Accept-Language": "fr"}) as client:
        home = client.get("/").text
        report = client.get("/sources/1").text
        backups = " ".join(client.get("/backups").text.split())
        found = client.get("/search", params={"q": "python"}).text
    assert '<td class="status-complete">terminé</td>' in home
    assert '<span class="status-complete">terminé</span>' in report
    assert "supports: ce disque" in backups and "this disk" not in backups
    assert "Tâche quotidienne: non planifiée" in backups and "not scheduled" not in backups
    assert '<option value="user">Utilisateur</option>' in found
    assert '<option value="assistant">Assistant</option>' in found
    metas = re.findall(r'<li class="hit".*?<span class="meta">([^<]*)</span>', found, re.S)
    assert metas and all(re.search(r"· (Utilisateur|Assistant)\b", m) for m in metas), metas
    assert not any(re.search(r"· (user|assistant)\b", m) for m in metas)
