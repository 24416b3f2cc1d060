"""The Markdown → safe HTML pipeline: cmark-gfm renders what markdown-it-py (html off) did,
raw HTML included, and what the pipeline adds (images as links, code parked outside nh3,
lone surrogates) holds."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from freehold import safehtml
from freehold.models import Message
from freehold.safehtml import Body, render_markdown
from tests.web.hostile import JS, MARKDOWN, MARKUP

FEATURES = [
    "# Title\n\nSome *emphasis*, **strong**, ~~struck~~, `code` and a [link](https://a.example/x).",
    "1. one\n2. two\n   - nested\n   - list\n\n> a quote\n> over two lines",
    "| a | b |\n|:--|--:|\n| 1 | 2 |\n| **x** | `y` |",
    "```python\ndef f(x):\n    return x < 2 and '&amp;'\n```\n\n    indented code\n",
    "Text with <b>tags</b>, &amp; entities &copy; &#0; and a bare <http://a.example/auto>.",
    '![an *image*](https://a.example/i.png "title") and ![](data:image/png;base64,AAAA)',
    "Line one  \nline two\\\nline three\n\n---\n\nsetext\n===",
    "[ref link][r]\n\n[r]: https://a.example/ref 'Ref title'",
    "* [ ] task\n* [x] done\n\nfootnote[^1]\n\n[^1]: note",
]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if len(value) > 20:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _real_texts(real: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted(real.rglob("*.json")):
        texts += _strings(orjson.loads(path.read_bytes()))
    return texts


def _reference() -> Callable[[str], str]:
    """markdown-it-py with raw HTML off: what freehold rendered with before cmark-gfm."""
    parser = MarkdownIt("zero", {"xhtmlOut": True}).enable(_REFERENCE_RULES)
    return parser.render


_REFERENCE_RULES = ["blockquote", "code", "fence", "heading", "hr", "lheading", "list"]
_REFERENCE_RULES += ["paragraph", "reference", "autolink", "backticks", "emphasis", "entity"]
_REFERENCE_RULES += ["escape", "image", "link", "newline", "table", "strikethrough"]


def _same_markup(html: str) -> str:
    """cmark-gfm's ways of writing what markdown-it writes otherwise."""
    html = html.replace("<del>", "<s>").replace("</del>", "</s>")
    return re.sub(r' align="(left|right|center)"', r' style="text-align:\1"', html)


@pytest.mark.parametrize("text", FEATURES + MARKUP)
def test_cmark_renders_what_markdown_it_rendered(text: str) -> None:
    assert _same_markup(safehtml._render(text)) == _reference()(text)


@pytest.mark.parametrize("text", MARKDOWN)
def test_hostile_links_and_images_come_out_inert(text: str) -> None:
    """Where cmark and markdown-it differ (cmark keeps a refused link's text, with no URL)."""
    for tag, attributes in _elements(render_markdown(text)):
        assert tag in safehtml._TAGS
        for name, value in attributes:
            assert not name.startswith("on")
            if name == "href":
                assert re.match(r"(https?://|mailto:)", value or ""), value


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag in ``html`` with its attributes, as a browser's tokenizer sees them."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    collector = Collect()
    collector.feed(html)
    collector.close()
    return found


def test_cmark_agrees_with_markdown_it_on_real_exports(real: Path) -> None:
    texts = _real_texts(real)
    assert len(texts) > 200
    reference = _reference()
    differ = [text for text in texts if _same_markup(safehtml._render(text)) != reference(text)]
    assert not differ, f"{len(differ)} of {len(texts)} texts differ, first: {differ[0]!r}"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab <>&\"'`*_[]()!#-|:\\\n~h1/.\ufdd0"), max_size=80))
def test_markdown_soup_never_yields_markup_outside_the_allow_list(text: str) -> None:
    out = render_markdown(text)
    for tag, _ in _elements(out):
        assert tag in safehtml._TAGS, (tag, out)
    assert "\ufdd0" not in out or "\ufdd0" in text  # the stand-in never leaks as a character
    assert "raw HTML omitted" not in out


def test_raw_html_is_shown_as_text_not_dropped() -> None:
    out = render_markdown("Use <div class=x> and <script>alert(1)</script> here.")
    assert "&lt;div class=x&gt;" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<script" not in out and "<div" not in out


