"""The Gemini (Takeout My Activity, JSON) importer on the real sample and synthetic exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.importers import (
    _gemini_html,
    aistudio,
    chatgpt,
    claude,
    freehold,
    gemini,
    grok,
)
from freehold.models import Conversation, ExportInfo, Problem, SourceFile
from tests.builders import ingest, png, write_zip

GEMINI = "portable-ai-context-gemini/gemini_my_activity.synthetic.json"
FOLDER = "Takeout/Mon activité/Applis Gemini"
BASE = 1_780_000_000


def records(path: Path) -> list[Any]:
    return list(gemini.iter_conversations(path))


def conversations(path: Path) -> list[Conversation]:
    return [r for r in records(path) if isinstance(r, Conversation)]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def record(title: str, when: float, html: str | None = "<p>ok</p>", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "header": "Gemini Apps",
        "title": title,
        "time": iso(when),
        "products": ["Gemini Apps"],
        **extra,
    }
    if html is not None:
        item["safeHtmlItem"] = [{"html": html}]
    return item


def export(tmp_path: Path, items: list[dict[str, Any]], name: str = "MyActivity.json") -> Path:
    """Newest first, as Takeout writes it."""
    path = tmp_path / name
    ordered = sorted(items, key=lambda r: r["time"], reverse=True)
    path.write_text(json.dumps(ordered, indent=2, ensure_ascii=False))
    return path


# -- detection -------------------------------------------------------------------------------------


def test_detect_matrix(real: Path, tmp_path: Path) -> None:
    sample = (real / GEMINI).read_bytes()
    assert gemini.detect(real / GEMINI)
    zipped = write_zip(tmp_path / "takeout.zip", {f"{FOLDER}/MesActivités.json": sample})
    assert gemini.detect(zipped)
    assert not gemini.detect(real / "librechat-import-data" / "chatgpt-tree.json")
    assert not gemini.detect(real / "echomine-aucontraire" / "claude" / "sample_export.json")
    html = tmp_path / "MyActivity.html"
    html.write_text("<html><body><div class='outer-cell'>Gemini Apps</div></body></html>")
    assert not gemini.detect(html)
    search = export(tmp_path, [{**record("Searched x", BASE), "header": "Search", "products": []}])
    assert not gemini.detect(search)
    assert not any(m.detect(real / GEMINI) for m in (freehold, chatgpt, claude, aistudio, grok))


def test_any_of_the_first_records_naming_gemini_decides(tmp_path: Path) -> None:
    """A Takeout mixing products, and a Gemini record without a title, are still Gemini: one
    record of it among the first few is enough; the others are counted, not a refusal."""
    search = {**record("Searched x", BASE + 600), "header": "Search", "products": ["Search"]}
    mixed = export(tmp_path, [search, search, search, record("Prompted hi", BASE)])
    assert gemini.detect(mixed)
    (conv,) = conversations(mixed)
    assert conv.messages[0].text == "hi"
    untitled = {k: v for k, v in record("", BASE + 60).items() if k != "title"}
    path = export(tmp_path, [untitled, record("Prompted there", BASE)], "Untitled.json")
    assert gemini.detect(path)
    assert [m.text for m in conversations(path)[0].messages][::2] == ["there", ""]


# -- real sample -----------------------------------------------------------------------------------


def test_real_sample(real: Path) -> None:
    path = real / GEMINI
    source = json.loads(path.read_bytes())
    found = records(path)
    assert isinstance(found[0], ExportInfo) and found[0].kind == "gemini"
    (problem,) = [r for r in found if isinstance(r, Problem)]
    assert problem.what == "1 record of other Google products ignored" and not problem.lost
    (conv,) = conversations(path)  # 10:00 and 10:05: one conversation by the time gap
    assert conv.source_id == "gemini-2026-08-18T10:00:00Z" and not conv.problems
    assert conv.title == "Build a privacy-safe Gemini activity adapter."
    assert [m.role for m in conv.messages] == ["user", "assistant"] * 2
    assert conv.messages[2].text == "Verify the Gemini adapter tail."
    tail = conv.messages[3]
    assert tail.text == "Tail verification passed.\n\n2/2 messages preserved"
    assert "PRIVATE_EMBEDDED" not in tail.text and "PRIVATE_EMBEDDED" in tail.parts[0]["html"]
    assert conv.created_at == datetime(2026, 8, 18, 10, tzinfo=UTC).timestamp()
    assert conv.updated_at == conv.created_at + 300
    assert json.loads(conv.raw) == [source[2], source[0]]
    assert b"PRIVATE_NON_GEMINI" not in conv.raw
    refs = [a for m in conv.messages for a in m.attachments]
    assert [(a.pointer, a.opener) for a in refs] == [
        ("takeout://PRIVATE_AUDIO.m4a", None),
        ("takeout://PRIVATE_IMAGE.webp", None),
        ("takeout://PRIVATE_ATTACHMENT.bin", None),
    ]
    assert all(m.on_visible_path for m in conv.messages)


# -- synthetic exports -----------------------------------------------------------------------------


def test_prefixes_stripped(tmp_path: Path) -> None:
    titles = ["Prompted one", "Live Prompt two", "Asked three", "Prompt : quatre", "Made a plan"]
    items = [record(t, BASE + i * 3600) for i, t in enumerate(titles)]
    texts = [c.messages[0].text for c in conversations(export(tmp_path, items))]
    assert texts == ["one", "two", "three", "quatre", "Made a plan"]


def test_grouping_by_chat_link_and_time_gap(tmp_path: Path) -> None:
    link = "https://gemini.google.com/app/abc123"
    items = [
        record("Prompted a1", BASE),
        record("Prompted b1", BASE + 60, titleUrl=link),
        record("Prompted a2", BASE + 120),
        record("Prompted c1", BASE + 300),
        record("Prompted c2", BASE + 300 + 29 * 60),
        record("Prompted d1", BASE + 300 + 29 * 60 + 30 * 60),
        record("Prompted b2", BASE + 9000, subtitles=[{"url": link + "?hl=fr"}]),
    ]
    convs = conversations(export(tmp_path, items))
    prompts = {c.source_id: [m.text for m in c.messages if m.role == "user"] for c in convs}
    assert prompts == {
        "gemini-" + iso(BASE): ["a1"],
        "abc123": ["b1", "b2"],
        "gemini-" + iso(BASE + 120): ["a2", "c1", "c2"],
        "gemini-" + iso(BASE + 300 + 59 * 60): ["d1"],
    }
    by_id = {c.source_id: c for c in convs}
    assert len(by_id["abc123"].messages) == 4 and by_id["abc123"].title == "b1"
    chain = by_id["gemini-" + iso(BASE + 120)].messages
    assert [m.parent_source_id for m in chain[1:]] == [m.source_id for m in chain[:-1]]


def test_chat_link_id_is_the_last_path_segment(tmp_path: Path) -> None:
    """``/app/c/<id>`` and a gem's ``/gem/<gem>/<id>`` name the chat by their last segment."""
    app, gem = "https://gemini.google.com/app/", "https://gemini.google.com/gem/g1"
    items = [
        record("Prompted one", BASE, titleUrl=app + "c/conv-001"),
        record("Prompted two", BASE + 60, titleUrl=app + "c/conv-002"),
        record("Prompted gem", BASE + 120, titleUrl=gem + "/abc"),
        record("Prompted gem again", BASE + 7200, titleUrl=gem + "/abc?hl=en"),
        record("Prompted the gem itself", BASE + 9000, titleUrl=gem),
    ]
    convs = conversations(export(tmp_path, items))
    prompts = {c.source_id: [m.text for m in c.messages if m.role == "user"] for c in convs}
    assert prompts == {
        "conv-001": ["one"],
        "conv-002": ["two"],
        "abc": ["gem", "gem again"],
        "gemini-" + iso(BASE + 9000): ["the gem itself"],
    }
    blocks = [block("in a gem", "Jan 5, 2026, 10:00:00 AM UTC", chat="gem/g1/xyz")]
    (conv,) = conversations(html_export(tmp_path, blocks))
    assert conv.source_id == "xyz"


