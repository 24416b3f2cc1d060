"""The web thread shows a message's earlier version (``<id>#rev-<n>``, kept on import) labelled
as such, with nothing to continue or regenerate from it (probe P, item 2)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from freehold.models import REVISION_LABEL
from tests.builders import chatgpt_chats
from tests.providers.servers import WireServer
from tests.web.carrying import config_text, message_count
from tests.web.conftest import Server


def _revised(tmp_path: Path) -> tuple[str, dict[str, int | None]]:
    """Conversation c1 whose answer changed upstream; its id, and its messages' ids."""
    for n, answer in enumerate(("forty-two", "forty-three")):
        chats = {"c1": ("Plan", ["question", answer])}
        export = chatgpt_chats(tmp_path / f"v{n}.zip", chats, 1.7e9 + n * 100)
        assert CliRunner().invoke(cli, ["import", str(export)]).exit_code == 0
    with open_archive() as archive:
        conv = archive.get_conversation(archive.resolve("c1"))
    return str(conv.id), {m.source_id: m.id for m in conv.messages}


def test_an_earlier_version_is_labelled_and_not_continued(server: Server, tmp_path: Path) -> None:
    cid, ids = _revised(tmp_path)
    with server.client() as http:
        page = http.get(f"/conversations/{cid}?at={ids['c1-1#rev-1']}").text
        current = http.get(f"/conversations/{cid}").text
    revision = re.search(rf'<article [^>]*id="m{ids["c1-1#rev-1"]}".*?</article>', page, re.S)
    assert revision is not None, page
    assert f'<span class="role">{REVISION_LABEL} · Assistant</span>' in revision.group()
    assert "forty-two" in revision.group()
    assert "Continue from here" not in revision.group() and "Regenerate" not in revision.group()
    answer = re.search(rf'<article [^>]*id="m{ids["c1-1"]}".*?</article>', current, re.S)
    assert answer is not None and REVISION_LABEL not in answer.group()
    assert "Continue from here" in answer.group() and "Regenerate" in answer.group()


def test_a_turn_asked_from_an_earlier_version_is_refused(
    server: Server, wire: WireServer, tmp_path: Path
) -> None:
    cid, ids = _revised(tmp_path)
    (server.home / "config.toml").write_text(config_text(wire), encoding="utf-8")
    before = message_count(server.home)
    form = {"at": str(ids["c1-1#rev-1"]), "model": "default", "prompt": "and then?"}
    with server.client() as http:
        answer = http.post(
            f"/conversations/{cid}/continue", data=form, headers={"X-CSRF-Token": server.csrf}
        )
    assert answer.status_code == 400
    assert "is an earlier version of a message" in answer.text
    assert wire.requests == [] and message_count(server.home) == before


def _article(page: str, mid: int | None) -> str:
    found = re.search(rf'<article [^>]*id="m{mid}".*?</article>', page, re.S)
    assert found is not None, page
    return found.group()


def test_an_earlier_version_follows_its_message_and_is_no_branch(
    server: Server, tmp_path: Path
) -> None:
    """tree.reading_paths is the readers' one rule: a revision is no fork (no 2/2, nothing for
    ``]`` to follow), it comes folded right after its message; ?at=<revision> shows the message
    with the revision open; a search hit on its words says it is an earlier version."""
    cid, ids = _revised(tmp_path)
    answer, revision = ids["c1-1"], ids["c1-1#rev-1"]
    with server.client() as http:
        current = http.get(f"/conversations/{cid}").text
        at = http.get(f"/conversations/{cid}?at={revision}").text
        hits = http.get("/search", params={"q": "forty-two"}).text
        meaning = http.get("/search", params={"q": "forty-two", "meaning": "1"}).text
    for page in (current, at):
        assert 'class="fork"' not in page and 'class="more"' not in page
        assert "forty-three" in _article(page, answer)  # the current answer stays
        after = page[page.index(f'id="m{answer}"') :]
        folded = re.search(r"<details class=\"revision\"( open)?>.*?</details>", after, re.S)
        assert folded is not None and f'id="m{revision}"' in folded.group(), page
        assert after.index("</article>") < after.index('<details class="revision"')
        assert "forty-two" in folded.group() and REVISION_LABEL in folded.group()
        assert (folded.group(1) is not None) == (page is at)
    for found in (hits, meaning):
        hit = re.search(
            rf'<li class="hit"[^>]*>\s*<a href="[^"]*\?at={revision}#.*?</li>', found, re.S
        )
        assert hit is not None and REVISION_LABEL in hit.group(), found
        assert f"?at={answer}#" not in hit.group()
