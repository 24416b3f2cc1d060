"""The web app in a real browser: Debian's Chromium driven by Playwright against a real server.

One Chromium per module (it takes a second to start), a fresh context (cookies, permissions)
per test. Every page is watched (``Watch``): a dialog, a page error, a request leaving the
server, or a Content-Security-Policy violation fails the test that caused it. The browser is
never downloaded: without /usr/bin/chromium (``scripts/install-browser`` installs it) the module
is skipped, or fails when ``FREEHOLD_REQUIRE_BROWSER=1``. Screenshots go to
``$FREEHOLD_ARTIFACTS`` (default ``test-artifacts/screenshots``) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    message = f"{CHROMIUM} not found: run scripts/install-browser to install Debian's Chromium"
    if os.environ.get("FREEHOLD_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (FREEHOLD_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(message, allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    expect,
    sync_playwright,
)

from freehold import _sqlite, exits  # noqa: E402
from freehold.archive import ARCHIVE_NAME, conversation_id, open_archive  # noqa: E402
from freehold.ingest import import_path  # noqa: E402
from tests.web.conftest import Server  # noqa: E402
from tests.web.hostile import CANARY, write_hostile_export  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STATIC_SCRIPTS = ["/static/htmx.min.js", "/static/app.js"]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
    yield launched
    launched.close()


DESKTOP = {"width": 1280, "height": 900}


@contextmanager
def new_context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="en-US", **options)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    with new_context(browser, viewport=DESKTOP) as context:
        yield context


@dataclass
class Watch:
    """What a page did that it should not: dialogs, errors, CSP violations, requests elsewhere."""

    server: Server
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        self.pages.append(page)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("request", self._request)
        # The event a CSP report would be made of, straight from the page (the app has no
        # report endpoint): Playwright's binding and init script are not subject to the CSP.
        page.expose_binding("__freeholdViolation", lambda source, text: self.csp.append(text))
        page.add_init_script(_VIOLATIONS)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp.append(message.text)

    def _request(self, request: Request) -> None:
        if not request.url.startswith(self.server.url + "/"):
            self.requests.append(request.url)

    def assert_quiet(self) -> None:
        for page in self.pages:  # a round trip delivers the events still on their way
            if not page.is_closed():
                page.evaluate("0")
        assert self.dialogs == []
        assert self.errors == []
        assert self.csp == []
        assert self.requests == []


_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (event) => {
    window.__freeholdViolation(`${event.effectiveDirective} ${event.blockedURI}`);
    window.__freeholdSeen = (window.__freeholdSeen || 0) + 1;
}, true);"""


@pytest.fixture
def watch(server: Server) -> Watch:
    return Watch(server)


@pytest.fixture
def page(context: BrowserContext, watch: Watch) -> Page:
    return watch.attach(context.new_page())


@pytest.fixture
def sample(server: Server) -> Server:
    """The server with the sample export imported."""
    with open_archive(server.home) as archive:
        import_path(archive, SAMPLE)
    return server


def log_in(page: Page, server: Server, path: str = "/") -> None:
    """The printed-URL flow: the token in the query becomes a cookie, then leaves the URL."""
    separator = "&" if "?" in path else "?"
    page.goto(f"{server.url}{path}{separator}token={server.token}")
    expect(page).to_have_url(server.url + path)


def artifacts() -> Path:
    folder = Path(os.environ.get("FREEHOLD_ARTIFACTS") or REPO / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Page, name: str, full_page: bool = True) -> Path:
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")  # the sticky sidebar is drawn where it stands
    path = artifacts() / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def branched_conversation(server: Server) -> str:
    """The id of the shortest conversation with branches."""
    with open_archive(server.home) as archive:
        rows = archive.conversation_rows(branched=True, limit=100).rows
    return min(rows, key=lambda row: row.message_count).id


def first_fork_switch(page: Page) -> tuple[str, str]:
    """The first fork's counter and the class of the arrow that leads elsewhere."""
    fork = page.locator("#thread .fork").first
    expect(fork).to_be_visible()
    which = "next" if fork.locator("a.next").count() else "prev"
    return fork.locator(".count").inner_text(), which


# --- tests ---------------------------------------------------------------------------------