def test_request_and_response_in_details(tmp_path: Path) -> None:
    """A record that says "Used Gemini Apps" and keeps the exchange in ``details``."""
    details = [{"name": "Request", "value": "Hello"}, {"name": "Response", "value": "Hi!"}]
    items = [record("Used Gemini Apps", BASE, None, details=details)]
    (conv,) = conversations(export(tmp_path, items))
    assert [(m.role, m.text) for m in conv.messages] == [("user", "Hello"), ("assistant", "Hi!")]
    assert not conv.problems


def test_answer_in_fields_not_understood_is_said_so(tmp_path: Path) -> None:
    interactions = [{"prompt": "Hello", "reply": "Hi!"}]
    items = [record("Used Gemini Apps", BASE, None, userInteractions=interactions)]
    (conv,) = conversations(export(tmp_path, items))
    (problem,) = conv.problems
    assert "answer not understood" in problem and "userInteractions" in problem
    assert "no answer in the export" not in problem


def test_title_truncated_and_answer_missing_flagged(tmp_path: Path) -> None:
    long = "x" * 200
    items = [record("Prompted " + long, BASE, html=None), record("Prompted next", BASE + 60)]
    (conv,) = conversations(export(tmp_path, items))
    assert conv.title == "x" * 80
    assert [m.role for m in conv.messages] == ["user", "user", "assistant"]
    assert len(conv.problems) == 1 and "no answer in the export" in conv.problems[0]


