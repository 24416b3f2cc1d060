"""A message's safe HTML, as the HTML export renders it, turned into the PDF layout's data.

The PDF reads like the HTML export because it starts from the same HTML: ``safehtml.Body``
renders each message (Markdown through cmark-gfm and nh3, code through pygments, labels,
sources), and ``nodes`` turns that small, well-formed tag set into plain data for the Typst
template (``pdf.typ``): a node is a string or ``{"k": kind, "c": children, …}``. Two things
are handed over beside the HTML rather than through it: a code block (``PdfBody.highlight``
parks it; its pygments tokens become coloured runs) and an image (``PdfBody.file``).

Hostile content is bounded here, before Typst sees it:

- nesting deeper than ``MAX_DEPTH`` elements is flattened into its parent (Typst stops at
  about 60 nested blocks or 80 nested calls);
- a table wider than ``MAX_COLUMNS`` becomes monospaced rows (``a | b | c``);
- a run of ``LONG_RUN`` or more characters with nowhere to break (a 100,000-character word,
  a base64 blob, a hash) may wrap every ``LONG_RUN // 2`` characters: the template's show rule
  puts a hair's width of space there (``h``), which Typst may break at but which is no
  character, so the PDF's text is the message's text (a copied or searched hash is the hash).
  Scripts Typst already breaks itself (Chinese, Japanese, Korean, Thai…) are left to it;
- control characters are shown as ``\\x1b``-style escapes, lone surrogates as U+FFFD;
- code over ``MAX_HIGHLIGHT`` characters is shown without colours (pygments can be slow).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from pygments.styles import get_style_by_name  # type: ignore[import-untyped,unused-ignore]

from freehold.models import AttachmentRef
from freehold.safehtml import Body, escape, lexer, one_line

__all__ = [
    "LONG_RUN",
    "MAX_COLUMNS",
    "MAX_DEPTH",
    "MAX_HIGHLIGHT",
    "Image",
    "Node",
    "PdfBody",
    "clean",
    "code_runs",
    "direction",
    "nodes",
]

MAX_DEPTH = 12
MAX_COLUMNS = 16
MAX_HIGHLIGHT = 200_000
LONG_RUN = 48

Node = str | dict[str, Any]
Image = tuple[str, str, float]  # (path under Typst's root, format, width in pt)

# Control characters (but tab and newline) are shown as the escape a programmer would write.
_CONTROLS: dict[int, str | None] = {
    code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)] if code not in (9, 10)
}
_CONTROLS[0x0D] = None
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text any font can lay out: visible controls, no surrogates (long runs: ``pdf.typ``)."""
    return _SURROGATE.sub("\ufffd", text.translate(_CONTROLS)).replace("\t", "    ")


def direction(text: str) -> str | None:
    """``"rtl"`` when the first strongly directed character is Hebrew or Arabic."""
    for char in text[:2000]:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return None
    return None


# --- code --------------------------------------------------------------------------------


_STYLE = get_style_by_name("default")


@functools.lru_cache(maxsize=512)
def _paint(token: Any) -> tuple[str | None, int]:
    """A token type's colour (``#rrggbb`` or None) and flags (1 bold, 2 italic)."""
    while not _STYLE.styles_token(token) and token.parent is not None:
        token = token.parent  # a lexer's own token types inherit their parent's style
    style = _STYLE.style_for_token(token)
    colour = f"#{style['color']}" if style["color"] else None
    return colour, (1 if style["bold"] else 0) | (2 if style["italic"] else 0)


def code_runs(code: str, language: str) -> list[list[Any]]:
    """pygments' tokens as ``[text]`` or ``[text, colour, flags]`` runs, neighbours merged."""
    code = clean(code)
    if len(code) > MAX_HIGHLIGHT:
        return [[code]]
    runs: list[list[Any]] = []
    last: tuple[str | None, int] = (None, 0)
    for token, value in lexer(language.strip()).get_tokens(code):
        paint = _paint(token)
        if runs and paint == last:
            runs[-1][0] += value
        else:
            runs.append([value, *paint] if paint[0] else [value])
            last = paint
    if runs and runs[-1][0].endswith("\n"):  # pygments ends every text with a newline
        runs[-1][0] = runs[-1][0][:-1]
    return runs


# --- the body renderer -------------------------------------------------------------------


class PdfBody(Body):
    """``safehtml.Body`` with code and images parked for the PDF instead of written as HTML.

    ``image`` gives an attachment's embeddable picture, or None (then the file is named).
    """

    def __init__(self, image: Callable[[AttachmentRef], Image | None]) -> None:
        super().__init__(lambda ref: None)
        self.image = image
        self.parked: list[dict[str, Any]] = []

    def _park(self, node: dict[str, Any], tag: str) -> str:
        self.parked.append(node)
        return f'<{tag} data-parked="{len(self.parked) - 1}"></{tag}>'

    def highlight(self, code: str, language: str = "") -> str:
        return self._park({"k": "pre", "c": code_runs(code, language)}, "pre")

    def file(self, ref: AttachmentRef) -> str:
        name = one_line(ref.name or ref.pointer.rsplit("/", 1)[-1] or "attachment", 120)
        picture = self.image(ref)
        if picture is not None:
            path, kind, width = picture
            return self._park({"k": "img", "src": path, "fmt": kind, "w": width, "cap": name}, "p")
        label = "attachment" if ref.sha256 else "missing attachment"
        return f'<p class="file"><em>({escape(label)}: {escape(name)})</em></p>'


