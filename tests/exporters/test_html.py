"""The HTML export: pages and index, hostile content made inert, code, branches, attachments."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import html as html_export
from freehold.ingest import import_path
from tests.builders import LIBRECHAT_PREFIX, SYSTEM_PROMPT, own_system_prompts
from tests.exporters.test_json import HOSTILE_TITLES, PNG, T0, fill_archive, node, text
from tests.exporters.test_markdown import assert_safe_name

TREE_ID = "d5dc5307-6807-41a0-8b04-4acee626eeb7"
XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<object data=data:text/html,x></object><embed src=x>",
    "<style>body{display:none}</style>",
    "<a href='javascript:alert(1)'>x</a>",
    "javascript:alert(1)",
]
XSS_MARKDOWN = "\n\n".join(
    [
        *XSS,
        "[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)",
        "[vb](vbscript:msgbox(1)) [spaced]( javascript:alert(1) ) [JS](JaVaScRiPt:alert(1))",
        "![remote](https://evil.example/track.png) ![inline](data:image/png;base64,iVBORw0KGgo=)",
        '![t](https://evil.example/x.png "<script>") <https://ok.example/?a=<b>>',
        "[fine](https://example.com/ok) [mail](mailto:otter@example.com)",
        '```html"><script>alert(1)</script>\n<script>alert(2)</script>\n```',
        "`<script>inline</script>`",
    ]
)
FORBIDDEN = {"script", "iframe", "object", "embed", "svg", "style", "form", "base", "math"}
CSP_CONTENT = "default-src 'none'; img-src 'self'; style-src 'self'"


class Page(HTMLParser):
    """Every start tag of a page, in order, with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def xss_zip(folder: Path) -> Path:
    """A ChatGPT export whose every field is an attack: titles, text, code, links, files."""
    evil_svg = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Evil1"}
    evil_png = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Pic2"}
    declared = [
        {"id": "file-Evil1", "name": '"><script>alert(1)</script>.svg', "mime_type": "image/png"},
        {"id": "file-Pic2", "name": "<img src=x onerror=alert(2)>.png", "mime_type": "image/png"},
    ]
    code = {"content_type": "code", "language": '"><script>x</script>', "text": XSS[0]}
    nodes = [
        node("u1", None, "user", text(XSS_MARKDOWN)),
        node(
            "a1",
            "u1",
            "assistant",
            # Markdown is read in answers: a person's own text is shown as typed (escaped)
            {"content_type": "multimodal_text", "parts": [evil_svg, evil_png, XSS_MARKDOWN]},
            attachments=declared,
        ),
        node("a2", "a1", "assistant", code),
        node("u3", "a2", "user", text("[x](javascript:alert(3)) " + XSS[2])),
    ]
    conversations = [
        {
            "id": f"xss-{number}",
            "title": title,
            "create_time": T0,
            "current_node": "u3",
            "mapping": {n["id"]: n for n in nodes},
        }
        for number, title in enumerate(XSS)
    ]
    path = folder / "xss-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps(conversations))
        archive.writestr('file-Evil1-"><svg onload=alert(1)>.png', b"<svg onload=alert(1)/>")
        archive.writestr("file-Pic2-<img src=x onerror=alert(2)>.png", PNG)
    return path


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    report = import_path(archive, xss_zip(tmp_path / "inputs"))
    assert report.conversations["new"] == len(XSS), report.to_json()
    return archive


def export(archive: Archive, out: Path, **options: Any) -> int:
    return html_export.write(archive, archive.iter_conversations(), out, **options)


