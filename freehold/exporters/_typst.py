"""Typesetting for the PDF export: Typst (typst-py), the fonts it may use, and what they cover.

Typst lays out and writes the PDF: per-glyph font fallback, text shaping (Arabic, Hebrew,
Devanagari…), bidirectional text, CJK line breaking, tables, bookmarks and page numbers, in
a few milliseconds a conversation. The layout is one fixed template (``pdf.typ`` beside this
module); the archive's content reaches it only as a JSON string in ``sys.inputs``, so no title
or message can ever be read as Typst markup or code.

Fonts come from Python packages, so ``pip install`` is all a machine needs and the PDF looks
the same everywhere: Noto Sans and the Noto faces for other scripts, symbols and emoji
(``manimgx-fonts``), Noto Sans CJK (``manimgx-fonts-cjk``) and JetBrains Mono for code
(``fontpkg-jetbrains-mono``); all under the SIL Open Font License. ``$FREEHOLD_PDF_FONT_DIR``
may name one more folder of fonts (a script none of these covers), used as a fallback. System
fonts and Typst's own embedded fonts are not used: then the fonts' character maps, read once
with fontTools, say exactly which characters the PDF can draw, and the export counts the rest
out loud instead of printing boxes silently.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import typst
from fontTools.ttLib import (  # type: ignore[import-untyped,unused-ignore]
    TTCollection,
    TTFont,
    TTLibError,
)

from freehold.errors import FreeholdError

__all__ = ["FONT_ENV", "Engine", "FontBook", "find_fonts"]

FONT_ENV = "FREEHOLD_PDF_FONT_DIR"
SANS = "Noto Sans"
MONO = "JetBrains Mono"
# Noto Sans CJK's regional faces: the first one whose script the text uses leads.
CJK = {"ja": "Noto Sans CJK JP", "ko": "Noto Sans CJK KR", "zh": "Noto Sans CJK SC"}
_LAST = ("Noto Sans Symbols", "Noto Emoji")  # after every script font
_FONT_FILES = (".ttf", ".otf", ".ttc", ".otc")


@dataclass(frozen=True, slots=True)
class FontBook:
    """The font folders, the families found there, and the font files (most useful first)."""

    folders: tuple[Path, ...]
    families: tuple[str, ...]
    files: tuple[Path, ...]

    def undrawable(self, codes: set[int]) -> set[int]:
        """The code points no font file maps to a glyph.

        Files are read as needed, each once: text Noto Sans covers never loads the 33 MB of
        Noto Sans CJK's character maps.
        """
        left = set(codes)
        for path in self.files:
            if not left:
                break
            left -= _cmap(path)
        return left

    def sans(self, lead: str = "zh") -> list[str]:
        """The fallback list for text: Noto Sans, other scripts, CJK (``lead`` first), symbols."""
        first = CJK.get(lead, CJK["zh"])
        cjk = [first] + [face for face in CJK.values() if face != first]
        scripts = [f for f in self.families if f not in (SANS, MONO, *_LAST) and "CJK" not in f]
        ordered = [SANS, *scripts, *cjk, *_LAST]
        return [family for family in ordered if family in self.families]

    def mono(self, lead: str = "zh") -> list[str]:
        return [MONO, *self.sans(lead)]


# The packages that hold the fonts, and the folder of each that holds the files.
_PACKAGES = (("manimgx_fonts", ""), ("manimgx_fonts_cjk", ""), ("fontpkg_jetbrains_mono", "files"))


def _package_folders() -> list[Path]:
    folders = []
    for package, inside in _PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FreeholdError(
                f"PDF export needs the font package {package.replace('_', '-')}: reinstall "
                "freehold (pip install -e .)"
            )
        folders.append(Path(next(iter(spec.submodule_search_locations))) / inside)
    return folders


def find_fonts() -> FontBook:
    """The packaged fonts, plus ``$FREEHOLD_PDF_FONT_DIR`` when set (it must be a folder)."""
    folders = _package_folders()
    extra = os.environ.get(FONT_ENV)
    if extra:
        if not Path(extra).is_dir():
            raise FreeholdError(
                f"{FONT_ENV}={extra}: not a folder — point it at a folder of .ttf/.otf fonts "
                "or unset it"
            )
        folders.append(Path(extra))
    return _book(tuple(folders))


@functools.cache
def _book(folders: tuple[Path, ...]) -> FontBook:
    fonts = typst.Fonts(
        include_system_fonts=False, include_embedded_fonts=False, font_paths=list(folders)
    )
    families = tuple(dict.fromkeys(fonts.families()))
    for needed in (SANS, MONO):
        if needed not in families:
            raise FreeholdError(
                f"PDF export: the font {needed} is missing from {folders[0].parent} — "
                "reinstall freehold (pip install -e .)"
            )
    files = [p for f in folders for p in f.rglob("*") if p.suffix.lower() in _FONT_FILES]
    # Noto Sans and the code font first, then the smaller files: the cheapest answers first
    files.sort(key=lambda p: (not p.name.startswith(("NotoSans[", "JetBrainsMono[")), _size(p)))
    return FontBook(folders, families, tuple(files))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@functools.cache
def _cmap(path: Path) -> frozenset[int]:
    """Every code point a font file (each face of a collection) maps to a glyph."""
    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            collection = TTCollection(str(path), lazy=True)
            try:
                return frozenset(code for face in collection.fonts for code in _codes(face))
            finally:
                collection.close()
        with TTFont(str(path), lazy=True) as face:
            return frozenset(_codes(face))
    except (OSError, TTLibError, AssertionError, KeyError):
        return frozenset()  # Typst skips a font it cannot read too


def _codes(face: TTFont) -> set[int]:
    # Numbered glyph names: fontTools would otherwise name all 65,000 glyphs of the CJK
    # font from its CFF charset first (seconds); only the code points are wanted here.
    face.setGlyphOrder([f"g{number}" for number in range(face["maxp"].numGlyphs)])
    return set(face.getBestCmap() or {})


@functools.cache
def _template() -> bytes:
    return resources.files("freehold.exporters").joinpath("pdf.typ").read_bytes()


class Engine:
    """One Typst compiler for a whole export: fonts are loaded once, documents compile fast.

    ``root`` is the only folder Typst may read images from (the archive's blob store).
    """

    def __init__(self, book: FontBook, root: Path) -> None:
        fonts = typst.Fonts(
            include_system_fonts=False,
            include_embedded_fonts=False,
            font_paths=list(book.folders),
        )
        self.compiler = typst.Compiler(root=str(root), font_paths=fonts, ignore_system_fonts=True)

    def pdf(self, data: str) -> bytes:
        """The PDF of one document's JSON data; ``typst.TypstError`` when Typst refuses it."""
        # the template goes with every call: typst-py keeps in-memory input for one compile only
        out = self.compiler.compile(input=_template(), format="pdf", sys_inputs={"data": data})
        assert isinstance(out, bytes)
        return out
