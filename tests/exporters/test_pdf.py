"""The PDF export: read back with pypdf, as a person's PDF reader would see it.

Text is extracted and compared (Markdown syntax gone, words there, every script as itself);
fonts, bookmarks, page numbers and images are read from the PDF's own objects.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fontTools.fontBuilder import FontBuilder  # type: ignore[import-untyped,unused-ignore]
from fontTools.pens.ttGlyphPen import TTGlyphPen  # type: ignore[import-untyped,unused-ignore]
from PIL import Image
from pypdf import PdfReader

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import _pdfnodes
from freehold.exporters import pdf as pdf_export
from tests.builders import LIBRECHAT_PREFIX, SYSTEM_PROMPT, ingest, own_system_prompts, png
from tests.exporters.test_json import HOSTILE_TITLES, T0, fill_archive, node, text
from tests.exporters.test_markdown import assert_safe_name

TREE_ID = "d5dc5307-6807-41a0-8b04-4acee626eeb7"

MARKDOWN = """\
# Big heading

Some **bold words** and *italic words* and `inline code` here.

- first item
- second item
  1. nested one

| Name | Score |
|------|-------|
| Alice | 10 |
| Bob | 20 |

```python
def greet(name):
    return f"hello {name}"
```

> quoted wisdom

[a link](https://example.com) and ~~struck~~.
"""

SCRIPTS = {
    "latin": "Ça coûte très cher",
    "cyrillic": "Привет, мир",
    "greek": "Καλημέρα κόσμε",
    "japanese": "日本語のテキスト",
    "chinese": "中文文本很好",
    "korean": "한국어 텍스트",
}
RIGHT_TO_LEFT = {"arabic": "مرحبا بالعالم", "hebrew": "שלום עולם"}
DEVANAGARI = "नमस्ते दुनिया"
EMOJI = "🦦"
TIBETAN = "\u0f40\u0f41"  # no packaged font draws Tibetan

HUGE_TABLE = "| " + " | ".join(f"c{i}" for i in range(40)) + " |\n"
HUGE_TABLE += "|" + "---|" * 40 + "\n"
HUGE_TABLE += ("| " + " | ".join("v" for _ in range(40)) + " |\n") * 200
LONG_TABLE = "| a | b |\n|---|---|\n" + "| left | right |\n" * 1500
NESTED_QUOTES = ">" * 5000 + " deep quote"
NESTED_LISTS = "\n".join("  " * depth + "- level" for depth in range(300)) + "\n\nafter lists"
LONG_WORD = "x" * 100_000
LONG_LINE = "word " * 20_000
CONTROLS = "bell\x07 escape\x1b]52;c;SGk=\x07 nul\x00 end"


def _conversation(cid: str, title: str, *answers: str, **extra: Any) -> dict[str, Any]:
    nodes = [node("q", None, "user", text(f"question of {cid}"))]
    for number, answer in enumerate(answers):
        nodes.append(node(f"a{number}", nodes[-1]["id"], "assistant", text(answer)))
    nodes += extra.get("more", [])
    return {
        "id": cid,
        "title": title,
        "create_time": T0,
        "current_node": nodes[-1]["id"],
        "mapping": {n["id"]: n for n in nodes},
    }


def _picture(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 30), (200, 40, 40)).save(buffer, kind)
    return buffer.getvalue()


def _pictures() -> dict[str, Any]:
    """A conversation showing a PNG, a GIF and a WebP image."""
    pointers = {"png": "file-Png1", "gif": "file-Gif1", "webp": "file-Webp1"}
    parts = [
        {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{pointer}"}
        for pointer in pointers.values()
    ]
    declared = [{"id": p, "name": f"picture.{k}"} for k, p in pointers.items()]
    content = {"content_type": "multimodal_text", "parts": [*parts, "three pictures"]}
    asked = node("u", "q", "user", content, attachments=declared)
    return _conversation("pictures", "Pictures", more=[asked])


def _export_zip(folder: Path) -> Path:
    conversations = [
        _conversation("markdown", "Markdown", MARKDOWN),
        _conversation(
            "scripts",
            "Scripts",
            "\n\n".join(SCRIPTS.values()),
            "\n\n".join(RIGHT_TO_LEFT.values()),
            f"{DEVANAGARI}\n\n{EMOJI} otter",
        ),
        _conversation(
            "hostile",
            "Hostile",
            HUGE_TABLE,
            LONG_TABLE,
            NESTED_QUOTES,
            NESTED_LISTS,
            LONG_WORD,
            LONG_LINE,
            CONTROLS,
            f"tibetan {TIBETAN}",
        ),
        _pictures(),
    ]
    path = folder / "pdf-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps(conversations))
        archive.writestr("file-Png1-picture.png", png(40, 20))
        archive.writestr("file-Gif1-picture.gif", _picture("GIF"))
        archive.writestr("file-Webp1-picture.webp", _picture("WEBP"))
    return path


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Path]]:
    """The tailored export above, imported and exported once for the module's tests."""
    from freehold.archive import open_archive

    folder = tmp_path_factory.mktemp("pdf")
    with open_archive(folder / "home") as archive:
        report = ingest(archive, _export_zip(folder))
        assert report.conversations["new"] == 4, report.to_json()
        out = folder / "out"
        assert export(archive, out) == 4
        yield archive, out


def export(archive: Archive, out: Path, **options: Any) -> int:
    return pdf_export.write(archive, archive.iter_conversations(), out, **options)


def singles(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*.pdf") if p.name != pdf_export.COMBINED)


def pdf_of(archive: Archive, out: Path, source_id: str) -> Path:
    conv = next(c for c in archive.iter_conversations() if c.source_id == source_id)
    assert conv.id
    found = [p for p in singles(out) if p.stem.endswith(conv.id[:8])]
    assert len(found) == 1, found
    return found[0]


def text_of(path: Path) -> str:
    pages = [page.extract_text() or "" for page in PdfReader(path).pages]
    return "\n".join(pages)


def chunks(path: Path) -> list[tuple[str, str, float, int]]:
    """Every piece of text drawn: (text, font name, size on the page, font flags)."""
    found: list[tuple[str, str, float, int]] = []
    for page in PdfReader(path).pages:

        def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
            if text.strip() and font is not None:
                descendant = font.get("/DescendantFonts")
                descriptor = (descendant[0].get_object() if descendant else font).get(
                    "/FontDescriptor"
                )
                flags = int(descriptor.get_object().get("/Flags", 0)) if descriptor else 0
                found.append((text, str(font.get("/BaseFont")), size * abs(tm[0]), flags))

        page.extract_text(visitor_text=visit)
    return found


def fonts_of(path: Path) -> set[str]:
    names = set()
    for page in PdfReader(path).pages:
        resources = page.get("/Resources")
        fonts = resources.get_object().get("/Font", {}) if resources else {}
        names |= {str(font.get_object()["/BaseFont"]) for font in fonts.values()}
    return names


# --- Markdown reads as the HTML export shows it -------------------------------------------


def test_markdown_is_typeset_not_printed(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    shown = text_of(pdf_of(archive, out, "markdown"))
    for words in ("Big heading", "bold words", "italic words", "inline code", "first item"):
        assert words in shown, words
    for words in ("nested one", "Alice", "Score", "quoted wisdom", "a link", "struck"):
        assert words in shown, words
    for syntax in ("**", "```", "# Big", "- first", "| Name", "|---", "> quoted", "](https"):
        assert syntax not in shown, syntax


def test_headings_are_larger_and_code_is_monospaced(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    drawn = chunks(pdf_of(archive, out, "markdown"))
    body = next(size for text, _, size, _ in drawn if "italic words" in text)
    heading = next(size for text, _, size, _ in drawn if "Big heading" in text)
    assert heading > body * 1.2
    code = [(font, flags) for text, font, _, flags in drawn if "greet" in text]
    assert code, drawn
    assert all(flags & 1 for _, flags in code), code  # FixedPitch: a monospaced font
    bold = next(font for text, font, _, _ in drawn if "bold words" in text)
    assert bold != next(font for text, font, _, _ in drawn if "italic words" in text)


def test_code_is_highlighted(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    colours = set()
    for page in PdfReader(pdf_of(archive, out, "markdown")).pages:
        stream = page.get_contents()
        assert stream is not None
        colours |= set(re.findall(rb"([\d.]+ [\d.]+ [\d.]+) (?:rg|scn)\b", stream.get_data()))
    assert len(colours) >= 5, colours  # grey, link blue, and at least three token colours


# --- every script, drawn by a real font ---------------------------------------------------


def test_scripts_come_out_as_themselves(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    path = pdf_of(archive, out, "scripts")
    shown = text_of(path)
    for name, words in SCRIPTS.items():
        assert words in shown, name
    assert "?" not in shown
    assert "boxes" not in shown
    fonts = " ".join(fonts_of(path))
    for face in ("NotoSansCJK", "NotoSansArabic", "NotoSansHebrew", "NotoSansDevanagari"):
        assert face in fonts, (face, fonts)
    assert "NotoEmoji" in fonts


def test_undrawable_characters_are_counted(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    shown = text_of(pdf_of(archive, out, "hostile"))
    assert "2 characters no font here can draw are shown as boxes (U+0F40 U+0F41)" in shown


def test_a_font_folder_from_the_environment_draws_more(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "fonts"
    folder.mkdir()
    _tibetan_font(folder / "TestTibetan.ttf")
    monkeypatch.setenv(pdf_export.FONT_ENV, str(folder))
    source = tmp_path / "tibetan.zip"
    with zipfile.ZipFile(source, "w") as made:
        made.writestr("conversations.json", json.dumps([_conversation("t", "T", TIBETAN)]))
    ingest(archive, source)
    out = tmp_path / "out"
    assert export(archive, out) == 1
    path = singles(out)[0]
    assert "boxes" not in text_of(path)
    assert any("TestTibetan" in name for name in fonts_of(path))


def test_a_font_folder_that_is_not_a_folder_is_one_line(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pdf_export.FONT_ENV, str(tmp_path / "no-fonts"))
    out = tmp_path / "out"
    with pytest.raises(FreeholdError) as caught:
        export(archive, out)
    message = str(caught.value)
    assert "\n" not in message and pdf_export.FONT_ENV in message and "no-fonts" in message
    assert not out.exists(), "nothing is written"


def _tibetan_font(path: Path) -> None:
    """A real TrueType font with one glyph, drawn for U+0F40 and U+0F41."""
    pen = TTGlyphPen(None)
    pen.moveTo((50, 0))
    pen.lineTo((450, 0))
    pen.lineTo((450, 600))
    pen.closePath()
    glyph = pen.glyph()
    empty = TTGlyphPen(None).glyph()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "ka"])
    builder.setupCharacterMap({0x0F40: "ka", 0x0F41: "ka"})
    builder.setupGlyf({".notdef": empty, "ka": glyph})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "ka": (500, 50)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    names = {"familyName": "TestTibetan", "styleName": "Regular", "psName": "TestTibetan-Regular"}
    builder.setupNameTable({**names, "fullName": "TestTibetan Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))


# --- structure: bookmarks, page numbers, images -------------------------------------------


def test_the_outline_has_one_entry_per_conversation(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    outline = PdfReader(out / pdf_export.COMBINED).outline
    top = [item for item in outline if not isinstance(item, list)]
    titles = sorted(c.title or "" for c in archive.iter_conversations())
    assert sorted(str(item.title) for item in top) == titles
    for path in singles(out):
        single = [i for i in PdfReader(path).outline if not isinstance(i, list)]
        assert len(single) == 1, path.name


def test_every_page_is_numbered(exported: tuple[Archive, Path]) -> None:
    _, out = exported
    pages = PdfReader(out / pdf_export.COMBINED).pages
    assert len(pages) > 4, "the long table runs over several pages"
    for number, page in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in (page.extract_text() or ""), number


def test_raster_images_are_embedded(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    for path in (pdf_of(archive, out, "pictures"), out / pdf_export.COMBINED):
        images = [image for page in PdfReader(path).pages for image in page.images]
        assert len(images) >= 3, path.name  # PNG, GIF and WebP
    assert "(attachment:" not in text_of(pdf_of(archive, out, "pictures"))


# --- hostile content ----------------------------------------------------------------------


def test_hostile_content_is_bounded_and_shown(exported: tuple[Archive, Path]) -> None:
    archive, out = exported
    shown = text_of(pdf_of(archive, out, "hostile"))
    assert "c0 | c1 | c2" in shown, "a table too wide for the page becomes text rows"
    assert shown.count("left") >= 1500 and shown.count("right") >= 1500
    assert "deep quote" in shown and "after lists" in shown
    assert "x" * 1000 in shown.replace("\n", "")
    assert shown.count("word") >= 20_000
    assert "bell\\x07 escape\\x1b]52;c;SGk=\\x07 nul" in shown  # the importer made NUL U+FFFD
    assert "\x1b" not in shown and "\x07" not in shown


def test_hostile_content_through_the_command_line_in_bounded_time(
    exported: tuple[Archive, Path], tmp_path: Path
) -> None:
    """The same export run as a person would, in a process that cannot hang the suite."""
    archive, _ = exported
    out = tmp_path / "cli"
    command = [sys.executable, "-m", "freehold", "export", "--format", "pdf", "--out", str(out)]
    env = {"FREEHOLD_HOME": str(archive.path.parent), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(singles(out)) == 4
    assert "(U+0F40 U+0F41)" in text_of(pdf_of(archive, out, "hostile"))


def _broken_png() -> bytes:
    """A PNG whose chunks and checksums are right but whose pixels do not inflate."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 40, 20, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", b"not deflate data at all")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def test_a_layout_typst_refuses_is_shown_as_plain_text(archive: Archive, tmp_path: Path) -> None:
    """Pillow accepts the picture's checksums, Typst cannot decode it: the text still comes."""
    part = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Bad1"}
    content = {"content_type": "multimodal_text", "parts": [part, "words around a **bad** picture"]}
    asked = node("u", "q", "user", content, attachments=[{"id": "file-Bad1", "name": "bad.png"}])
    source = tmp_path / "bad.zip"
    with zipfile.ZipFile(source, "w") as made:
        conversation = _conversation("bad", "Bad picture", more=[asked])
        made.writestr("conversations.json", json.dumps([conversation]))
        made.writestr("file-Bad1-bad.png", _broken_png())
    ingest(archive, source)
    out = tmp_path / "out"
    assert export(archive, out) == 1
    shown = text_of(singles(out)[0])
    assert "Shown as plain text: the full layout failed" in shown
    assert "words around a **bad** picture" in shown
    assert "words around a **bad** picture" in text_of(out / pdf_export.COMBINED)


def test_nesting_is_capped_before_typst(tmp_path: Path) -> None:
    body = _pdfnodes.PdfBody(lambda ref: None)
    deep = _pdfnodes.nodes(body.markdown(">" * 500 + " leaf"), body.parked)

    def depth(node: Any) -> int:
        children = node.get("c") if isinstance(node, dict) else None
        if not isinstance(children, list) or not children:
            return 1
        return 1 + max(depth(child) for child in children)

    assert max(depth(n) for n in deep) <= _pdfnodes.MAX_DEPTH + 1
    assert "leaf" in json.dumps(deep)


def test_a_conversations_own_system_prompt_is_a_labelled_block(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Open WebUI's params.system and LibreChat's promptPrefix, labelled, before the thread;
    ChatGPT's custom instructions stay where their message shows them, not twice."""
    own_system_prompts(archive, tmp_path / "in", real)
    out = tmp_path / "out"
    assert export(archive, out) == 3
    shown = {
        c.source_kind: text_of(pdf_of(archive, out, c.source_id))
        for c in archive.iter_conversations()
    }
    for kind, prompt in (("openwebui", SYSTEM_PROMPT), ("librechat", LIBRECHAT_PREFIX)):
        assert f"Custom instructions\n{prompt}" in shown[kind], shown[kind]
        assert shown[kind].count(prompt) == 1
        assert shown[kind].index(prompt) < shown[kind].index("User")
    assert shown["chatgpt"].count("Preferred name: Tecolote") == 1


HASH = "9aee368501098f011245ada28eca698dd13ad7f70658d7af41e85b20764d41c1"
JAPANESE = (
    "日本語の文章はスペースなしで長く続くことがあるのでここでは五十文字以上の長い行を"
    "書いてみることにしますがどうなるでしょうか確認します。"
)


def test_long_runs_wrap_without_changing_the_text(archive: Archive, tmp_path: Path) -> None:
    """A hash, a long Japanese sentence and a 300-character run come out as they went in."""
    run = "0123456789abcdef" * 19
    said = f"Hash: {HASH} end.\n\n{JAPANESE}\n\n{run}"
    source = tmp_path / "long.zip"
    with zipfile.ZipFile(source, "w") as made:
        made.writestr("conversations.json", json.dumps([_conversation("long", "Long", said)]))
    ingest(archive, source)
    out = tmp_path / "out"
    assert export(archive, out) == 1
    shown = text_of(singles(out)[0])
    assert "\u200b" not in shown
    assert f"Hash: {HASH} end." in shown
    assert JAPANESE in shown.replace("\n", "")
    assert run not in shown, "a run wider than the page wraps"
    assert run in shown.replace("\n", "")
    assert _pdfnodes.clean("tab\there\r\n") == "tab    here\n"


# --- what the export always did -----------------------------------------------------------


def test_a_pdf_per_conversation_and_one_for_the_selection(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    total = filled.stats()["conversations"]
    seen: list[int] = []
    assert export(filled, out, progress=seen.append) == total
    assert seen == list(range(1, total + 1))
    assert len(singles(out)) == total
    otter = text_of(pdf_of(filled, out, "otter-conv"))
    assert "Pictures of otters" in otter and "An otter. Lovely." in otter
    assert "2024-05-01" in otter and "chatgpt" in otter
    assert "(missing attachment: file-Gone9)" in otter
    assert "print(s)" in otter, "code is shown"
    assert "Pondering" in otter, "reasoning is summarised"
    small = text_of(pdf_of(filled, out, "hostile-1"))
    assert "hello from hostile-1" in small
    everything = text_of(out / pdf_export.COMBINED)
    assert "Pictures of otters" in everything and "hello from hostile-1" in everything


def test_hostile_titles_make_safe_names(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    names = [p.name for p in singles(out)]
    assert len(set(names)) == len(names)
    for name in names:
        assert_safe_name(name, ".pdf")
    assert not (tmp_path / "etc").exists()
    assert "../../etc/passwd" in text_of(pdf_of(filled, out, "hostile-0"))
    emoji = text_of(pdf_of(filled, out, f"hostile-{len(HOSTILE_TITLES) - 1}"))
    assert "🦦 Otters 🦦 日本語" in emoji


def test_branches_summarised_or_in_full(filled: Archive, tmp_path: Path) -> None:
    short, full = tmp_path / "short", tmp_path / "full"
    export(filled, short, all_branches=False)
    export(filled, full, all_branches=True)
    summarised = text_of(pdf_of(filled, short, TREE_ID))
    main, appendix = summarised.split("Other branches", 1)
    assert "tell me a joke" in main and "so cool bro" not in main
    assert "Forks after" in appendix and "4 messages, starting with User:" in appendix
    in_full = text_of(pdf_of(filled, full, TREE_ID)).split("Other branches", 1)[1]
    assert "Branch 2" in in_full and "tell me a story" in in_full
    assert "starting with" not in in_full
    outline = PdfReader(pdf_of(filled, full, TREE_ID)).outline
    assert [str(item.title) for item in outline[1]] == ["Other branches"], outline


def test_an_empty_selection_is_one_page(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export(archive, out) == 0
    reader = PdfReader(out / pdf_export.COMBINED)
    assert len(reader.pages) == 1
    shown = reader.pages[0].extract_text() or ""
    assert "No conversations selected." in shown and "1 / 1" in shown


def test_refuses_a_foreign_non_empty_folder(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.pdf").write_bytes(b"%PDF-1.4 mine")
    with pytest.raises(FreeholdError, match="not empty"):
        export(archive, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.pdf"]
    assert (out / "notes.pdf").read_bytes() == b"%PDF-1.4 mine"


def test_export_again_replaces_its_own_files_only(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    before = sorted(p.name for p in out.glob("*.pdf"))
    (out / "my-notes.pdf").write_bytes(b"mine")
    only = [c.id for c in filled.iter_conversations() if c.source_id == "hostile-1"]
    assert only[0]
    assert pdf_export.write(filled, filled.iter_conversations(ids=only), out) == 1
    left = sorted(p.name for p in out.glob("*.pdf"))
    assert left == sorted([*before, "my-notes.pdf"]), "a narrower selection removes nothing"
    assert len(PdfReader(out / pdf_export.COMBINED).pages) == 1
    assert export(filled, out) == filled.stats()["conversations"]