def test_html_text_blocks_and_hidden() -> None:
    html = "<h1>T</h1><ul><li>a &amp; b</li><li>c</li></ul>x<br>y"
    html += "<script>s()</script><style>z</style>"
    assert gemini.html_text(html) == "T\n\na & b\n\nc\n\nx\ny"


def test_attachments_beside_the_json(tmp_path: Path) -> None:
    item = record("Prompted look", BASE, attachedFiles=["1-ab.png", "notes.txt"])
    data = json.dumps([item]).encode()
    zipped = write_zip(
        tmp_path / "takeout.zip",
        {f"{FOLDER}/MyActivity.json": data, f"{FOLDER}/1-ab.png": png(), "other/notes.txt": b"n"},
    )
    for conv in gemini.iter_conversations(zipped):  # openers work while the zip is open
        if isinstance(conv, Conversation):
            refs = conv.messages[0].attachments
            assert [(r.pointer, r.name) for r in refs] == [
                ("takeout://1-ab.png", "1-ab.png"),
                ("takeout://notes.txt", "notes.txt"),
            ]
            assert refs[1].opener is None and refs[0].opener is not None
            with refs[0].opener() as stream:
                assert stream.read() == png()
            assert [p["type"] for p in conv.messages[0].parts] == ["text", "image", "file"]


def test_import_stores_attachments_found_beside(archive: Archive, tmp_path: Path) -> None:
    item = record("Prompted look", BASE, imageFile="image_ab-cd.png", attachedFiles=["gone.pdf"])
    members = {f"{FOLDER}/MyActivity.json": json.dumps([item]).encode()}
    folder = tmp_path / "Takeout"
    for name, data in {**members, f"{FOLDER}/image_ab-cd.png": png()}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    report = ingest(archive, folder)
    assert report.kind == "gemini"
    assert report.attachments["found"] == 1 and report.attachments["missing"] == 1


def test_audio_files_linked_and_stored(archive: Archive, tmp_path: Path) -> None:
    """``audioFiles`` are attachments like ``attachedFiles``: an audio part, stored when beside."""
    item = record("Prompted listen", BASE, audioFiles=["voice-note.m4a"], attachedFiles=["doc.txt"])
    export(tmp_path, [item])
    (tmp_path / "voice-note.m4a").write_bytes(b"AUDIO-BYTES")
    (tmp_path / "doc.txt").write_bytes(b"doc")
    (conv,) = conversations(tmp_path)  # the folder: the files beside the JSON are read
    prompt = conv.messages[0]
    assert [(r.pointer, r.opener is not None) for r in prompt.attachments] == [
        ("takeout://doc.txt", True),
        ("takeout://voice-note.m4a", True),
    ]
    assert prompt.parts[2] == {
        "type": "audio",
        "pointer": "takeout://voice-note.m4a",
        "name": "voice-note.m4a",
        "format": "m4a",
    }
    report = ingest(archive, tmp_path)
    assert report.attachments["found"] == 2 and report.attachments["missing"] == 0


def test_bad_input_becomes_problems(tmp_path: Path) -> None:
    good = json.dumps(record("Prompted fine", BASE))
    path = tmp_path / "MyActivity.json"
    path.write_text(f'[{good}, {good}, {good}, "junk", {{"header": "Gemini Apps", "ti')
    found = records(path)
    assert [c.title for c in found if isinstance(c, Conversation)] == ["fine"]
    assert len(found[1].messages) == 6  # three records at the same time: one conversation
    problems = [r for r in found if isinstance(r, Problem)]
    assert len(problems) == 2 and all(p.lost for p in problems)
    assert "3 Gemini records read" in problems[1].what
    assert all("—" in p.what and "\n" not in p.what for p in problems)
    # The record skipped is kept as it was, where the problem says.
    kept = {r.name: r.raw for r in found if isinstance(r, SourceFile)}
    assert kept == {"skipped/MyActivity.json[3]": b'"junk"'}
    assert "raw text is kept in the archive as skipped/MyActivity.json[3]" in problems[0].what