def pages(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*.html") if p.name != html_export.INDEX)


def page_of(archive: Archive, out: Path, source_id: str) -> Path:
    conv = next(c for c in archive.iter_conversations() if c.source_id == source_id)
    assert conv.id
    found = [p for p in pages(out) if p.stem.endswith(conv.id[:8])]
    assert len(found) == 1, found
    return found[0]


def test_a_page_for_every_conversation_and_the_index_links_them(
    filled: Archive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    total = filled.stats()["conversations"]
    seen: list[int] = []
    assert export(filled, out, progress=seen.append) == total
    assert seen == list(range(1, total + 1))
    assert len(pages(out)) == total
    index = parse(out / html_export.INDEX)
    links = sorted(a["href"] for a in index.find("a"))
    assert links == sorted(p.name for p in pages(out))
    text = (out / html_export.INDEX).read_text(encoding="utf-8")
    assert ">Pictures of otters</a>" in text and "2024-05-01" in text and "chatgpt" in text
    assert (out / html_export.STYLE).is_file()
    for page in pages(out):
        hrefs = [a.get("href") for a in parse(page).find("a")]
        assert html_export.INDEX in hrefs


def test_no_active_content_on_any_page(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    for path in [out / html_export.INDEX, *pages(out)]:
        page = parse(path)
        assert page.find("script") == [], path.name
        for tag, attrs in page.tags:
            assert tag not in FORBIDDEN, f"{path.name}: <{tag}>"
            for name, value in attrs.items():
                assert not name.startswith("on"), f"{path.name}: <{tag} {name}>"
                if name in ("href", "src", "action", "formaction", "data"):
                    lowered = "".join(value.split()).lower()
                    assert not lowered.startswith(("javascript:", "data:", "vbscript:")), value
        for img in page.find("img"):
            assert img["src"].startswith("attachments/"), f"{path.name}: {img}"
        for link in page.find("link"):
            assert link == {"rel": "stylesheet", "href": "style.css"}


def test_every_page_carries_the_csp(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    for path in [out / html_export.INDEX, *pages(out)]:
        metas = parse(path).find("meta")
        csp = [m for m in metas if m.get("http-equiv") == "Content-Security-Policy"]
        assert [m["content"] for m in csp] == [CSP_CONTENT], path.name


def test_hostile_text_is_shown_escaped_not_dropped(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    body = page_of(filled, out, "xss-0").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in body
    page = parse(page_of(filled, out, "xss-0"))
    hrefs = [a["href"] for a in page.find("a") if "href" in a]
    assert "https://example.com/ok" in hrefs and "mailto:otter@example.com" in hrefs
    remote = [a for a in page.find("a") if a.get("href") == "https://evil.example/track.png"]
    assert remote, "a remote image becomes a plain link"
    for anchor in page.find("a"):
        if anchor.get("href", "").startswith(("http", "mailto")):
            assert anchor["rel"] == "noopener noreferrer"


def test_code_blocks_carry_pygments_classes(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    page = parse(page_of(filled, out, "otter-conv"))
    assert {"class": "highlight"} in page.find("pre")
    classes = {span.get("class") for span in page.find("span")}
    assert {"n", "o", "s1"} <= classes, classes
    for _, attrs in page.tags:
        assert "style" not in attrs
    css = (out / html_export.STYLE).read_text(encoding="utf-8")
    assert ".highlight .k " in css and "prefers-color-scheme: dark" in css


def test_a_conversations_own_system_prompt_is_a_details_block(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Open WebUI's params.system and LibreChat's promptPrefix: once, collapsed, under the title;
    ChatGPT's custom instructions stay where their message shows them, not twice."""
    own_system_prompts(archive, tmp_path / "in", real)
    export(archive, tmp_path / "out")
    shown = {}
    for conv in archive.iter_conversations():
        shown[conv.source_kind] = page_of(archive, tmp_path / "out", conv.source_id).read_text()
    for kind, prompt in (("openwebui", SYSTEM_PROMPT), ("librechat", LIBRECHAT_PREFIX)):
        page = shown[kind]
        block = re.search(
            r'<details class="hidden context">\n<summary>Custom instructions</summary>\n'
            r'<div class="body">\s*<p>([^<]*)</p>\s*</div>\n</details>',
            page,
        )
        assert block and block[1] == prompt and page.count(prompt) == 1
        assert block.start() < page.index('<article class="message')
    assert shown["chatgpt"].count("Preferred name: Tecolote") == 1


def test_hidden_items_sit_in_details(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    body = page_of(filled, out, "otter-conv").read_text(encoding="utf-8")
    assert '<details class="hidden">\n<summary>Assistant · Reasoning (hidden)' in body
    assert "Pondering" in body and "<p>hm</p>" in body
    assert "<strong>Lovely</strong>" in body


def test_branches_summarised(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out, all_branches=False)
    body = page_of(filled, out, TREE_ID).read_text(encoding="utf-8")
    main, appendix = body.split('<h2 id="other-branches">Other branches</h2>', 1)
    assert "tell me a joke" in main and "so cool bro" not in main
    assert "Forks after " in appendix and "<article" not in appendix
    assert "4 messages, starting with User: “so cool bro”" in appendix


def test_all_branches_in_full(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out, all_branches=True)
    body = page_of(filled, out, TREE_ID).read_text(encoding="utf-8")
    _, appendix = body.split('<h2 id="other-branches">Other branches</h2>', 1)
    assert "Forks after " in appendix and "<h3>Branch 2</h3>" in appendix
    assert '<article class="message role-user">' in appendix and "tell me a story" in appendix


def test_attachments_copied_once_and_referenced(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    sha = hashlib.sha256(PNG).hexdigest()
    otter = parse(page_of(filled, out, "otter-conv"))
    assert {"src": f"attachments/{sha}.png", "alt": "otter.png"} in otter.find("img")
    assert (out / "attachments" / f"{sha}.png").read_bytes() == PNG
    assert "(missing attachment: file-Gone9)" in page_of(filled, out, "otter-conv").read_text()
    evil_sha = hashlib.sha256(b"<svg onload=alert(1)/>").hexdigest()
    names = sorted(p.name for p in (out / "attachments").iterdir())
    assert names == sorted([f"{sha}.png", f"{evil_sha}.bin"]), "once each, no runnable suffix"
    xss = parse(page_of(filled, out, "xss-3"))
    assert [i["src"] for i in xss.find("img")] == [f"attachments/{sha}.png"]
    downloads = [a for a in xss.find("a") if "download" in a]
    assert [a["href"] for a in downloads] == [f"attachments/{evil_sha}.bin"]
    for path in [out / html_export.INDEX, *pages(out)]:
        for tag in parse(path).tags:
            target = tag[1].get("src") or tag[1].get("href") or ""
            if not target.startswith(("http", "mailto:", "#")) and target:
                assert (out / target).is_file(), f"{path.name}: broken {target}"


def test_safe_unique_file_names(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    names = [p.name for p in pages(out)]
    assert len(set(names)) == len(names)
    for name in names:
        assert_safe_name(name, ".html")
    assert any("-otters-日本語-" in name for name in names), names
    text = (out / html_export.INDEX).read_text(encoding="utf-8")
    for title in HOSTILE_TITLES[:2]:
        assert f">{title}</a>" in text
    assert not (tmp_path / "etc").exists()


def test_refuses_a_foreign_non_empty_folder(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("<h1>my own site</h1>\n")
    with pytest.raises(FreeholdError, match="not empty"):
        export(archive, out)
    assert (out / "index.html").read_text() == "<h1>my own site</h1>\n"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_export_again_replaces_its_own_pages_only(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    before = sorted(p.name for p in out.glob("*.html"))
    (out / "my-page.html").write_text("mine")
    only = [c.id for c in filled.iter_conversations() if c.source_id == "hostile-1"]
    assert html_export.write(filled, filled.iter_conversations(ids=only), out) == 1
    left = sorted(p.name for p in out.glob("*.html"))
    assert left == sorted([*before, "my-page.html"]), "a narrower selection removes nothing"
    assert "Also in this folder" in (out / "index.html").read_text()
    assert any((out / "attachments").iterdir())
    assert (out / html_export.STYLE).is_file()
    assert export(filled, out) == filled.stats()["conversations"]


# --- line breaking, measured in a real browser ----------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
LONG_URL = "https://example.com/" + "/".join(f"segment{n}" for n in range(12)) + "?q=otters"
LONG_HASH = hashlib.sha256(b"otter").hexdigest() * 2
# Every run of non-space text, split after hyphens (a line may end after one): a run on more
# than one line was broken mid-word.
_WORD_LINES = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/[^\\s\\u002d\\u2010]+[\\u002d\\u2010]?/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      found.push([m[0], tops.size]);
    }
  }
  const table = document.querySelector('table');
  return {found, page: document.documentElement.scrollWidth - innerWidth,
          table: table ? table.scrollWidth - table.clientWidth : 0};
}"""


def test_css_breaks_only_overlong_tokens() -> None:
    css = html_export.stylesheet()
    body = next(rule for rule in css.split("}") if rule.lstrip().startswith("body {"))
    assert "overflow-wrap: break-word" in body and "anywhere" not in body


def long_token_zip(folder: Path) -> Path:
    said = f"The hash is {LONG_HASH} and the page is {LONG_URL} — both long."
    conversation = {
        "id": "long-tokens",
        "title": f"Otter facts from {LONG_URL}",
        "create_time": T0,
        "current_node": "a",
        "default_model_slug": "text-davinci-002-render-sha",
        "mapping": {
            "q": node("q", None, "user", text("where are the otter facts?")),
            "a": node("a", "q", "assistant", text(said)),
        },
    }
    path = folder / "long-tokens.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation]))
    return path


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (scripts/install-browser)")
def test_words_wrap_at_spaces_in_chromium(archive: Archive, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    import_path(archive, SAMPLE)
    import_path(archive, long_token_zip(tmp_path))
    out = tmp_path / "out"
    export(archive, out)
    long_page = page_of(archive, out, "long-tokens")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for width in (390, 1280):
                page = browser.new_page(viewport={"width": width, "height": 900})
                for path in (out / html_export.INDEX, long_page):
                    page.goto(path.as_uri())
                    measured = page.evaluate(_WORD_LINES)
                    assert measured["page"] <= 0, f"{path.name} wider than {width}px"
                    broken = [w for w, lines in measured["found"] if lines > 1 and len(w) < 40]
                    assert not broken, f"{path.name} at {width}px breaks {broken[:10]}"
                    split = {w for w, lines in measured["found"] if lines > 1}
                    assert LONG_HASH in split or path.name == html_export.INDEX
                    if width == 1280:  # a long title breaks in its cell, no sideways scrolling
                        assert measured["table"] <= 0
                        assert any(w.startswith("https://example.com/") for w in split)
                page.close()
        finally:
            browser.close()


def test_message_headings_sit_below_the_page_headings(archive: Archive, tmp_path: Path) -> None:
    from tests.exporters.test_markdown import headed_zip

    import_path(archive, headed_zip(tmp_path))
    out = tmp_path / "out"
    export(archive, out)
    page = page_of(archive, out, "headed").read_text(encoding="utf-8")
    heads = re.findall(r"<h([1-6])[^>]*>(.*?)</h\1>", page)
    assert heads == [
        ("1", "Headings"),
        ("4", "Idea"),
        ("4", "Plan"),
        ("5", "Step one"),
        ("5", "Setext"),
        ("2", "Other branches"),
        ("3", "Branch 2"),
        ("4", "Other plan"),
        ("5", "Step one"),
        ("5", "Setext"),
    ]
    assert "# not a heading" in page
    assert '<p class="verbatim"># Question heading</p>' in page  # a person's text, as typed
