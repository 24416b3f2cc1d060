"""``freehold rehearse`` end to end: the sample archive, two candidates (OpenAI and Anthropic
protocols) on the loopback wire server answering by model, real wordllama similarity."""

from __future__ import annotations

import html
import re
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from rich.console import Console

from freehold.archive import open_archive
from freehold.cli import cli
from freehold.rehearse import engine, report
from freehold.rehearse.cases import original_answer
from freehold.rehearse.store import STORE_NAME
from tests.conftest import REPO
from tests.providers.servers import Script, WireServer

SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
REFUSAL = "I'm sorry, but I can't help with that."
BOTH = "a:model-a,b:model-b"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pieces(message: dict[str, Any]) -> list[str]:
    content = message["content"]
    if isinstance(content, list):
        return [block["text"] for block in content if block.get("type") == "text"]
    return [str(content)]


def _last_text(body: dict[str, Any]) -> str:
    return "\n\n".join(_pieces(body["messages"][-1]))


class Answers:
    """What each model says: ``a`` repeats the original answer, ``b`` refuses, ``j`` judges."""

    def __init__(self, originals: dict[str, list[tuple[list[str], str]]]) -> None:
        self.originals = originals  # prompt → (the prompts before it, its answer), per path
        self.by_model: dict[str, Callable[[dict[str, Any]], Script]] = {
            "model-a": lambda body: Script(text=self.original(body)),
            "model-b": lambda body: Script(text=REFUSAL),
            "model-j": self.judge,
        }

    def original(self, body: dict[str, Any]) -> str:
        """The original answer of the prompt sent (the path before it tells conversations
        holding the same prompt apart)."""
        sent = _flat(" ".join(p for m in body["messages"] for p in _pieces(m)))
        last = _flat(_last_text(body))
        fits = [
            (len(prompt), len(before), answer)
            for prompt, paths in self.originals.items()
            if prompt in last
            for before, answer in paths
            if all(b in sent for b in before)
        ]
        if fits:
            return max(fits)[2]
        return "no such prompt"

    def judge(self, body: dict[str, Any]) -> Script:
        found = re.search(
            r"--- Answer A ---\n(.*)\n\n--- Answer B ---\n(.*)\n\nWhich", _last_text(body), re.S
        )
        assert found is not None
        first, second = found.groups()
        if first == second:
            return Script(text="TIE")
        return Script(text="B" if "sorry" in first else "A")