def test_images_become_links_never_loaded() -> None:
    out = render_markdown('![a *b*](https://a.example/i.png "t") ![](data:image/svg+xml;x)')
    assert "<img" not in out
    assert '<a href="https://a.example/i.png" rel="noopener noreferrer">[image: a b]</a>' in out
    assert (
        "<a>[image: image]</a>" in out or '<a rel="noopener noreferrer">[image: image]</a>' in out
    )
    assert "data:" not in out


def test_code_blocks_are_highlighted_in_place() -> None:
    text = "before\n\n```python\nx = '<b>' & 1\n```\n\nmiddle\n\n```\nplain <i>\n```\n\nafter"
    out = render_markdown(text)
    assert out.index("before") < out.index('<pre class="highlight">') < out.index("middle")
    assert out.count('<pre class="highlight"><code>') == 2
    assert "<span class=\"s1\">'&lt;b&gt;'</span>" in out  # pygments' own escaping
    assert "plain &lt;i&gt;" in out and "<i>" not in out
    assert safehtml._SLOT not in out


def test_a_slot_written_in_a_message_is_only_text() -> None:
    forged = f"<pre>{safehtml._SLOT}0</pre>\n\n```\ncode\n```"
    out = render_markdown(forged)
    assert f"&lt;pre&gt;{safehtml._SLOT}0&lt;/pre&gt;" in out
    assert out.count("<pre") == 1


def test_a_hostile_info_string_only_names_a_lexer() -> None:
    out = render_markdown(f'```"><img src=x onerror="{JS}">\nbody\n```')
    assert "<img" not in out and "onerror=" not in out
    assert '<pre class="highlight"><code>body\n</code></pre>' in out


def test_a_lone_surrogate_is_replaced_not_fatal() -> None:
    assert render_markdown("a \ud800 b `c`") == "<p>a \ufffd b <code>c</code></p>\n"


def test_body_highlights_a_repeated_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = safehtml.highlight_code

    def counted(code: str, language: str = "") -> str:
        calls.append(code)
        return real(code, language)

    monkeypatch.setattr(safehtml, "highlight_code", counted)
    text = "```python\nx = 1\n```\n\n```python\nx = 1\n```\n\n```python\ny = 2\n```"
    message = Message("m1", None, "assistant", "text", [{"type": "text", "text": text}], text)
    body = Body(lambda ref: None)
    html = "".join(body.blocks(message) + body.blocks(message))
    assert calls == ["x = 1\n", "y = 2\n"]
    assert len(re.findall('<pre class="highlight">', html)) == 6


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a <b>bold</b> c", "<p>a &lt;b&gt;bold&lt;/b&gt; c</p>\n"),
        ("<div>\nblock\n</div>", "<p>&lt;div&gt;\nblock\n&lt;/div&gt;</p>\n"),
        ("<!-- comment --> x", "<p>&lt;!-- comment --&gt; x</p>\n"),
        ("`<b>` and <i>", "<p><code>&lt;b&gt;</code> and &lt;i&gt;</p>\n"),
        (
            "<https://a.example/x> and <me@a.example>",
            '<p><a href="https://a.example/x" rel="noopener noreferrer">https://a.example/x</a>'
            ' and <a href="mailto:me@a.example" rel="noopener noreferrer">me@a.example</a></p>\n',
        ),
        ("x \ufdd0 <y>", "<p>x \ufdd0 &lt;y&gt;</p>\n"),
    ],
)
def test_angle_brackets_show_as_written(text: str, shown: str) -> None:
    assert render_markdown(text) == shown


def test_every_stand_in_taken_still_renders() -> None:
    text = "".join(safehtml._STAND_INS) + " <b>"
    out = render_markdown(text)
    assert out.endswith(" &lt;b&gt;</p>\n") and "<b>" not in out


# -- nesting: nh3's time grows with the square of the depth (issue 10: 100,000 ">" took 53 s) --


