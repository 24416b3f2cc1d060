"""The PDF export: one PDF per conversation plus the selection's, fonts, images, folder rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import pdf as pdf_export
from tests.exporters.test_json import HOSTILE_TITLES, fill_archive
from tests.exporters.test_markdown import assert_safe_name

TREE_ID = "d5dc5307-6807-41a0-8b04-4acee626eeb7"


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


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
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def test_a_pdf_per_conversation_and_one_for_the_selection(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    total = filled.stats()["conversations"]
    seen: list[int] = []
    assert export(filled, out, progress=seen.append) == total
    assert seen == list(range(1, total + 1))
    assert len(singles(out)) == total
    for path in singles(out):
        assert len(PdfReader(path).pages) >= 1, path.name
    combined = PdfReader(out / pdf_export.COMBINED)
    assert len(combined.pages) >= total
    otter = text_of(pdf_of(filled, out, "otter-conv"))
    assert "Pictures of otters" in otter and "An otter." in otter
    assert "2024-05-01" in otter and "chatgpt" in otter
    assert "(attachment: file-Gone9)" in otter
    assert "print(s)" in otter, "code is shown"
    assert "(hidden)" in otter or "(thought)" in otter, "reasoning is summarised"
    small = text_of(pdf_of(filled, out, "hostile-1"))
    assert "hello from hostile-1" in small
    everything = text_of(out / pdf_export.COMBINED)
    assert "Pictures of otters" in everything and "hello from hostile-1" in everything


def test_an_image_attachment_is_embedded(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    for path in (pdf_of(filled, out, "otter-conv"), out / pdf_export.COMBINED):
        images = [image for page in PdfReader(path).pages for image in page.images]
        assert images, path.name


def test_hostile_emoji_and_cjk_titles_do_not_crash(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    names = [p.name for p in singles(out)]
    assert len(set(names)) == len(names)
    for name in names:
        assert_safe_name(name, ".pdf")
    assert not (tmp_path / "etc").exists()
    assert "../../etc/passwd" in text_of(pdf_of(filled, out, "hostile-0"))
    emoji = text_of(pdf_of(filled, out, f"hostile-{len(HOSTILE_TITLES) - 1}"))
    assert "Otters" in emoji
    assert "printed as" in emoji, "replaced characters are counted on the page"


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


def test_missing_fonts_raise_one_line(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pdf_export.FONT_ENV, str(tmp_path / "no-fonts"))
    monkeypatch.setattr(pdf_export, "FONT_DIRS", (str(tmp_path / "nowhere"),))
    out = tmp_path / "out"
    with pytest.raises(FreeholdError) as caught:
        export(archive, out)
    message = str(caught.value)
    assert "\n" not in message
    assert "fonts-dejavu-core" in message and pdf_export.FONT_ENV in message
    assert not out.exists(), "nothing is written without fonts"


def test_font_dir_from_the_environment(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fonts = pdf_export.find_fonts()
    folder = tmp_path / "fonts"
    folder.mkdir()
    for source in (fonts.sans, fonts.mono):
        (folder / source.name).write_bytes(source.read_bytes())
    monkeypatch.setenv(pdf_export.FONT_ENV, str(folder))
    monkeypatch.setattr(pdf_export, "FONT_DIRS", ())
    found = pdf_export.find_fonts()
    assert found.sans.parent == folder and found.sans_bold == found.sans
    out = tmp_path / "out"
    assert export(archive, out) == 0
    assert len(PdfReader(out / pdf_export.COMBINED).pages) == 1


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
    (out / "my-notes.pdf").write_bytes(b"mine")
    only = [c.id for c in filled.iter_conversations() if c.source_id == "hostile-1"]
    assert only[0]
    assert pdf_export.write(filled, filled.iter_conversations(ids=only), out) == 1
    left = sorted(p.name for p in out.glob("*.pdf"))
    expected = ["2024-05-01-con-" + only[0][:8] + ".pdf", pdf_export.COMBINED, "my-notes.pdf"]
    assert left == sorted(expected)
    assert len(PdfReader(out / pdf_export.COMBINED).pages) == 1
    assert export(filled, out) == filled.stats()["conversations"]