@pytest.fixture
def answers(_isolated_home: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> Answers:
    _invoke("import", str(SAMPLE))
    originals: dict[str, list[tuple[list[str], str]]] = {}
    with open_archive() as archive:
        for conv in archive.iter_conversations():
            before: list[str] = []
            for message in conv.messages:
                if message.role == "user" and message.on_visible_path and not message.hidden:
                    answer = original_answer(conv, message)[0]
                    originals.setdefault(_flat(message.text), []).append((list(before), answer))
                    before.append(_flat(message.text))
    found = Answers(originals)

    def next_script() -> Script:  # the request that just arrived (one event loop: no race)
        body = wire.requests[-1].body
        return found.by_model[str(body["model"])](body)

    monkeypatch.setattr(wire, "next_script", next_script)
    for name, kind in (("a", "openai"), ("b", "anthropic"), ("j", "openai")):
        _invoke("providers", "add", name, "--kind", kind, "--base-url", wire.base_url(kind))
    return found


def _invoke(*args: str, code: int = 0, **env: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env or None)
    assert result.exit_code == code, result.output + repr(result.exception)
    return result


def _rehearse(*args: str, code: int = 0) -> dict[str, Any]:
    result = _invoke("rehearse", "--candidates", BOTH, "--yes", "--json", *args, code=code)
    found: dict[str, Any] = orjson.loads(result.stdout)
    return found


def test_drift_scored_against_the_original(answers: Answers, _isolated_home: Path) -> None:
    doc = _rehearse("--sample", "6")
    a, b = doc["candidates"]
    assert (a["ref"], b["ref"]) == ("a:model-a", "b:model-b")
    assert a["score"] > 90 and a["similarity"] > 0.99 and a["failed"] == 0
    assert b["score"] < 20 and b["refused"] == 6
    assert len(doc["cases"]) == 6
    for case in doc["cases"]:
        assert set(case["answers"]) == {"a:model-a", "b:model-b"}
        first = case["answers"]["a:model-a"]
        assert first["texts"] == [case["original"]] * 2  # asked twice: its own noise
        assert first["format_match"] == 1.0 and first["length_ratio"] == 1.0
        assert case["answers"]["b:model-b"]["refused"] is True
        assert case["between"]["a:model-a | b:model-b"] < 0.9
    assert a["noise"] == 0.0 and b["noise"] == 0.0  # the same answer each time


def test_worst_drift_first_and_a_self_contained_report(
    answers: Answers, _isolated_home: Path
) -> None:
    answers.by_model["model-b"] = lambda body: Script(
        text=answers.original(body) if "Rust" in _last_text(body) else REFUSAL
    )
    doc = _rehearse("--sample", "8")
    scores = [min(r["score"] for r in case["answers"].values()) for case in doc["cases"]]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    page = Path(doc["run"]["report"]).read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "default-src 'none'" in page  # nothing loads from anywhere
    assert page.count('class="answer') == 8 * 3  # the original and both candidates, side by side
    first = doc["cases"][0]
    assert page.index(f'id="case-{first["position"] + 1}"') < page.index(
        f'id="case-{doc["cases"][-1]["position"] + 1}"'
    )


def test_runs_are_kept_apart_from_the_history(answers: Answers, _isolated_home: Path) -> None:
    before = orjson.loads(_invoke("stats", "--json").stdout)
    doc = _rehearse("--sample", "3")
    assert orjson.loads(_invoke("stats", "--json").stdout) == before
    db = sqlite3.connect(_isolated_home / STORE_NAME)
    assert db.execute("SELECT id, finished_at IS NOT NULL FROM runs").fetchall() == [
        (doc["run"]["id"], 1)
    ]
    assert db.execute("SELECT count(*) FROM answers").fetchone()[0] == 3 * 2 * 2
    assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 3 * 2


def test_the_path_up_to_the_prompt_is_sent(answers: Answers, wire: WireServer) -> None:
    with open_archive() as archive:
        conv = next(c for c in archive.iter_conversations() if c.title == "Rust lifetimes basics")
    prompts = [m for m in conv.messages if m.role == "user" and m.on_visible_path]
    third = prompts[2]
    _rehearse("--pin", f"{conv.id}:{third.id}", "--sample", "1", "--repeats", "1")
    sent = wire.requests[0].body["messages"]
    assert _flat(_last_text(wire.requests[0].body)) == _flat(third.text)
    assert _flat(prompts[0].text) in _flat(str(sent))
    assert [m["role"] for m in sent][:2] == ["user", "assistant"]


def test_the_cost_is_shown_and_nothing_is_sent_without_yes(
    answers: Answers, wire: WireServer, _isolated_home: Path
) -> None:
    (_isolated_home / "model-lifecycle.toml").write_text(
        '[[model]]\nvendor = "a"\nid = "model-a"\nprice_input = 1.0\nprice_output = 2.0\n'
        'source = "https://example.test/prices"\nchecked = 2026-12-01\n'
    )
    result = _invoke("rehearse", "--candidates", BOTH, "--sample", "4", code=2)
    assert "add --yes" in result.output
    assert "16 requests to send, 0 already answered" in result.output
    assert "b:model-b (no price known" in result.output
    assert wire.requests == []
    estimate = _rehearse("--sample", "4")["run"]["estimate"]
    half_in, half_out = estimate["tokens_in"] / 2, estimate["tokens_out"] / 2  # a's share
    assert estimate["cost_usd"] == pytest.approx((half_in * 1.0 + half_out * 2.0) / 1e6, rel=0.3)
    assert estimate["cost_usd"] > 0


def test_a_failed_candidate_is_asked_again_the_rest_is_cached(
    answers: Answers, wire: WireServer
) -> None:
    answers.by_model["model-b"] = lambda body: Script(status=400, body={"error": {"message": "no"}})
    first = _rehearse("--sample", "3")
    assert first["candidates"][1]["failed"] == 3 and first["candidates"][1]["score"] == 0
    assert len(wire.requests) == 12
    answers.by_model["model-b"] = lambda body: Script(text=REFUSAL)
    wire.requests.clear()
    again = _rehearse("--sample", "3")
    assert {r.body["model"] for r in wire.requests} == {"model-b"} and len(wire.requests) == 6
    assert again["candidates"][1]["failed"] == 0 and again["candidates"][1]["refused"] == 3


def test_an_empty_answer_is_asked_again(answers: Answers, wire: WireServer) -> None:
    """Review R6-5a: a complete reply with no text scored as failed, but the cache reused
    every reply not failed, so it was never asked again (a scheduled run under --fail-under
    failed for ever) while the run said "they are asked again on the next run"."""
    answers.by_model["model-b"] = lambda body: Script(text="")
    first = _rehearse("--sample", "2")
    assert first["candidates"][1]["failed_answers"] == 4 and first["candidates"][1]["score"] == 0
    answers.by_model["model-b"] = lambda body: Script(text=REFUSAL)
    wire.requests.clear()
    again = _rehearse("--sample", "2")
    assert {r.body["model"] for r in wire.requests} == {"model-b"} and len(wire.requests) == 4
    assert again["candidates"][1]["failed_answers"] == 0 and again["candidates"][1]["refused"] == 2


def test_failed_answers_are_counted_and_lower_the_score_tokens_over_those_that_answered(
    answers: Answers, _isolated_home: Path
) -> None:
    count = iter(range(1000))
    refused = Script(status=401, body={"error": {"type": "authentication_error", "message": "x"}})
    answers.by_model["model-a"] = lambda body: (
        refused if next(count) % 2 else Script(text=answers.original(body), usage=(12, 7))
    )
    args = ("--candidates", "a:model-a", "--yes", "--sample", "4", "--concurrency", "1")
    ran = _invoke("rehearse", *args, "--json")
    doc = orjson.loads(ran.stdout)
    (a,) = doc["candidates"]
    assert (a["asked"], a["failed_answers"]) == (8, 4)
    assert (a["tokens_in"], a["tokens_out"]) == (4 * 12, 4 * 7)  # the four that answered
    assert 40 < a["score"] <= 50  # half its answers failed: each of those scores 0
    for case in doc["cases"]:
        result = case["answers"]["a:model-a"]
        assert result["asked"] == 2 and result["failed_answers"] == sum(
            1 for e in result["errors"] if "401 auth" in e
        )
    page = Path(doc["run"]["report"]).read_text()
    assert "4 of 8" in page and "answers failed" in page
    table = Console(record=True, width=200)
    for part in report.tables(doc):
        table.print(part)
    assert "4 of 8" in table.export_text()
    assert "a:model-a: 4 of 8 answers failed" in " ".join(ran.stderr.split())


def test_a_candidate_that_never_answered_has_no_latency(
    answers: Answers, _isolated_home: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    _invoke("providers", "add", "dn", "--kind", "openai", "--base-url", down)
    shown = ("rehearse", "--candidates", "a:model-a,dn:model-x", "--yes", "--sample", "2")
    result = _invoke(*shown, COLUMNS="200")
    doc = orjson.loads(
        _invoke(
            "rehearse", "--candidates", "a:model-a,dn:model-x", "--yes", "--sample", "2", "--json"
        ).stdout
    )
    a, dn = doc["candidates"]
    assert a["latency_ms"] is not None and dn["latency_ms"] is None
    assert all(c["answers"]["dn:model-x"]["latency_ms"] is None for c in doc["cases"])
    assert dn["failed_answers"] == dn["asked"] == 4 and dn["tokens_in"] is None
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ dn:model-x"))
    assert " 0 ms" not in row and "—" in row


def test_a_run_cut_short_goes_on_where_it_stopped(
    answers: Answers, wire: WireServer, monkeypatch: pytest.MonkeyPatch, _isolated_home: Path
) -> None:
    real = engine._answer
    done: list[str] = []

    def cut_after_five(plan: Any, store: Any, task: Any) -> Any:
        if len(done) >= 5:
            raise KeyboardInterrupt
        done.append(task.key)
        return real(plan, store, task)

    monkeypatch.setattr(engine, "_answer", cut_after_five)
    _invoke(
        "rehearse", "--candidates", BOTH, "--yes", "--sample", "4", "--concurrency", "1", code=130
    )  # Ctrl-C: 130, as for every command (probe M, item 5)
    assert len(wire.requests) == 5
    monkeypatch.setattr(engine, "_answer", real)
    wire.requests.clear()
    doc = _rehearse("--sample", "4", "--concurrency", "1")
    assert len(wire.requests) == 16 - 5
    db = sqlite3.connect(_isolated_home / STORE_NAME)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # the same run, finished
    assert doc["candidates"][0]["failed"] == 0


def test_a_model_that_varies_has_noise_and_drift_is_read_against_it(
    answers: Answers,
) -> None:
    count = iter(range(1000))
    answers.by_model["model-b"] = lambda body: Script(
        text=answers.original(body) + (" Also, tea." if next(count) % 2 else " Also, coffee.")
    )
    b = _rehearse("--sample", "4")["candidates"][1]
    assert 0 < b["noise"] < 0.1
    assert b["score"] > 80


def test_the_judge_votes_twice_positions_swapped(answers: Answers, wire: WireServer) -> None:
    doc = _rehearse("--sample", "3", "--judge", "j:model-j")
    a, b = doc["candidates"]
    assert a["judge"] == {"better": 0, "worse": 0, "same": 3, "split": 0, "unclear": 0}
    assert b["judge"] == {"better": 0, "worse": 3, "same": 0, "split": 0, "unclear": 0}
    votes = [r for r in wire.requests if r.body["model"] == "model-j"]
    assert len(votes) == 3 * 2 * 2
    answers.by_model["model-k"] = lambda body: Script(text="A")  # always the first: biased
    doc = _rehearse("--sample", "3", "--judge", "j:model-k")
    assert doc["candidates"][1]["judge"] == {
        "better": 0,
        "worse": 0,
        "same": 0,
        "split": 3,
        "unclear": 0,
    }
    assert doc["cases"][0]["answers"]["b:model-b"]["judge"]["votes"] == ["original", "candidate"]


@pytest.mark.parametrize(
    ("reply", "word"),
    [
        ("VERDICT: B", "B"),
        ("Verdict: tie", "tie"),
        ("B", "B"),
        ("**A**", "A"),
        ("Answer B", "B"),
        ("Answer: TIE", "tie"),
        ("Assistant B is better", "B"),
        ("Response A is better than response B.", "A"),
        ("Answer A is worse than Answer B", "B"),
        ("Both are equally good", "tie"),
        ("B is better.", "B"),
        ("A better answer would cite sources.", "unclear"),
        ("I cannot judge these.", "unclear"),
        ("Answer A, no wait, Answer B", "unclear"),
        ("", "unclear"),
        ("Option B.", "B"),
        ("B wins", "B"),
        ("Answer A is slightly better.", "A"),
        # naming an answer is no vote for it (review R2): only a reply that is the name alone is
        ("Answer A is wrong.", "unclear"),
        ("Answer A contains a factual error.", "unclear"),
        ("Response A fails to answer the question.", "unclear"),
        ("Answer A is incorrect because it ignores the", "unclear"),  # cut at 16 tokens
        ("B is less accurate than A", "unclear"),
        ("Answer A is not better than B", "unclear"),
        ("To decide, compare Answer A with", "unclear"),
        # a comparison whose subject is negated or one of two is no vote for it (probe R 4)
        ("Neither A nor B is better.", "tie"),
        ("Neither A nor B is better; they are equal.", "tie"),
        ("Neither answer A nor answer B is worse.", "tie"),
        ("Not A, B is better.", "B"),
    ],
)
def test_the_judges_verdict_is_read_as_written(reply: str, word: str) -> None:
    assert engine.verdict_word(reply) == word


def test_a_judge_that_writes_sentences_is_read_and_an_unclear_vote_is_no_vote(
    answers: Answers, wire: WireServer
) -> None:
    def wordy(body: dict[str, Any]) -> Script:  # the better answer, said as a sentence
        found = re.search(r"--- Answer B ---\n(.*)\n\nWhich", _last_text(body), re.S)
        assert found is not None
        return Script(text="Answer A" if "sorry" in found.group(1) else "Assistant B is better")

    answers.by_model["model-w"] = wordy
    doc = _rehearse("--sample", "2", "--judge", "j:model-w")
    b = doc["candidates"][1]
    assert b["judge"] == {"better": 0, "worse": 2, "same": 0, "split": 0, "unclear": 0}
    judged = [r for r in wire.requests if r.body["model"] == "model-w"]
    assert "VERDICT: A" in str(judged[0].body)  # the judge is asked for a strict format
    answers.by_model["model-u"] = lambda body: Script(text="Hard to say.")
    doc = _rehearse("--sample", "2", "--judge", "j:model-u")
    b = doc["candidates"][1]
    assert b["judge"] == {"better": 0, "worse": 0, "same": 0, "split": 0, "unclear": 2}
    assert doc["cases"][0]["answers"]["b:model-b"]["judge"]["votes"] == ["unclear", "unclear"]


def test_a_failing_candidate_does_not_open_the_circuit_of_another_on_its_provider(
    answers: Answers, wire: WireServer
) -> None:
    answers.by_model["model-fail"] = lambda body: Script(
        status=500, body={"error": {"message": "down"}}, headers={"Retry-After": "0"}
    )
    result = _invoke(
        "rehearse",
        "--candidates",
        "a:model-fail,a:model-a",
        "--sample",
        "2",
        "--concurrency",
        "1",
        "--yes",
        "--json",
    )
    doc = orjson.loads(result.stdout)
    failing, healthy = doc["candidates"]
    assert failing["failed"] == 2 and healthy["failed"] == 0 and healthy["score"] > 90
    asked = [r.body["model"] for r in wire.requests]
    # the failing model's own circuit opened (it was not asked on every try), the other's not
    assert asked.count("model-fail") == 3 and asked.count("model-a") == 4


def test_a_profile_with_flags_is_worn_unattended_with_keep_flagged_or_strike_all(
    answers: Answers, wire: WireServer
) -> None:
    from freehold import profiles

    profiles.save_text("sec", "## About the user\n\nMail me: sam.jones@example.org\n", where="t")
    base = ("rehearse", "--candidates", "a:model-a", "--sample", "1", "--profile", "sec", "--yes")
    # --yes consents to spending only: sending personal data to every candidate and the judge
    # is a consent of its own (review R2)
    refused = _invoke(*base, code=1)
    assert "not reviewed" in refused.stderr and wire.requests == []
    # the advice is true: this command takes --keep-flagged and --strike-all
    assert "pass --keep-flagged (keep all) or --strike-all" in " ".join(refused.stderr.split())
    _invoke(*base, "--keep-flagged")
    assert "sam.jones@example.org" in str(wire.requests[-1].body)
    _invoke(*base, "--strike-all")
    assert "[struck: e-mail address]" in str(wire.requests[-1].body)
    assert "sam.jones@example.org" not in str(wire.requests[-1].body)
    both = _invoke(*base, "--keep-flagged", "--strike-all", code=2)
    assert "give --keep-flagged or --strike-all, not both" in both.stderr
    # --keep-flagged and --strike-all held for their run only: nothing was remembered
    assert profiles.review(profiles.load_profile("sec")).pending


def test_fail_under_for_scheduled_runs(answers: Answers) -> None:
    result = _invoke(
        "rehearse", "--candidates", BOTH, "--yes", "--sample", "3", "--fail-under", "50", code=1
    )
    assert "b:model-b:" in result.stderr and "under --fail-under 50" in result.stderr
    assert "worst drift first" in result.stdout
    _invoke("rehearse", "--candidates", "a:model-a", "--yes", "--sample", "3", "--fail-under", "50")


def test_concurrency_is_bounded(answers: Answers, monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine._answer
    lock, inside, most = threading.Lock(), [0], [0]
    together = threading.Barrier(2, timeout=30)  # passes only when two answers are in flight

    def counted(plan: Any, store: Any, task: Any) -> Any:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            if task.repeat == 0 and task.position == 0:
                together.wait()
            if task.repeat == 1 and task.position == 0:
                together.wait()
            return real(plan, store, task)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(engine, "_answer", counted)
    _rehearse("--sample", "4", "--concurrency", "2")
    assert most[0] == 2


def test_a_profile_is_worn_where_profiles_exist(
    answers: Answers, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _invoke("rehearse", "--candidates", BOTH, "--yes", "--profile", "work", code=1)
    assert "no profile named 'work'" in result.output
    _invoke("profile", "create", "work")
    worn = _invoke("profile", "show", "work", "--system").stdout.strip()
    assert worn
    _rehearse("--profile", "work", "--sample", "1", "--repeats", "1")
    openai_body = next(r.body for r in wire.requests if r.body["model"] == "model-a")
    anthropic_body = next(r.body for r in wire.requests if r.body["model"] == "model-b")
    assert openai_body["messages"][0]["content"].startswith(worn[:200])
    assert worn[:200] in str(anthropic_body["system"])


def test_a_candidate_is_one_model(answers: Answers, _isolated_home: Path) -> None:
    with (_isolated_home / "config.toml").open("a") as config:
        config.write('\n[routes.both]\nmodels = ["a:model-a", "b:model-b"]\n')
    result = _invoke("rehearse", "--candidates", "both", "--yes", code=1)
    assert "is a route — a candidate is one model" in result.output
    result = _invoke("rehearse", "--candidates", "a:model-a,a:model-a", "--yes", code=1)
    assert "named twice" in result.output


def test_the_web_app_lists_runs_and_shows_one(answers: Answers, _isolated_home: Path) -> None:
    from tests.web.conftest import start_server

    hostile = "<script>alert(1)</script> **bold** <img src=x onerror=alert(2)>"
    answers.by_model["model-b"] = lambda body: Script(text=hostile)
    doc = _rehearse("--sample", "3")
    for server in start_server(_isolated_home):
        with server.client() as client:
            listing = client.get("/rehearsals")
            assert listing.status_code == 200
            assert f'<a href="/rehearsals/{doc["run"]["id"]}">' in listing.text
            assert "a:model-a: <strong>" in listing.text
            one = client.get(f"/rehearsals/{doc['run']['id']}")
            assert one.status_code == 200
            assert one.text.count('class="rehearsal-case"') == 3
            assert "<strong>bold</strong>" in one.text  # Markdown rendered…
            assert "<script>alert" not in one.text and "<img src=x" not in one.text  # …cleaned
            assert "&lt;img src=x onerror=alert(2)&gt;" in one.text  # shown as text
            first = doc["cases"][0]
            assert f"/conversations/{first['conversation_id']}?at={first['message_id']}" in one.text
            assert client.get("/rehearsals/99").status_code == 404
            french = client.get("/rehearsals", headers={"accept-language": "fr"})
            assert "Répétitions" in french.text


def test_the_web_page_counts_failed_answers_of_asked(
    answers: Answers, _isolated_home: Path
) -> None:
    """Review R6-5b: the page's "Failed" column showed the prompts with no answer at all,
    where the table and the HTML report say "answers failed 4 of 8"."""
    from tests.web.conftest import start_server

    count = iter(range(1000))
    refused = Script(status=401, body={"error": {"type": "authentication_error", "message": "x"}})
    answers.by_model["model-a"] = lambda body: (
        refused if next(count) % 2 else Script(text=answers.original(body))
    )
    args = ("rehearse", "--candidates", "a:model-a", "--yes", "--sample", "4", "--json")
    doc = orjson.loads(_invoke(*args, "--concurrency", "1").stdout)
    assert (doc["candidates"][0]["failed"], doc["candidates"][0]["failed_answers"]) == (0, 4)
    for server in start_server(_isolated_home):
        with server.client() as client:
            one = client.get(f"/rehearsals/{doc['run']['id']}")
            french = client.get(
                f"/rehearsals/{doc['run']['id']}", headers={"accept-language": "fr"}
            )
    row = re.search(r"<tr><td>a:model-a</td>(.*?)</tr>", one.text)
    assert row is not None and row[1].endswith("<td>4 of 8</td>"), row
    assert "<th>Answers failed</th>" in one.text
    assert "<th>Réponses échouées</th>" in french.text and "<td>4 sur 8</td>" in french.text


def test_the_runs_page_counts_the_prompts_rehearsed(answers: Answers, _isolated_home: Path) -> None:
    """Probe V, item 2: the list's "Prompts" column showed the --sample asked for (1000), not the
    prompts the run rehearsed (the archive held fewer)."""
    from tests.web.conftest import start_server

    args = ("rehearse", "--candidates", "a:model-a", "--yes", "--sample", "1000", "--json")
    doc = orjson.loads(_invoke(*args).stdout)
    rehearsed = len(doc["cases"])
    assert 0 < rehearsed < 1000
    assert doc["run"]["cases"] == rehearsed
    for server in start_server(_isolated_home):
        with server.client() as client:
            listing = client.get("/rehearsals").text
    row = re.search(rf'<a href="/rehearsals/{doc["run"]["id"]}">.*?</tr>', listing, re.S)
    assert row is not None and f"<td>{rehearsed}</td>" in row.group(), listing
    assert "<td>1000</td>" not in row.group()


def test_an_empty_answer_is_labelled_empty_and_the_page_says_why_answers_failed(
    answers: Answers, _isolated_home: Path
) -> None:
    """Probe V, item 3: an answer that came back complete but empty scored as failed (the
    one rule, ``Reply.usable``) yet was labelled "complete"; the web page showed neither a
    prompt's failed answers nor their errors, which the HTML report shows."""
    from tests.web.conftest import start_server

    count = iter(range(1000))
    refused = Script(status=401, body={"error": {"type": "authentication_error", "message": "x"}})
    answers.by_model["model-a"] = lambda body: refused if next(count) % 2 else Script(text="")
    args = ("rehearse", "--candidates", "a:model-a", "--yes", "--sample", "1", "--json")
    doc = orjson.loads(_invoke(*args, "--concurrency", "1").stdout)
    answer = doc["cases"][0]["answers"]["a:model-a"]
    assert answer["status"] == "empty"  # the first reply: complete, no text
    assert (answer["failed_answers"], answer["asked"]) == (2, 2) and answer["errors"]
    for server in start_server(_isolated_home):
        with server.client() as client:
            one = client.get(f"/rehearsals/{doc['run']['id']}").text
            french = client.get(
                f"/rehearsals/{doc['run']['id']}", headers={"accept-language": "fr"}
            ).text
    case = re.search(r'<section class="rehearsal-case".*?</section>', one, re.S)
    assert case is not None
    said = _flat(case.group())
    assert "empty answer" in said and "Answers failed 2 of 2" in said, said
    assert html.escape(answer["errors"][0], quote=False) in case.group()
    assert "réponse vide" in french and "Réponses échouées 2 sur 2" in _flat(french)


def test_no_rehearsal_yet_creates_nothing(answers: Answers, _isolated_home: Path) -> None:
    from tests.web.conftest import start_server

    for server in start_server(_isolated_home):
        with server.client() as client:
            assert "No rehearsal yet." in client.get("/rehearsals").text
    assert not (_isolated_home / STORE_NAME).exists()


def test_narrowed_by_query_or_conversation(answers: Answers) -> None:
    with open_archive() as archive:
        conv = next(c for c in archive.iter_conversations() if c.title == "Rust lifetimes basics")
    doc = _rehearse("--conversation", conv.id, "--sample", "20", "--repeats", "1")
    assert {case["conversation_id"] for case in doc["cases"]} == {conv.id}
    doc = _rehearse("--query", "lifetimes", "--sample", "3", "--repeats", "1")
    assert all("lifetime" in case["prompt"].lower() for case in doc["cases"])
    result = _invoke("rehearse", "--candidates", BOTH, "--yes", "--query", "zyzzyva", code=1)
    assert "no past prompt with an answer to rehearse matches those filters" in result.output