# --- HTML to nodes -----------------------------------------------------------------------

_KINDS = {"p": "p", "strong": "b", "b": "b", "em": "i", "i": "i", "s": "s", "del": "s"}
_KINDS |= {"code": "code", "a": "a", "ul": "ul", "ol": "ol", "li": "li", "blockquote": "quote"}
_KINDS |= {"table": "table", "tr": "tr", "th": "td", "td": "td", "details": "details"}
_KINDS |= {"summary": "summary", "figcaption": "p", "pre": "p"}
_KINDS |= {f"h{level}": "h" for level in range(1, 7)}
_VOID = {"br", "hr", "img", "input", "wbr"}
# Containers whose whitespace-only text is layout, not content.
_BLOCKS = {"root", "ul", "ol", "table", "tr", "quote", "details"}
_FLOWING = {"p", "h", "li", "td", "summary"}  # may carry a direction
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)


class _Builder(HTMLParser):
    def __init__(self, parked: list[dict[str, Any]]) -> None:
        super().__init__(convert_charrefs=True)
        self.parked = parked
        self.root: dict[str, Any] = {"k": "root", "c": []}
        self.nodes: list[dict[str, Any]] = [self.root]
        self.tags: list[tuple[str, bool]] = []  # open tags, and whether each made a node
        self.head = 0  # inside <thead>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        parked = values.get("data-parked") or ""
        if parked.isdigit():  # only PdfBody writes this attribute: nh3 drops data-*
            self.nodes[-1]["c"].append(self.parked[int(parked)])
        if tag in _VOID:
            self._void(tag)
            return
        self.head += tag == "thead"
        kind = _KINDS.get(tag)
        made = kind is not None and len(self.nodes) <= MAX_DEPTH and "data-parked" not in values
        if made and kind is not None:
            node = self._node(kind, tag, values)
            self.nodes[-1]["c"].append(node)
            self.nodes.append(node)
        self.tags.append((tag, made))

    def _node(self, kind: str, tag: str, values: dict[str, str | None]) -> dict[str, Any]:
        node: dict[str, Any] = {"k": kind, "c": []}
        if kind == "h":
            node["l"] = int(tag[1])
        elif kind == "a" and _SAFE_URL.match(values.get("href") or ""):
            node["u"] = values["href"]
        elif kind == "ol" and (values.get("start") or "").isdigit():
            node["start"] = min(int(values["start"] or 1), 10**9)
        elif kind == "tr" and self.head:
            node["head"] = True
        return node

    def _void(self, tag: str) -> None:
        if tag == "br":
            self.nodes[-1]["c"].append({"k": "br"})
        elif tag == "hr":
            self.nodes[-1]["c"].append({"k": "hr"})

    def handle_endtag(self, tag: str) -> None:
        self.head -= tag == "thead" and self.head > 0
        for index in range(len(self.tags) - 1, -1, -1):
            if self.tags[index][0] == tag:
                for _, made in self.tags[index:]:
                    if made:
                        self.nodes.pop()
                del self.tags[index:]
                return

    def handle_data(self, data: str) -> None:
        node = self.nodes[-1]
        if node["k"] in _BLOCKS and data.isspace():
            return
        text = clean(data.replace("\n", " "))
        children = node["c"]
        if children and isinstance(children[-1], str):
            children[-1] += text
        else:
            children.append(text)


def nodes(html: str, parked: list[dict[str, Any]]) -> list[Node]:
    """The blocks of one message's HTML (``PdfBody`` output) as layout data."""
    builder = _Builder(parked)
    builder.feed(html)
    builder.close()
    return [_finish(child) for child in builder.root["c"]]


def _finish(node: Node) -> Node:
    """Details become a grey line, wide tables monospaced rows, paragraphs get a direction."""
    if isinstance(node, str) or node["k"] in ("pre", "img") or "c" not in node:
        return node
    kind = node["k"]
    if kind == "details":
        summary = next((c for c in node["c"] if isinstance(c, dict) and c["k"] == "summary"), None)
        return {"k": "note", "c": _text(summary) if summary else "(hidden)"}
    if kind == "table" and any(len(row["c"]) > MAX_COLUMNS for row in _rows(node)):
        lines = [" | ".join(_text(cell) for cell in row["c"]) for row in _rows(node)]
        return {"k": "pre", "c": [["\n".join(lines)]]}
    if kind == "table":
        node["c"] = _rows(node)
    node["c"] = [_finish(child) for child in node["c"]]
    if kind in _FLOWING:
        rtl = direction(_text(node))
        if rtl:
            node["dir"] = rtl
    return node


def _rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tr`` nodes of a table, each with only its cells."""
    rows = [c for c in table["c"] if isinstance(c, dict) and c["k"] == "tr"]
    for row in rows:
        row["c"] = [c for c in row["c"] if isinstance(c, dict) and c["k"] == "td"]
    return rows


def _text(node: Node) -> str:
    """The plain text of a node (for summaries, directions and wide tables)."""
    if isinstance(node, str):
        return node
    children = node.get("c", "")
    if isinstance(children, str):
        return children
    if node["k"] == "pre":
        return "".join(str(run[0]) for run in children)
    return "".join(_text(child) for child in children)
