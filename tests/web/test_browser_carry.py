"""Continue from here in a real browser: Debian's Chromium, driven by Playwright, against a
real server whose providers are the loopback wire server.

The composer opens under a message with the default route chosen; the answer shows as it
streams (the wire server holds the rest back until the test lets it go, so "as it streams"
is seen, not assumed); Stop keeps what came as ``interrupted``; Regenerate makes a sibling
branch; a failover is told while it happens and stays on the message. Every page is watched
as in test_browser.py: no dialog, no page error, no CSP violation, no request elsewhere.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.providers.servers import Script, WireServer
from tests.web.carrying import BACKUP, PRIMARY, carried_home, rows, wood
from tests.web.conftest import Server, start_server
from tests.web.test_browser import (  # its fixtures, and its skip when Chromium is missing
    Watch,
    browser,  # noqa: F401
    context,  # noqa: F401
    log_in,
    playwright,  # noqa: F401
    shoot,
)

OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
# A provider imports its SDK on first use: seconds on a busy machine, inside the first wait
# for the answer's first piece. That wait gets longer; the SDKs are imported up front too.
FIRST_PIECE = 30_000


@pytest.fixture(scope="module", autouse=True)
def _sdks_imported() -> None:
    import anthropic
    import openai

    assert anthropic.Anthropic and openai.OpenAI


@pytest.fixture
def carried(_isolated_home: Path, wire: WireServer) -> Iterator[Server]:
    yield from start_server(carried_home(_isolated_home, wire))


@pytest.fixture
def watch(carried: Server) -> Watch:
    return Watch(carried)


@pytest.fixture
def page(context: BrowserContext, watch: Watch) -> Page:  # noqa: F811
    return watch.attach(context.new_page())


def open_composer(page: Page, message: int, action: str = "Continue from here") -> None:
    page.locator(f"#m{message} .turn-actions").get_by_role("link", name=action).click()
    expect(page.locator("form.composer")).to_have_count(1)
    expect(page.locator("form.composer")).to_be_visible()


def test_continue_from_here_streams_the_answer_then_shows_the_new_branch(
    page: Page, carried: Server, wire: WireServer, watch: Watch
) -> None:
    cid, path = wood(carried.home)
    earlier, answer = path[-3]["id"], path[-1]["id"]
    log_in(page, carried, f"/conversations/{cid}")
    page.evaluate("window.freeholdSamePage = true")  # gone if anything loads a new page
    open_composer(page, earlier)  # an answer that was followed up: the new turn forks there
    composer = page.locator("form.composer")
    expect(composer.locator("select[name=model]")).to_have_value("default")
    expect(composer.locator("textarea")).to_be_focused()
    shoot(page, "continue-composer", full_page=False)
    hold = threading.Event()
    wire.queue(Script(text="Use **beech** or maple, planed flat.", hold=hold, hold_after=5))
    try:
        page.keyboard.type("What wood for a workbench?")
        page.keyboard.press("Control+Enter")
        live = page.locator(".live-answer")
        expect(page.locator(".live-prompt")).to_have_text(re.compile("What wood for a workbench"))
        # the first pieces are on the page while the server holds the rest back
        expect(live.locator("[data-text]")).to_have_text("Use **beech** or ", timeout=FIRST_PIECE)
        expect(live.locator("[data-status]")).to_have_text("Answering…")
        expect(live.locator("[data-stop]")).to_be_enabled()
        expect(composer).to_be_hidden()
        shoot(page, "continue-streaming", full_page=False)
    finally:
        hold.set()
    # stored, and the thread redrawn through it: Markdown rendered, the story, a new branch
    expect(page.locator(".live-answer")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/conversations/{cid}\?at=\d+$"))
    at = int(page.url.rsplit("=", 1)[1])
    new = page.locator("#thread article.message").last
    expect(new).to_have_attribute("id", f"m{at}")
    expect(new).to_be_focused()
    expect(new.locator(".body strong")).to_have_text("beech")
    expect(new.locator(".generation .provider")).to_have_text("primary")
    expect(new.locator(".generation .requested")).to_have_text("model-a-20250101")
    fork = page.locator("#thread article.message.role-user").last.locator(".fork")
    expect(fork.locator(".count")).to_have_text("2/2")  # beside the imported prompt
    assert page.evaluate("window.freeholdSamePage") is True
    stored = rows(carried.home, "SELECT text, status FROM messages WHERE id = ?", at)
    assert stored == [("Use **beech** or maple, planed flat.", "complete")]
    assert rows(carried.home, "SELECT text FROM messages WHERE id = ?", answer)[0][0]  # kept
    fork.locator("a.prev").click()  # the imported branch is still there
    expect(page.locator(f"#m{answer}")).to_be_visible()
    watch.assert_quiet()


def test_stop_keeps_what_came_as_interrupted(
    page: Page, carried: Server, wire: WireServer, watch: Watch
) -> None:
    cid, path = wood(carried.home)
    words = " ".join(f"w{n}" for n in range(300))
    wire.queue(Script(text=words, gap=0.05))  # 15 s in all, unless stopped
    log_in(page, carried, f"/conversations/{cid}")
    open_composer(page, path[-1]["id"])
    page.locator("form.composer select").select_option("backup-only")
    page.locator("form.composer textarea").fill("Count slowly.")
    page.get_by_role("button", name="Send").click()
    live = page.locator(".live-answer")
    expect(live.locator("[data-text]")).to_contain_text("w0 w1 w2", timeout=FIRST_PIECE)
    live.get_by_role("button", name="Stop").click()
    expect(page.locator(".live-answer")).to_have_count(0)
    new = page.locator("#thread article.message").last
    expect(new.locator(".status")).to_have_text("interrupted")
    at = int(page.url.rsplit("=", 1)[1])
    text, status = rows(carried.home, "SELECT text, status FROM messages WHERE id = ?", at)[0]
    assert status == "interrupted" and text.startswith("w0 w1 w2") and len(text) < len(words)
    expect(new.locator(".body")).to_have_text(text.strip())
    expect(new.locator(".attempt .outcome")).to_have_text("interrupted")
    watch.assert_quiet()


def test_regenerate_makes_a_sibling_with_the_model_chosen(
    page: Page, carried: Server, wire: WireServer, watch: Watch
) -> None:
    cid, path = wood(carried.home)
    answer = path[-1]["id"]
    wire.queue(Script(text="A second take."))
    log_in(page, carried, f"/conversations/{cid}")
    open_composer(page, answer, "Regenerate")
    composer = page.locator("form.composer")
    expect(composer.locator("textarea")).to_have_count(0)  # the prompt is the one above
    composer.locator("select").select_option("quick")
    composer.get_by_role("button", name="Regenerate").click()
    expect(page.locator(".live-answer")).to_have_count(0, timeout=FIRST_PIECE)
    new = page.locator("#thread article.message").last
    expect(new.locator(".body")).to_have_text("A second take.")
    expect(new.locator(".fork .count")).to_have_text("2/2")
    expect(new.locator(".generation .target")).to_have_text("quick")
    new.locator(".fork a.prev").click()
    expect(page.locator(f"#m{answer}")).to_be_visible()
    expect(page.locator(f"#m{answer} .fork .count")).to_have_text("1/2")
    assert wire.requests[-1].protocol == "openai"  # quick is the backup's model
    watch.assert_quiet()


def test_a_failover_is_told_as_it_happens_and_stays_on_the_message(
    page: Page, carried: Server, wire: WireServer, watch: Watch
) -> None:
    cid, path = wood(carried.home)
    hold = threading.Event()
    wire.queue(
        Script(status=529, body=OVERLOADED),
        Script(text="The backup answers.", hold=hold, hold_after=2),
    )
    log_in(page, carried, f"/conversations/{cid}")
    open_composer(page, path[-1]["id"])
    page.locator("form.composer textarea").fill("Anyone there?")
    page.get_by_role("button", name="Send").click()
    notices = page.locator(".live-answer .live-notices")
    try:
        expect(notices).to_contain_text(
            f"{PRIMARY} failed (overloaded): trying the next model", timeout=FIRST_PIECE
        )
        expect(page.locator(".live-answer [data-text]")).to_have_text("The ")
    finally:
        hold.set()
    expect(page.locator(".live-answer")).to_have_count(0)
    new = page.locator("#thread article.message").last
    expect(new.locator(".body")).to_have_text("The backup answers.")
    story = new.locator(".generation")
    expect(story.locator(".provider")).to_have_text("backup")
    expect(story.locator(".warnings")).to_contain_text(
        f"answered by {BACKUP}: the first choice {PRIMARY} failed (overloaded)"
    )
    attempts = story.locator("details.attempts")
    expect(attempts).to_have_attribute("open", "")
    expect(attempts.locator("li")).to_have_count(2)
    expect(attempts.locator("li").first).to_contain_text("primary:model-a-20250101 · error")
    expect(attempts.locator("li").first).to_contain_text("primary: 529 overloaded")
    expect(attempts.locator("li").last).to_contain_text("backup:model-b-20250101 · ok")
    new.scroll_into_view_if_needed()
    shoot(page, "continue-failover", full_page=False)
    page.reload()  # the story is stored, not only drawn
    expect(page.locator("#thread article.message").last.locator(".attempt")).to_have_count(2)
    watch.assert_quiet()


def test_a_refused_turn_says_why_in_the_composer(
    page: Page, carried: Server, wire: WireServer, watch: Watch
) -> None:
    cid, path = wood(carried.home)
    log_in(page, carried, f"/conversations/{cid}")
    open_composer(page, path[-1]["id"])
    (carried.home / "config.toml").write_text("")  # the route is gone since the page opened
    page.locator("form.composer textarea").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    error = page.locator("form.composer .composer-error")
    expect(error).to_contain_text("400: ")
    expect(error).to_contain_text("'default' is not a model reference, an alias or a route")
    expect(page.locator("form.composer textarea")).to_be_enabled()  # fix it and send again
    expect(page.locator(".live-answer")).to_have_count(0)
    assert wire.requests == []
    page.keyboard.press("Escape")
    expect(page.locator("form.composer")).to_have_count(0)
    watch.assert_quiet()


def test_without_a_provider_the_composer_links_to_the_guide(
    page: Page, carried: Server, watch: Watch
) -> None:
    (carried.home / "config.toml").unlink()
    cid, path = wood(carried.home)
    log_in(page, carried, f"/conversations/{cid}")
    open_composer(page, path[-1]["id"])
    expect(page.locator("form.composer .no-models")).to_contain_text("No model is configured yet")
    page.get_by_role("link", name="docs/providers.md").click()
    expect(page.locator("h1")).to_have_text("Providers, routes and the router")
    watch.assert_quiet()
