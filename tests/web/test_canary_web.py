"""A canary key reaches the providers and no response of the web app: a whole session that
carries a conversation on — the composer, streamed answers, a failover from a provider whose
401 echoes the key, an answer where every provider echoes it, Regenerate, Stop, refusals, the
thread with every attempt's error, downloads and search — and not one body or header holds it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from tests.providers.servers import Script, WireServer
from tests.web.carrying import NDJSON, carried_home, wood
from tests.web.conftest import Server, start_server

ECHO = {"error": {"type": "authentication_error", "message": "Incorrect API key provided: {key}"}}


class Seen:
    """Every response the session got: status line, headers and body, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def hook(self, response: httpx.Response) -> None:
        self.texts.append(f"{response.status_code} {response.headers.multi_items()}")
        if not response.headers.get("content-type", "").startswith(NDJSON):
            self.texts.append(response.read().decode("latin-1"))

    def turn(self, http: httpx.Client, url: str, data: dict[str, str], stop: bool = False) -> str:
        """A streamed turn as the page sends it; ``stop``: Stop after its first piece."""
        headers = {"X-CSRF-Token": http.headers["x-csrf-token"], "Accept": NDJSON}
        with http.stream("POST", url, data=data, headers=headers) as response:
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                if stop and '"event":"text"' in line:
                    turn = lines[0].split('"turn":"')[1].split('"')[0]
                    http.post(f"/turns/{turn}/stop")
                    stop = False
        self.texts.append("\n".join(lines))
        return self.texts[-1]


def test_zero_hits_for_the_canary_key_in_any_response(
    _isolated_home: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"sk-freehold-canary-{secrets.token_hex(12)}"
    monkeypatch.setenv("CANARY_KEY", key)
    home = carried_home(_isolated_home, wire, key_env="CANARY_KEY")
    cid, path = wood(home)
    at = str(path[-1]["id"])
    seen = Seen()
    for server in start_server(home):
        with _client(server, seen) as http:
            _session(http, seen, cid, at, wire)
    # the key did go to the providers, so finding it nowhere below means something
    sent = " ".join(str(r.headers) for r in wire.requests)
    assert key in sent and len(wire.requests) >= 9
    assert len(seen.texts) > 25
    hits = [text[:200] for text in seen.texts if key in text or key[-16:] in text]
    assert hits == []
    everything = "\n".join(seen.texts)
    assert "primary: 401 auth: Incorrect API key provided: [key]" in everything  # echoed, cut


def _client(server: Server, seen: Seen) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        cookies={server.cookie: server.token},
        headers={"X-CSRF-Token": server.csrf},
        timeout=30,
        event_hooks={"response": [seen.hook]},
    )


def _session(http: httpx.Client, seen: Seen, cid: str, at: str, wire: WireServer) -> None:
    for page in ["/", "/conversations", f"/conversations/{cid}", "/docs/providers.md"]:
        http.get(page)
    http.get(f"/conversations/{cid}/continue", params={"at": at}, headers={"HX-Request": "1"})
    http.get(f"/conversations/{cid}/regenerate", params={"at": at})
    # the primary's 401 echoes the key; the backup answers
    wire.queue(Script(status=401, body=ECHO), Script(text="Beech."))
    first = seen.turn(http, f"/conversations/{cid}/continue", _form(at, "Which wood?"))
    answer = first.rsplit('"message_id":', 1)[1].split(",")[0]
    # every model echoes it: a failed answer whose errors are stored and shown
    wire.queue(Script(status=401, body=ECHO), Script(status=401, body=ECHO))
    seen.turn(http, f"/conversations/{cid}/continue", _form(answer, "Again?"))
    wire.queue(Script(status=401, body=ECHO), Script(text="Maple."))
    seen.turn(http, f"/conversations/{cid}/regenerate", {"at": answer, "model": "default"})
    wire.queue(Script(status=401, body=ECHO), Script(text=" ".join(["w"] * 200), gap=0.05))
    seen.turn(http, f"/conversations/{cid}/continue", _form(at, "Count."), stop=True)
    wire.queue(Script(status=401, body=ECHO), Script(status=401, body=ECHO))
    http.post(f"/conversations/{cid}/continue", data=_form(at, "No script."))  # 303 → page
    http.post(f"/conversations/{cid}/continue", data=_form(at, " "))  # refused: 400
    http.post(f"/conversations/{cid}/continue", data=_form("999999", "x"))
    http.post(f"/conversations/{cid}/continue", data=_form(at, "x"), headers={"X-CSRF-Token": ""})
    http.post("/turns/nothing/stop", headers={"Accept": "application/json"})
    for page in [
        f"/conversations/{cid}",
        f"/conversations/{cid}?at={answer}",
        f"/conversations/{cid}/download.json",
        f"/conversations/{cid}/download.md",
        "/search?q=key",
        "/search?q=Incorrect",
    ]:
        http.get(page, follow_redirects=True)


def _form(at: str, prompt: str) -> dict[str, str]:
    return {"at": at, "model": "default", "prompt": prompt}