# -- archive level ---------------------------------------------------------------------------------


def test_import_and_reimport_unchanged(archive: Archive, real: Path) -> None:
    report = ingest(archive, real / GEMINI)
    assert report.kind == "gemini" and report.ok
    assert report.conversations["new"] == 1 and report.messages["read"] == 4
    assert archive.search("verification")
    assert not archive.search("PRIVATE_EMBEDDED_SCRIPT")
    again = ingest(archive, real / GEMINI)
    assert again.conversations["unchanged"] == 1 and again.messages["new"] == 0


# -- the HTML variant ------------------------------------------------------------------------------

CSS = "<style>" + ".mdl-grid{display:flex}\n" * 2000 + "</style>"
CELL = "content-cell mdl-cell mdl-cell--6-col mdl-typography--body-1"


def block(
    prompt: str,
    date: str,
    answer: str | None = "<p>ok</p>",
    *,
    header: str = "Gemini Apps",
    prefix: str = "Prompted",
    chat: str | None = None,
    files: tuple[str, ...] = (),
) -> str:
    attached = ""
    if files:
        links = "".join(f'&emsp;-&nbsp;<a href="{f}">{f}</a><br>' for f in files)
        attached = f"Attached {len(files)} file(s).<br>{links}"
    where = chat if chat is None or "/" in chat else f"app/{chat}"  # a path: a gem's chat
    link = f'<a href="https://gemini.google.com/{where}">Gemini Apps</a><br>' if where else ""
    return (
        '<div class="outer-cell mdl-cell mdl-cell--12-col mdl-shadow--2dp"><div class="mdl-grid">'
        '<div class="header-cell mdl-cell mdl-cell--12-col">'
        f'<p class="mdl-typography--title">{header}<br></p></div>'
        f'<div class="{CELL}">{prefix}&nbsp;{prompt}<br>{attached}{date}<br>{answer or ""}</div>'
        f'<div class="{CELL} mdl-typography--text-right"></div>'
        '<div class="content-cell mdl-cell mdl-cell--12-col mdl-typography--caption">'
        f"<b>Products:</b><br>&emsp;{header}<br>{link}<b>Why is this here?</b><br>"
        "&emsp;This activity was saved to your Google Account.<br></div></div></div>"
    )


def html_export(tmp_path: Path, blocks: list[str], name: str = "MyActivity.html") -> Path:
    path = tmp_path / name
    head = f'<!DOCTYPE html><html><head><meta charset="UTF-8"><title>My Activity</title>{CSS}'
    body = '</head><body><div class="mdl-grid">' + "".join(blocks) + "</div></body></html>"
    path.write_text(head + body, encoding="utf-8")
    return path


JAN5 = datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp()  # 10:00 CET / MEZ / SEČ


@pytest.mark.parametrize(
    ("name", "prefix", "date", "when"),
    [
        ("MyActivity.html", "Prompted", "Jan 5, 2026, 10:00:00\u202fAM CET", JAN5),
        ("MonActivité.html", "Prompt :", "5 janv. 2026, 10:00:00 CET", JAN5),
        ("MeineAktivitäten.html", "Prompt", "05.01.2026, 10:00:00 MEZ", JAN5),
        ("Moje aktivita.html", "Pokyn", "5. 1. 2026 10:00:00\n SEČ", JAN5),
        ("내 활동.html", "프롬프트", "2026. 1. 5. 오후 6:00:00 KST", JAN5),
    ],
)
def test_html_locales(tmp_path: Path, name: str, prefix: str, date: str, when: float) -> None:
    blocks = [
        block("hello &amp; <b>bye</b>", date, "<p>answer</p><ul><li>x</li></ul>", prefix=prefix),
        block("weather", date, header="Search", prefix="Searched for"),
    ]
    path = html_export(tmp_path, blocks, name)
    assert gemini.detect(path)
    found = records(path)
    assert isinstance(found[0], ExportInfo) and found[0].files[0][0] == name
    (conv,) = [r for r in found if isinstance(r, Conversation)]
    (problem,) = [r for r in found if isinstance(r, Problem)]
    assert problem.what == "1 record of other Google products ignored" and not problem.lost
    assert conv.created_at == when and conv.title == "hello & bye"
    assert [m.text for m in conv.messages] == ["hello & bye", "answer\n\nx"]
    assert conv.messages[1].parts[0]["html"] == "<p>answer</p><ul><li>x</li></ul>"
    assert json.loads(conv.raw)[0].startswith('<div class="outer-cell')