def _depth(html: str) -> int:
    """The deepest element nesting in ``html`` as a browser's tokenizer reads it."""
    deepest, open_ = 0, 0

    class Count(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            nonlocal deepest, open_
            if tag not in ("br", "hr", "img"):
                open_ += 1
                deepest = max(deepest, open_)

        def handle_endtag(self, tag: str) -> None:
            nonlocal open_
            open_ -= 1

    counter = Count()
    counter.feed(html)
    counter.close()
    return deepest


def _words(html: str) -> list[str]:
    return re.sub(r"<[^>]*>", " ", html).split()


_BOUND = safehtml.MAX_DEPTH + 2  # a code block keeps its <pre><code> below the cap


def test_100000_nested_quotes_render_flat_past_the_cap_with_the_text_kept() -> None:
    out = render_markdown(">" * 100_000 + " the bottom of the well")
    assert _depth(out) == safehtml.MAX_DEPTH
    assert _words(out) == ["the", "bottom", "of", "the", "well"]


def test_every_level_of_deep_quotes_keeps_its_text_on_its_own_line() -> None:
    text = "\n".join(">" * level + f" level{level} *said* here" for level in range(1, 301))
    out = render_markdown(text)
    assert _depth(out) <= _BOUND
    words = _words(out)
    assert [w for w in words if w.startswith("level")] == [f"level{n}" for n in range(1, 301)]
    assert words.count("said") == 300
    # past the cap, each level still ends its line: no two levels run together
    assert re.search(r"level299 said here\s*<br>\s*level300 said here", out), out[-400:]


@pytest.mark.parametrize(
    "text",
    [
        "".join("  " * level + f"- item{level}\n" for level in range(200)),  # one per line
        "- " * 50_000 + "item0",  # every level opened on one line
        "".join("   " * level + f"1. item{level}\n" for level in range(150)),
    ],
)
def test_deep_lists_render_flat_past_the_cap_with_every_item(text: str) -> None:
    out = render_markdown(text)
    assert _depth(out) <= _BOUND
    expected = re.findall(r"item\d+", text)
    assert [w for w in _words(out) if w.startswith("item")] == expected


def test_mixed_deep_nesting_keeps_text_links_and_code() -> None:
    level = "> - 1. "
    text = (
        level * 400
        + "**bold [a link](https://a.example/deep) _and `code`_**\n"
        + "\n\n"
        + "> " * 200
        + "```python\nx = '<deep>'\n```\n"
        + "\n\n"
        + "*a _b *c _d " * 500
        + "end"
    )
    out = render_markdown(text)
    assert _depth(out) <= _BOUND
    words = _words(out)
    for word in ("bold", "a", "link", "and", "end"):
        assert word in words
    assert "code" in words and "&lt;deep&gt;" in out
    assert safehtml._SLOT not in out  # the parked code block came back whole
    assert '<pre class="highlight"><code>' in out
    assert {tag for tag, _ in _elements(out)} <= safehtml._TAGS


def test_the_cap_leaves_a_normal_message_untouched() -> None:
    text = FEATURES[1] + "\n\n" + "\n".join("  " * n + "- nested" for n in range(20))
    out = safehtml._render(text)
    assert safehtml.cap_depth(out) == out


def test_the_cap_holds_for_every_renderer_of_a_message_body() -> None:
    """Body (the web app's and the HTML export's renderer) goes through the same cap."""
    text = ">" * 5_000 + " deep answer"
    message = Message("m1", None, "assistant", "text", [{"type": "text", "text": text}], text)
    thought = {"type": "thought", "text": "- " * 5_000 + "deep thought"}
    web = {"type": "web", "url": "https://a.example", "text": "> " * 5_000 + "deep result"}
    message.parts += [thought, web]
    html = "".join(Body(lambda ref: None).blocks(message))
    assert _depth(html) <= _BOUND + 3  # a part's own wrapper: <details>, <blockquote>
    assert {"deep", "answer", "thought", "result"} <= set(_words(html))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab >>>--*_`[]()1.\n\n  |:~#"), max_size=120))
def test_capping_keeps_every_character_of_text_in_order(text: str) -> None:
    """With the cap at 3, any Markdown keeps its text exactly, only its tags go."""
    out = safehtml._render(text)
    capped = safehtml.cap_depth(out, 3)
    assert _depth(capped) <= 3 + 2
    assert re.sub(r"<[^>]*>|\s", "", capped) == re.sub(r"<[^>]*>|\s", "", out)
