"""Continue from here, Regenerate and Stop over HTTP: a real server on 127.0.0.1, the sample
archive, and the loopback wire server as the providers (Anthropic protocol for the primary,
OpenAI for the backup). What the page's script does, request by request: the composer, the
streamed answer (NDJSON), the answer's story on the page; and what must be refused before
anything is stored or sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from freehold.cli import cli
from freehold.web import turns as turns_module
from freehold.web.i18n import FRENCH
from tests.providers.servers import Script, WireServer
from tests.web.carrying import (
    BACKUP,
    NDJSON,
    PRIMARY,
    carried_home,
    message_count,
    post_turn,
    rows,
    whole_turn,
    wood,
)
from tests.web.conftest import Server, start_server

OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.fixture
def carried(_isolated_home: Path, wire: WireServer) -> Iterator[Server]:
    """A server over the sample archive, with the wire server as its providers."""
    yield from start_server(carried_home(_isolated_home, wire))


def events_of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events_of(events, "text"))


def reply_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events[-1]["event"] == "done", events[-1]
    reply: dict[str, Any] = events[-1]["reply"]
    return reply


def answer_row(home: Path, mid: int) -> tuple[Any, ...]:
    return rows(
        home, "SELECT parent_id, role, status, origin, text FROM messages WHERE id = ?", mid
    )[0]


# -- the answer streams, is stored as a branch, and tells its story --------------------------


def test_continue_streams_the_answer_as_it_comes_and_stores_a_branch(
    carried: Server, wire: WireServer
) -> None:
    cid, path = wood(carried.home)
    leaf = path[-1]["id"]
    before = message_count(carried.home)
    hold = threading.Event()
    wire.queue(Script(status=529, body=OVERLOADED))  # the primary is down
    wire.queue(Script(text="Use **beech** or maple, planed flat.", hold=hold, hold_after=3))
    form = {"at": str(leaf), "model": "default", "prompt": "What wood for a workbench?"}
    stream = post_turn(carried, f"/conversations/{cid}/continue", form)
    try:
        first: list[dict[str, Any]] = []
        while len(events_of(first, "text")) < 2:  # the server holds the rest back
            first.append(next(stream))
        # the first two pieces reached us before the answer was whole, after the failover
        assert first[0]["event"] == "start" and not events_of(first, "done")
        assert first[0]["models"] == [PRIMARY, BACKUP] and first[0]["target"] == "default"
        notices = [e["text"] for e in events_of(first, "notice")]
        assert f"{PRIMARY} failed (overloaded): trying the next model" in notices
        assert text_of(first) == "Use **beech** "
        assert rows(carried.home, "SELECT count(*) FROM messages")[0][0] == before + 1  # prompt
    finally:
        hold.set()
    events = first + list(stream)
    reply = reply_of(events)
    assert text_of(events) == reply["text"] == "Use **beech** or maple, planed flat."
    assert (reply["status"], reply["provider"], reply["requested_model"]) == (
        "complete",
        "backup",
        "model-b-20250101",
    )
    assert [(a["provider"], a["outcome"], a["fault"]) for a in reply["attempts"]] == [
        ("primary", "error", "overloaded"),
        ("backup", "ok", None),
    ]
    assert events[-1]["url"] == f"/conversations/{cid}?at={reply['message_id']}"
    # stored: the prompt under the message continued from, the answer under the prompt
    prompt = first[0]["prompt"]
    assert answer_row(carried.home, prompt)[:4] == (leaf, "user", "complete", "local")
    assert answer_row(carried.home, reply["message_id"]) == (
        prompt,
        "assistant",
        "complete",
        "local",
        reply["text"],
    )
    assert message_count(carried.home) == before + 2
    # what was sent: the archived path, then the new prompt (the same as `chat --continue`)
    sent = wire.requests[-1].body["messages"]
    assert sent[-1] == {"role": "user", "content": "What wood for a workbench?"}
    assert any("Compare two approaches" in str(m["content"]) for m in sent)


def test_the_answer_tells_its_story_on_the_page(carried: Server, wire: WireServer) -> None:
    cid, path = wood(carried.home)
    wire.queue(Script(status=529, body=OVERLOADED), Script(text="Oak.", served="other-model-x"))
    form = {"at": str(path[-1]["id"]), "model": "default", "prompt": "And the top?"}
    reply = reply_of(whole_turn(carried, f"/conversations/{cid}/continue", form))
    with carried.client() as http:
        html = http.get(f"/conversations/{cid}", params={"at": reply["message_id"]}).text
    story = html.split(f'id="m{reply["message_id"]}"')[1].split("</article>")[0]
    assert 'Answered by <strong class="provider">backup</strong>' in story
    assert '<code class="requested">model-b-20250101</code>' in story
    assert '<code class="served">other-model-x</code>' in story
    assert '<code class="target">default</code>' in story
    assert "answered by backup:model-b-20250101: the first choice" in story  # the failover
    assert "answered as &#39;other-model-x&#39;" in story  # another model than asked for
    assert '<details class="attempts" open>' in story and "2 attempts" in story
    assert '<code>primary:model-a-20250101</code> · <span class="outcome">error</span>' in story
    assert "(overloaded)" in story and "primary: 529 overloaded" in story
    assert "12 → 7 tokens" in story


def test_an_answer_stored_by_the_cli_shows_its_story_too(carried: Server, wire: WireServer) -> None:
    cid, _ = wood(carried.home)
    wire.queue(Script(status=529, body=OVERLOADED), Script(text="From the terminal."))
    result = CliRunner().invoke(cli, ["chat", "--continue", cid, "Hello?", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)["message_id"]
    with carried.client() as http:
        html = http.get(f"/conversations/{cid}").text  # the visible path ends at it now
    story = html.split(f'id="m{answer}"')[1].split("</article>")[0]
    assert "From the terminal." in story
    assert 'Answered by <strong class="provider">backup</strong>' in story
    assert "primary: 529 overloaded" in story
    assert f'href="/conversations/{cid}/regenerate?at={answer}"' in story


def test_regenerate_answers_the_same_prompt_again_as_a_sibling(
    carried: Server, wire: WireServer
) -> None:
    cid, path = wood(carried.home)
    answer, prompt = path[-1], path[-2]
    assert (answer["role"], prompt["role"]) == ("assistant", "user")
    before = message_count(carried.home)
    wire.queue(Script(text="A second take."))
    events = whole_turn(
        carried, f"/conversations/{cid}/regenerate", {"at": str(answer["id"]), "model": "quick"}
    )
    reply = reply_of(events)
    assert events[0]["prompt"] == prompt["id"]
    assert reply["text"] == "A second take." and reply["provider"] == "backup"
    assert answer_row(carried.home, reply["message_id"])[:2] == (prompt["id"], "assistant")
    assert message_count(carried.home) == before + 1  # the answer only: no second prompt
    # the path sent ends at the prompt that was answered before
    sent = wire.requests[-1].body["messages"]
    assert sent[-1]["role"] == "user" and sent[-1]["content"].endswith(prompt["text"])
    # the page shows the new answer, and the old one as its sibling
    with carried.client() as http:
        html = http.get(f"/conversations/{cid}").text
    fork = html.split(f'id="m{reply["message_id"]}"')[1].split("</nav>")[0]
    assert '<span class="count">2/2</span>' in fork
    assert f'href="/conversations/{cid}?at={answer["id"]}"' in fork


def test_stop_keeps_what_arrived_as_interrupted(carried: Server, wire: WireServer) -> None:
    cid, path = wood(carried.home)
    words = " ".join(f"w{n}" for n in range(300))
    wire.queue(Script(text=words, gap=0.05))  # 15 s in all, unless stopped
    form = {"at": str(path[-1]["id"]), "model": "backup-only", "prompt": "Count."}
    stream = post_turn(carried, f"/conversations/{cid}/continue", form)
    start = next(stream)
    before: list[dict[str, Any]] = []
    while len(events_of(before, "text")) < 2:
        before.append(next(stream))
    with carried.client() as http:
        stopped = http.post(f"/turns/{start['turn']}/stop", headers={"X-CSRF-Token": carried.csrf})
    assert stopped.status_code == 204
    events = [start, *before, *stream]
    reply = reply_of(events)
    assert reply["status"] == "interrupted"
    assert reply["text"] == text_of(events) and reply["text"].startswith("w0 w1 ")
    assert len(reply["text"]) < len(words)
    assert reply["attempts"][-1]["outcome"] == "interrupted"
    assert answer_row(carried.home, reply["message_id"])[2:] == (
        "interrupted",
        "local",
        reply["text"],
    )
    with carried.client() as http:  # the turn is over: nothing of that id to stop
        again = http.post(
            f"/turns/{start['turn']}/stop",
            headers={"X-CSRF-Token": carried.csrf, "Accept": "application/json"},
        )
    assert again.status_code == 404 and "no answer of that id" in again.json()["error"]


def test_a_page_that_goes_away_stops_the_answer(carried: Server, wire: WireServer) -> None:
    cid, path = wood(carried.home)
    words = " ".join(f"w{n}" for n in range(300))
    wire.queue(Script(text=words, gap=0.05))
    form = {"at": str(path[-1]["id"]), "model": "backup-only", "prompt": "Count."}
    stream = post_turn(carried, f"/conversations/{cid}/continue", form)
    start = next(stream)
    while next(stream)["event"] != "text":
        pass
    turn = carried.state.turns.running[start["turn"]]  # type: ignore[attr-defined]
    stream.close()  # the connection is closed with the response: the page went away
    turn.thread.join(10)  # the answer's thread stops, stores what came, and ends
    assert not turn.thread.is_alive()
    found = rows(
        carried.home,
        "SELECT status, text FROM messages WHERE parent_id = ? AND role = 'assistant'",
        start["prompt"],
    )
    assert found and found[0][0] == "interrupted"
    assert found[0][1].startswith("w0 ") and len(found[0][1]) < len(words)
    assert carried.state.turns.running == {}  # type: ignore[attr-defined]


def test_without_javascript_the_form_waits_and_goes_to_the_answer(
    carried: Server, wire: WireServer
) -> None:
    cid, path = wood(carried.home)
    wire.queue(Script(text="Plain form."))
    with carried.client(follow_redirects=False) as http:
        response = http.post(
            f"/conversations/{cid}/continue",
            params={"csrf": carried.csrf},
            data={"at": str(path[-1]["id"]), "model": BACKUP, "prompt": "No script?"},
        )
        assert response.status_code == 303
        answer = int(response.headers["location"].rsplit("=", 1)[1])
        assert response.headers["location"] == f"/conversations/{cid}?at={answer}"
        page = http.get(response.headers["location"]).text
    assert answer_row(carried.home, answer)[4] == "Plain form."
    assert "Plain form." in page and "No script?" in page


# -- the composer ----------------------------------------------------------------------------


def test_the_composer_offers_routes_aliases_and_models_default_first(carried: Server) -> None:
    cid, path = wood(carried.home)
    with carried.client() as http:
        fragment = http.get(
            f"/conversations/{cid}/continue",
            params={"at": path[-1]["id"]},
            headers={"HX-Request": "true"},
        ).text
        whole = http.get(f"/conversations/{cid}/continue", params={"at": path[-1]["id"]}).text
        again = http.get(
            f"/conversations/{cid}/regenerate",
            params={"at": path[-1]["id"]},
            headers={"HX-Request": "true"},
        ).text
    assert "<aside" not in fragment and '<aside class="sidebar">' in whole
    assert fragment.count("<option") == 5  # 2 routes, 1 alias, 2 models
    assert '<option value="default" selected>' in fragment
    assert f"default: {PRIMARY} → {BACKUP}" in fragment
    assert f'<option value="quick">quick ({BACKUP})</option>' in fragment
    assert f'<option value="{PRIMARY}">' in fragment
    assert f'action="/conversations/{cid}/continue?csrf={carried.csrf}"' in fragment
    assert '<textarea name="prompt"' in fragment and '<textarea name="prompt"' not in again
    assert f'action="/conversations/{cid}/regenerate?csrf={carried.csrf}"' in again


def test_without_a_model_the_composer_says_how_to_add_one(
    _isolated_home: Path, wire: WireServer
) -> None:
    home = carried_home(_isolated_home, wire)
    (home / "config.toml").unlink()
    cid, path = wood(home)
    for server in start_server(home):
        with server.client() as http:
            empty = http.get(f"/conversations/{cid}/continue", params={"at": path[-1]["id"]})
            (home / "config.toml").write_text('[providers.x]\nkind = "ollama"\n')
            broken = http.get(f"/conversations/{cid}/continue", params={"at": path[-1]["id"]})
            doc = http.get("/docs/providers.md")
    assert "No model is configured yet" in empty.text and "<select" not in empty.text
    assert str(home / "config.toml") in empty.text
    assert '<a href="/docs/providers.md">docs/providers.md</a>' in empty.text
    assert "providers.x.kind is &#39;ollama&#39;" in broken.text  # the file's own error
    assert '<a href="/docs/providers.md">' in broken.text
    assert doc.status_code == 200 and "<h1>Providers, routes and the router</h1>" in doc.text


# -- refused: nothing stored, nothing sent ---------------------------------------------------


def test_a_turn_without_token_csrf_or_own_origin_is_refused_and_nothing_is_sent(
    carried: Server, wire: WireServer
) -> None:
    cid, path = wood(carried.home)
    before = message_count(carried.home)
    form = {"at": str(path[-1]["id"]), "model": "default", "prompt": "Hi"}
    url = f"/conversations/{cid}/continue"
    with httpx.Client(base_url=carried.url, timeout=30) as anonymous, carried.client() as http:
        refusals = {
            "no token": anonymous.post(url, data=form, headers={"X-CSRF-Token": carried.csrf}),
            "no csrf": http.post(url, data=form),
            "wrong csrf": http.post(url, data=form, headers={"X-CSRF-Token": "0" * 64}),
            "other origin": http.post(
                url,
                data=form,
                headers={"X-CSRF-Token": carried.csrf, "Origin": "http://evil.example"},
            ),
            "other host": http.post(
                url, data=form, headers={"X-CSRF-Token": carried.csrf, "Host": "evil.example"}
            ),
            "regenerate, no csrf": http.post(
                f"/conversations/{cid}/regenerate", data={**form, "prompt": ""}
            ),
            "stop, no csrf": http.post("/turns/anything/stop"),
        }
    assert {name: r.status_code for name, r in refusals.items()} == {
        "no token": 403,
        "no csrf": 403,
        "wrong csrf": 403,
        "other origin": 403,
        "other host": 400,
        "regenerate, no csrf": 403,
        "stop, no csrf": 403,
    }
    assert wire.requests == []
    assert message_count(carried.home) == before


@pytest.mark.parametrize(
    ("change", "status", "said"),
    [
        ({"model": "nope"}, 400, "&#39;nope&#39; is not a model reference, an alias or a route"),
        ({"model": "ghost:model-1"}, 400, "names provider &#39;ghost&#39;, which is not"),
        ({"model": ""}, 400, "no model chosen"),
        ({"at": "99999999"}, 400, "no message 99999999 in conversation"),
        ({"at": "12ab"}, 400, "at must be a message number"),
        ({"prompt": "  \n "}, 400, "the prompt is empty"),
        ({"prompt": None}, 400, "the prompt is empty"),
        ({"cid": "c0000000000000000"}, 404, "no conversation"),
        ({"regenerate": "user"}, 400, "is not an answer to a prompt"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_sent(
    carried: Server, wire: WireServer, change: dict[str, str | None], status: int, said: str
) -> None:
    cid, path = wood(carried.home)
    before = message_count(carried.home)
    form: dict[str, str | None] = {
        "at": str(path[-1]["id"]),
        "model": "default",
        "prompt": "Hi",
        **change,
    }
    action = "continue"
    if form.pop("regenerate", None):  # Regenerate on a user's message: nothing to answer again
        action, form["at"] = "regenerate", str(path[-2]["id"])
    url = f"/conversations/{form.pop('cid', None) or cid}/{action}"
    data = {k: v for k, v in form.items() if v is not None}
    headers = {"X-CSRF-Token": carried.csrf}
    with carried.client() as http:
        page = http.post(url, data=data, headers=headers)
        scripted = http.post(url, data=data, headers={**headers, "Accept": NDJSON})
    assert page.status_code == scripted.status_code == status
    assert said in page.text  # the error page
    assert page.headers["content-type"].startswith("text/html")
    assert scripted.json() == {"status": status, "error": _unescaped(said, scripted)}
    assert wire.requests == []
    assert message_count(carried.home) == before


def _unescaped(said: str, response: httpx.Response) -> str:
    text: str = response.json()["error"]
    assert said.replace("&#39;", "'") in text
    return text


def test_strings_the_carry_templates_use_indirectly_have_french() -> None:
    # _generation.html: noun(n, 'attempt', 'attempts')
    assert {"attempt", "attempts"} <= FRENCH.keys()
    assert turns_module.NDJSON == NDJSON