def test_printed_url_logs_in_and_leaves_no_token_behind(
    page: Page, context: BrowserContext, sample: Server, watch: Watch
) -> None:
    log_in(page, sample, "/conversations?branched=1")
    assert "token" not in page.url
    expect(page.locator("h1")).to_have_text("Conversations")
    cookies = {cookie["name"]: cookie for cookie in context.cookies(sample.url)}
    stored = cookies[sample.cookie]
    assert (stored["value"], stored["httpOnly"], stored["sameSite"]) == (
        sample.token,
        True,
        "Strict",
    )
    page.locator(".rows a").first.click()  # the cookie carries on without the token
    expect(page).to_have_url(re.compile(r"/conversations/c[0-9a-f]+$"))
    expect(page.locator("#thread .message").first).to_be_visible()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
    watch.assert_quiet()


def test_without_the_token_the_page_refuses(page: Page, server: Server) -> None:
    response = page.goto(server.url + "/")
    assert response is not None and response.status == 403
    expect(page.locator("body")).to_contain_text("?token=")


def test_import_through_the_page_shows_the_report(page: Page, server: Server, watch: Watch) -> None:
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.headers.get("hx-request") else None)
    log_in(page, server, "/import")
    page.locator("input[type=file]").set_input_files(SAMPLE)
    # Holding the archive's write lock keeps the import running (it waits for the lock) until
    # the page shows its progress; then htmx polling must bring the report in.
    with open_archive(server.home) as archive, archive.transaction():
        page.get_by_role("button", name="Upload and import").click()
        expect(page).to_have_url(re.compile(r"/import/jobs/[0-9a-f]+$"))
        expect(page.locator("#job.job-running progress")).to_be_visible()
        expect(page.locator("#job h2")).to_contain_text("Importing sample-chatgpt-export.zip")
    job = page.locator("#job")
    expect(job).to_have_class(re.compile(r"\bjob-(done|problems)\b"), timeout=30_000)
    expect(job.locator("h2")).to_contain_text("Import finished")
    expect(job.locator("table.report tr", has_text="Conversations")).to_contain_text("new 23")
    assert polls and all("/import/jobs/" in url for url in polls)
    shoot(page, "import-job")
    job.get_by_role("link", name="Conversations").click()
    expect(page.locator("main p.meta").first).to_have_text("23 conversations")
    page.goto(server.url + "/")
    expect(page.locator("main .rows .row")).to_have_count(12)
    expect(page.locator(".counts")).to_contain_text("23 conversations")
    watch.assert_quiet()


def test_a_download_keeps_a_title_in_another_script(
    page: Page, server: Server, watch: Watch, tmp_path: Path
) -> None:
    """Chromium names the saved file from the header's ``filename*``: the title, in Japanese."""
    message = {
        "id": "m",
        "author": {"role": "user"},
        "create_time": 1.7e9,
        "content": {"content_type": "text", "parts": ["こんにちは"]},
    }
    mapping = {
        "r": {"id": "r", "parent": None, "children": ["m"], "message": None},
        "m": {"id": "m", "parent": "r", "children": [], "message": message},
    }
    conv = {"id": "jp-1", "title": "日本語のタイトル", "create_time": 1.7e9, "mapping": mapping}
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps([{**conv, "current_node": "m"}]))
    with open_archive(server.home) as archive:
        assert import_path(archive, export).ok
    log_in(page, server, f"/conversations/{conversation_id('chatgpt', 'jp-1')}")
    with page.expect_download() as started:
        page.get_by_role("link", name="Download Markdown").click()
    name = started.value.suggested_filename
    assert re.fullmatch(r"2023-11-14-日本語のタイトル-c[0-9a-f]{7}\.md", name), name
    assert "こんにちは" in Path(started.value.path()).read_text(encoding="utf-8")
    watch.assert_quiet()


def test_star_toggles_in_place_through_htmx(page: Page, sample: Server, watch: Watch) -> None:
    cid = branched_conversation(sample)
    log_in(page, sample, f"/conversations/{cid}")
    button = page.locator("form.star button")
    was = button.get_attribute("aria-pressed")
    now = "false" if was == "true" else "true"
    button.click()
    expect(button).to_have_attribute("aria-pressed", now)
    expect(page).to_have_url(sample.url + f"/conversations/{cid}")  # swapped, not navigated
    page.reload()
    expect(button).to_have_attribute("aria-pressed", now)
    watch.assert_quiet()