def test_parse_date_forms() -> None:
    parse = _gemini_html.parse_date
    assert parse("Jan 5, 2026, 12:05:00 AM PST") == "2026-01-05T08:05:00Z"
    assert parse("5 Jan 2026, 23:59:59 GMT+01:00") == "2026-01-05T22:59:59Z"
    assert parse("2026. 1. 5. 오전 12:00:00 KST") == "2026-01-04T15:00:00Z"
    assert parse("1. 7. 2026 10:00:00 SELČ") == "2026-07-01T08:00:00Z"
    for bad in (
        "1/5/2026, 10:00:00 AM EST",
        "5 Jan 2026, 10:00:00 XYZ",
        "31.02.2026, 10:00:00 MEZ",
    ):
        assert parse(bad) is None


def test_ambiguous_zone_is_noted_on_the_conversation(tmp_path: Path) -> None:
    """IST is India's, Ireland's or Israel's: read as India's, and said so, once."""
    blocks = [
        block("later", "Jan 5, 2026, 3:35:00 PM IST"),
        block("first", "Jan 5, 2026, 3:30:00 PM IST"),
    ]
    (conv,) = conversations(html_export(tmp_path, blocks))
    assert conv.created_at == JAN5 + 3600
    (note,) = conv.problems
    assert "IST" in note and "ambiguous" in note and "+5:30" in note
    (plain,) = conversations(html_export(tmp_path, [block("x", "5 Jan 2026, 10:00:00 CET")]))
    assert not plain.problems


def test_html_date_not_understood_is_reported(tmp_path: Path) -> None:
    path = html_export(tmp_path, [block("when?", "5 Foo 2026, 10:00:00 CET")])
    found = records(path)
    (conv,) = [r for r in found if isinstance(r, Conversation)]
    (problem,) = [r for r in found if isinstance(r, Problem)]
    assert conv.created_at is None and conv.messages[0].text == "when?"
    assert not problem.lost and "'5 Foo 2026, 10:00:00 CET'" in problem.what


def test_json_and_html_give_the_same_conversations(tmp_path: Path) -> None:
    link = "https://gemini.google.com/app/chat9"
    items = [
        record("Prompted first", BASE, "<p>one</p>", attachedFiles=["1-ab.png", "notes.txt"]),
        record("Prompted second", BASE + 600, "<h2>two</h2><p>2 &amp; 2</p>"),
        record("Prompted linked", BASE + 7200, None, titleUrl=link),
    ]
    from_json = conversations(export(tmp_path, items))

    def english(when: float) -> str:
        return datetime.fromtimestamp(when, UTC).strftime("%b %-d, %Y, %-I:%M:%S %p UTC")

    blocks = [
        block("linked", english(BASE + 7200), None, chat="chat9"),
        block("second", english(BASE + 600), items[1]["safeHtmlItem"][0]["html"]),
        block("first", english(BASE), "<p>one</p>", files=("1-ab.png", "notes.txt")),
    ]
    from_html = conversations(html_export(tmp_path, blocks))
    assert len(from_json) == 2 and len(from_html) == 2

    def refs(message: Any) -> list[tuple[str, str | None]]:
        return [(a.pointer, a.name) for a in message.attachments]

    def shape(conv: Conversation) -> Any:
        messages = [
            (m.source_id, m.parent_source_id, m.role, m.text, m.parts, m.created_at, refs(m))
            for m in conv.messages
        ]
        fields = (conv.source_id, conv.title, conv.created_at, conv.updated_at, conv.problems)
        return fields, conv.current_leaf, messages

    assert [shape(c) for c in from_html] == [shape(c) for c in from_json]
    assert from_html[0].messages[0].attachments[0].pointer == "takeout://1-ab.png"


def test_html_detect_false_for_unrelated_html(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(f"<html><head>{CSS}</head><body><p>Gemini Apps 10:00:00 2026</p></body></html>")
    assert not gemini.detect(page)
    search = html_export(
        tmp_path, [block("weather", "Jan 5, 2026, 10:00:00 AM CET", header="Search")]
    )
    assert not gemini.detect(search)
    folder = tmp_path / "Takeout" / "Mes activités" / "Applis Gemini"
    folder.mkdir(parents=True)
    html_export(folder, [block("hi", "5 janv. 2026, 10:00:00 CET")], "MesActivités.html")
    assert gemini.detect(tmp_path / "Takeout")