def test_a_busy_archive_is_said_where_the_star_was_clicked(
    page: Page, sample: Server, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """htmx swaps nothing for an error: the star stayed as it was and the page said nothing.
    Now the error page's line is shown (``app.js``), and goes at the next answer."""
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT", 0.2)  # before the server's connections
    cid = branched_conversation(sample)
    log_in(page, sample, f"/conversations/{cid}")
    button = page.locator("form.star button")
    was = button.get_attribute("aria-pressed")
    said = page.locator("#failure")
    with closing(sqlite3.connect(sample.home / ARCHIVE_NAME, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another freehold command writing
        button.click()
        expect(said).to_have_text(
            "the archive is busy — another freehold command is writing; try again in a moment"
        )
        expect(said).to_have_attribute("role", "alert")
        expect(button).to_have_attribute("aria-pressed", was or "")
        other.execute("ROLLBACK")
    button.click()
    expect(button).not_to_have_attribute("aria-pressed", was or "")
    expect(said).to_be_hidden()
    watch.assert_quiet()


def test_search_from_the_keyboard_then_open_a_hit(page: Page, sample: Server, watch: Watch) -> None:
    log_in(page, sample)
    page.locator("h1").click()  # focus in the page, not in a field
    page.keyboard.press("/")
    box = page.locator("#q")
    expect(box).to_be_focused()
    page.keyboard.type("index")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=index$"))
    marks = page.locator(".hits .snippet mark")
    expect(marks.first).to_be_visible()
    assert all(re.match(r"(?i)index", text) for text in marks.all_inner_texts())
    hit = page.locator(".hits .hit a").first
    href = hit.get_attribute("href") or ""
    message = re.search(r"#(m\d+)$", href)
    assert message is not None, href
    hit.click()
    expect(page).to_have_url(re.compile(r"/conversations/c[0-9a-f]+\?at=\d+#m\d+$"))
    expect(page.locator(f"#{message.group(1)}")).to_contain_text(re.compile("index", re.IGNORECASE))
    watch.assert_quiet()


def _past_the_leaf(server: Server, path: Path, source_id: str) -> str:
    """A conversation whose current message (a1) has a follower (u2): the page stops at a1,
    u2 is another branch. Its id."""
    from tests.web.test_views import START, chatgpt_conversation, chatgpt_message, write_zip

    nodes: list[tuple[str, str | None, Any]] = [("root", None, None)]
    for n, (mid, role) in enumerate([("u1", "user"), ("a1", "assistant"), ("u2", "user")]):
        nodes.append(
            (mid, nodes[-1][0], chatgpt_message(mid, role, f"text {mid}", START + n, None))
        )
    chat = chatgpt_conversation(source_id, source_id, START, nodes, "a1")
    export = write_zip(path, {"conversations.json": json.dumps([chat]).encode()})
    with open_archive(server.home) as archive:
        import_path(archive, export)
    return conversation_id("chatgpt", source_id)


def test_the_thread_past_the_visible_leaf_by_keyboard(
    page: Page, server: Server, watch: Watch, tmp_path: Path
) -> None:
    """Probe K, item 3: the page stops at the current message; what follows it is another
    branch, reached with ] (or its link) and left with [, in place, as a fork's arrows are."""
    cid = _past_the_leaf(server, tmp_path / "mid.zip", "c-mid")
    log_in(page, server, f"/conversations/{cid}")
    articles = page.locator("#thread article")
    expect(articles).to_have_count(2)
    page.evaluate("window.freeholdSamePage = true")
    page.keyboard.press("]")
    expect(page).to_have_url(re.compile(r"\?at=\d+$"))
    expect(articles).to_have_count(3)
    expect(page.locator("#thread")).to_contain_text("text u2")
    page.keyboard.press("[")
    expect(page).to_have_url(f"{server.url}/conversations/{cid}")
    expect(articles).to_have_count(2)
    assert page.evaluate("window.freeholdSamePage") is True  # htmx swapped the thread in
    watch.assert_quiet()


def test_an_earlier_version_is_folded_under_its_message(
    page: Page, server: Server, watch: Watch, tmp_path: Path
) -> None:
    """Probe V, item 1: a message's earlier version was a branch (] went to it, in place of
    the current answer). It is folded under its message; a link to it (a search hit's) opens
    it there, the current answer above it."""
    from tests.web.test_revision_page import _revised

    cid, ids = _revised(tmp_path)
    revision, answer = page.locator(f"#m{ids['c1-1#rev-1']}"), page.locator(f"#m{ids['c1-1']}")
    log_in(page, server, f"/conversations/{cid}")
    expect(answer).to_contain_text("forty-three")
    expect(revision).to_be_hidden()
    page.locator("#thread details.revision summary").click()
    expect(revision).to_contain_text("forty-two")
    expect(revision).to_be_visible()
    page.goto(f"{server.url}/conversations/{cid}?at={ids['c1-1#rev-1']}#m{ids['c1-1#rev-1']}")
    expect(revision).to_be_visible()
    expect(answer).to_contain_text("forty-three")
    watch.assert_quiet()


def test_a_branch_key_pressed_before_the_swap_settles_stays_in_the_page(
    page: Page, server: Server, watch: Watch, tmp_path: Path
) -> None:
    """A key pressed just after a swap, before htmx has bound the new links (it does so when
    the swap settles), still switches in place: under load the thread test above loaded the
    whole page. The settling is made slow here so the key always comes first."""
    cid = _past_the_leaf(server, tmp_path / "fast.zip", "c-fast")
    log_in(page, server, f"/conversations/{cid}")
    articles = page.locator("#thread article")
    expect(articles).to_have_count(2)
    page.evaluate("window.freeholdSamePage = true; htmx.config.defaultSettleDelay = 3000")
    page.keyboard.press("]")
    expect(articles).to_have_count(3)
    page.keyboard.press("[")  # the new thread's links are not bound yet
    expect(articles).to_have_count(2)
    expect(page).to_have_url(f"{server.url}/conversations/{cid}")
    assert page.evaluate("window.freeholdSamePage") is True
    watch.assert_quiet()


def test_branch_switch_by_click_then_keyboard(page: Page, sample: Server, watch: Watch) -> None:
    cid = branched_conversation(sample)
    log_in(page, sample, f"/conversations/{cid}")
    before_count, which = first_fork_switch(page)
    before_thread = page.locator("#thread").inner_text()
    arrow = page.locator(f"#thread .fork a.{which}").first
    target = (arrow.get_attribute("href") or "").rsplit("=", 1)[-1]
    page.evaluate("window.freeholdSamePage = true")  # gone if the click loads a new page
    arrow.click()
    expect(page).to_have_url(re.compile(rf"\?at={target}$"))
    fork = page.locator("#thread .fork").first
    expect(fork.locator(".count")).not_to_have_text(before_count)
    assert page.locator("#thread").inner_text() != before_thread
    expect(page.locator(f"#m{target}")).to_be_focused()  # focus follows the switch
    assert page.evaluate("window.freeholdSamePage") is True  # htmx swapped the thread in
    page.keyboard.press("]" if which == "prev" else "[")  # and the keyboard switches back
    expect(fork.locator(".count")).to_have_text(before_count)
    expect(page).to_have_url(re.compile(r"\?at=\d+$"))
    assert page.locator("#thread").inner_text() == before_thread
    page.go_back()
    expect(page).to_have_url(re.compile(rf"\?at={target}$"))
    watch.assert_quiet()


def test_copy_button_puts_the_code_on_the_clipboard(
    page: Page, context: BrowserContext, sample: Server, watch: Watch
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sample.url)
    log_in(page, sample, "/search?q=def")
    page.locator(".hits .hit a").first.click()
    block = page.locator("#thread pre.highlight").first
    expect(block).to_be_visible()
    code = block.locator("code").text_content()
    assert code
    button = page.locator("#thread button.copy").first
    expect(button).to_have_text("Copy")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code
    watch.assert_quiet()


def test_the_watch_sees_what_it_guards_against(page: Page, sample: Server, watch: Watch) -> None:
    """The checks below are not vacuous: real mischief in the page trips every one of them."""
    log_in(page, sample)
    with page.expect_console_message(lambda message: "img-src" in message.text):
        page.evaluate(
            """() => {
            document.body.insertAdjacentHTML('beforeend', '<img src="https://evil.example/x">');
            window.__xss = 1;
            window.alert('caught');
        }"""
        )
    with pytest.raises(AssertionError):
        _assert_inert(page, sample.url)
    with pytest.raises(AssertionError):
        watch.assert_quiet()
    assert watch.dialogs == ["alert: caught"]
    assert watch.requests == ["https://evil.example/x"]
    assert any("img-src" in text for text in watch.csp)  # the console's message
    page.wait_for_function("window.__freeholdSeen > 0")
    assert "img-src https://evil.example/x" in watch.csp  # the violation event


def _assert_inert(page: Page, origin: str) -> None:
    """Nothing on the page can run: only our two scripts, no handlers, no hostile links."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    found = page.evaluate(_INERT_PROBE)
    assert found == {
        "xss": "undefined",
        "scripts": [origin + path for path in STATIC_SCRIPTS],
        "handlers": [],
        "htmx": [],
        "links": [],
        "embeds": 0,
        "styled": 0,
        "media": [],
    }
    assert page.locator("a[href^='javascript' i]").count() == 0


_INERT_PROBE = """() => {
    const attributes = (selector, pattern) => Array.from(document.querySelectorAll(selector))
        .flatMap(e => Array.from(e.attributes).filter(a => pattern.test(a.name))
        .map(a => e.tagName + ' ' + a.name));
    return {
        xss: typeof window.__xss,
        scripts: Array.from(document.scripts).map(s => s.src),
        handlers: attributes('*', /^on/i),
        htmx: attributes('#thread .body *, .context *, .hits *, .report *', /^(data-)?hx-/i),
        links: Array.from(document.querySelectorAll('a[href]'))
            .map(a => new URL(a.href, location.href).protocol)
            .filter(p => !['http:', 'https:', 'mailto:'].includes(p)),
        embeds: document.querySelectorAll(
            'iframe, object, embed, frame, base, meta[http-equiv], main form[action^=http]'
        ).length,
        styled: document.querySelectorAll('[style], body style').length,
        media: Array.from(document.querySelectorAll('[src]'))
            .map(e => e.src).filter(src => !src.startsWith(location.origin + '/')),
    };
}"""


def test_hostile_export_runs_nothing(
    page: Page, sample: Server, watch: Watch, tmp_path: Path
) -> None:
    hostile = write_hostile_export(tmp_path)
    with open_archive(sample.home) as archive:
        source = import_path(archive, hostile).source_id
        rows = archive.conversation_rows(limit=100).rows
    cids = [row.id for row in rows if "<" in (row.title or "")]
    assert len(cids) == 3
    log_in(page, sample)
    pages = ["/", "/conversations", "/conversations?branched=1", f"/sources/{source}"]
    pages += [f"/search?q={word}" for word in (CANARY, "onerror", "script", "javascript")]
    pages += [f"/conversations/{cid}" for cid in cids]
    for path in pages:
        page.goto(sample.url + path)
        expect(page.locator("h1")).to_be_visible()
        _assert_inert(page, sample.url)
        if path.startswith("/conversations/"):
            expect(page.locator("h1")).to_contain_text("alert(1)")  # shown, as text
            _switch_branch(page, sample.url)
    page.goto(sample.url + f"/search?q={CANARY}")
    expect(page.locator(".hits mark").first).to_have_text(CANARY)
    page.locator(".hits .hit a").first.click()
    expect(page).to_have_url(re.compile(r"#m\d+$"))
    _assert_inert(page, sample.url)
    shoot(page, "hostile-conversation", full_page=False)  # the payloads, shown as text
    page.goto(sample.url + "/import")  # the upload's report names the hostile members
    page.locator("input[type=file]").set_input_files(hostile)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#job")).not_to_have_class(re.compile("job-running"), timeout=30_000)
    expect(page.locator("#job .problems")).to_contain_text("<svg onload=")
    _assert_inert(page, sample.url)
    page.goto(sample.url + f"/sources/{source}")
    expect(page.locator("h1")).to_contain_text("<img src=x onerror=")
    watch.assert_quiet()


def _switch_branch(page: Page, origin: str) -> None:
    """Through htmx too: the swapped-in thread must be as inert as the page it replaced."""
    arrows = page.locator("#thread .fork a")
    if not arrows.count():
        return
    target = (arrows.first.get_attribute("href") or "").rsplit("=", 1)[-1]
    arrows.first.click()
    expect(page).to_have_url(re.compile(rf"\?at={target}$"))
    expect(page.locator(f"#m{target}")).to_be_focused()
    _assert_inert(page, origin)


def test_screenshots_desktop_and_french(page: Page, sample: Server, watch: Watch) -> None:
    """Screenshots for a person to look at; the assertions catch the grossest breakage."""
    cid = branched_conversation(sample)
    log_in(page, sample)
    shoot(page, "home")
    _assert_sidebar_beside_main(page)
    page.goto(sample.url + "/conversations")
    shoot(page, "conversations")
    page.goto(sample.url + "/search?q=index")
    expect(page.locator(".hits mark").first).to_be_visible()
    shoot(page, "search")
    page.goto(sample.url + f"/conversations/{cid}")
    expect(page.locator("#thread .fork").first).to_be_visible()
    shoot(page, "conversation-fork")
    page.goto(sample.url + "/sources/1")
    expect(page.locator("table.report")).to_be_visible()
    shoot(page, "import-report")
    page.get_by_role("link", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_contain_text("Rapport d'import")
    page.goto(sample.url + f"/conversations/{cid}")
    expect(page.locator("#thread .fork a").first).to_have_attribute("title", re.compile("Branche"))
    shoot(page, "conversation-fr")
    watch.assert_quiet()


def test_screenshot_phone(browser: Browser, sample: Server) -> None:
    with new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True) as context:
        watch = Watch(sample)
        page = watch.attach(context.new_page())
        log_in(page, sample, f"/conversations/{branched_conversation(sample)}")
        shoot(page, "phone-conversation")
        _assert_phone_layout(page)
        watch.assert_quiet()


def test_screenshot_dark(browser: Browser, sample: Server) -> None:
    with new_context(browser, viewport=DESKTOP, color_scheme="dark") as context:
        watch = Watch(sample)
        page = watch.attach(context.new_page())
        log_in(page, sample, f"/conversations/{branched_conversation(sample)}")
        shoot(page, "dark-conversation")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert _luminance(background) < 0.2, background
        code = page.locator("#thread pre.highlight").first
        assert _luminance(code.evaluate("e => getComputedStyle(e).backgroundColor")) < 0.2
        watch.assert_quiet()


def _assert_sidebar_beside_main(page: Page) -> None:
    side = page.locator(".sidebar").bounding_box()
    main = page.locator("main").bounding_box()
    assert side is not None and main is not None
    assert side["x"] + side["width"] <= main["x"] + 1
    assert abs(side["y"] - main["y"]) < 2


def _assert_phone_layout(page: Page) -> None:
    """On a phone the sidebar sits above the thread and nothing is wider than the screen."""
    side = page.locator(".sidebar").bounding_box()
    thread = page.locator("#thread").bounding_box()
    assert side is not None and thread is not None
    assert side["y"] + side["height"] <= thread["y"]
    assert thread["x"] >= 0 and thread["x"] + thread["width"] <= 391
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390, f"the page is {overflow}px wide on a 390px screen"


def _luminance(css_color: str) -> float:
    red, green, blue = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_exit_plan_from_the_navigation(page: Page, server: Server, watch: Watch) -> None:
    with open_archive(server.home) as archive:
        exits.add(archive, "stripe")
        exits.add(archive, "acme", name="<img src=x onerror=alert(1)>")  # shown, never run
    log_in(page, server)
    page.get_by_role("link", name="Exit plan").click()
    expect(page).to_have_url(server.url + "/exits")
    expect(page.locator("h1")).to_have_text("Exit plan")
    expect(page.locator("table.exit-plan tbody tr")).to_have_count(2)
    expect(page.get_by_text("<img src=x onerror=alert(1)>")).to_be_visible()
    shoot(page, "exit-plan")
    watch.assert_quiet()
