"""``freehold break-test`` end to end with real parts: two providers on the loopback wire
server (OpenAI and Anthropic protocols), the sample archive, an age identity, real backups to
two local folder destinations, real drills and exports.

It fails when a route has no fallback and when the only destination holding a backup is
lost; it passes when there is a fallback; the lost provider is never contacted; without the
passphrase the drills are skipped and the backups are not proven."""

from __future__ import annotations

import json
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pytest_socket import SocketBlockedError, disable_socket, enable_socket

from freehold import breaktest
from freehold.backup import crypto, settings
from freehold.cli import cli
from freehold.config import load_config
from tests.providers.servers import Script, WireServer

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class Template:
    home: Path  # the sample archive and backup/identity.age, made once
    recipient: str


def run(*args: str, passphrase: bool = True) -> Result:
    env = {crypto.PASSPHRASE_VARIABLE: PASSPHRASE if passphrase else None}
    return CliRunner().invoke(cli, list(args), env=env, terminal_width=200)


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The sample imported and an identity made once (scrypt takes a second each time)."""
    home = tmp_path_factory.mktemp("break-test") / "home"
    imported = CliRunner().invoke(cli, ["import", str(SAMPLE)], env={"FREEHOLD_HOME": str(home)})
    assert imported.exit_code == 0, imported.output
    identity = crypto.create_identity(home, PASSPHRASE)
    return Template(home, str(identity.to_public()))


@pytest.fixture
def home(_isolated_home: Path, template: Template) -> Path:
    shutil.copytree(template.home, _isolated_home)
    settings.set_value(_isolated_home, "recipients", [template.recipient])
    settings.set_value(_isolated_home, "kit_saved", "2026-12-06T09:00:00+00:00")
    return _isolated_home


def configure(home: Path, wire: WireServer, *routes: str) -> None:
    """alpha (OpenAI protocol) and beta (Anthropic protocol) on the wire server, an alias to
    alpha, and ``routes`` as TOML lines."""
    text = (
        f'[providers.alpha]\nkind = "openai"\nbase_url = "{wire.base_url("openai")}"\n'
        f'[providers.beta]\nkind = "anthropic"\nbase_url = "{wire.base_url("anthropic")}"\n'
        '[aliases]\nfast = "alpha:model-a"\n' + "".join(f"{line}\n" for line in routes)
    )
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(text)


FALLBACK = '[routes.default]\nmodels = ["alpha:model-a", "beta:model-b-20250101"]'
SOLO = '[routes.solo]\nmodels = ["fast"]'


def destinations(home: Path, tmp_path: Path, *backed_up: str) -> None:
    """usb and spare, two local folders; a real backup run to those in ``backed_up``."""
    ok("backup", "add", "usb", str(tmp_path / "usb"))
    ok("backup", "add", "spare", str(tmp_path / "spare"))
    for name in backed_up:
        ok("backup", "run", "--to", name)


def break_test(*args: str, passphrase: bool = True) -> tuple[int, dict[str, Any]]:
    result = run("break-test", "--yes", "--json", *args, passphrase=passphrase)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def checks(report: dict[str, Any], kind: str, name: str) -> dict[str, tuple[str, str]]:
    """``{"routes default": (status, reason), …}`` for the loss of ``name``."""
    loss = next(x for x in report["losses"] if (x["kind"], x["name"]) == (kind, name))
    return {
        f"{c['check']} {c['subject']}".strip(): (c["status"], c["reason"]) for c in loss["checks"]
    }


def test_with_a_fallback_every_loss_leaves_everything_working(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    code, report = break_test()
    assert code == 0 and report["ok"] and report["proven"], json.dumps(report, indent=1)
    assert [(x["kind"], x["name"]) for x in report["losses"]] == [
        ("provider", "alpha"),
        ("provider", "beta"),
        ("destination", "usb"),
        ("destination", "spare"),
    ]
    alpha = checks(report, "provider", "alpha")
    assert alpha["routes default"] == (
        "pass",
        "answers through beta:model-b-20250101 (failed over: alpha refused)",
    )
    assert alpha["profiles"] == ("pass", "no profiles (freehold profile create)")
    assert alpha["history"][0] == "pass" and "no network used" in alpha["history"][1]
    assert alpha["backups usb"][0] == alpha["backups spare"][0] == "pass"
    assert "conversations as live" in alpha["backups usb"][1]
    assert alpha["exits"] == ("pass", "the exit plan is empty (freehold exits add PLATFORM)")
    assert checks(report, "provider", "beta")["routes default"] == (
        "pass",
        "answers through alpha:model-a",
    )
    usb = checks(report, "destination", "usb")
    assert "backups usb" not in usb and usb["backups spare"][0] == "pass"
    # alpha lost: beta answers; beta lost: alpha; no provider lost: alpha, asked once and
    # shared by both destination losses
    assert [seen.protocol for seen in wire.requests] == ["anthropic", "openai", "openai"]


def test_the_lost_provider_is_refused_by_the_router_and_never_contacted(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    wire.queue(Script(text="OK"))
    code, report = break_test("--provider", "alpha")
    assert code == 0, report
    assert [(x["kind"], x["name"]) for x in report["losses"]] == [("provider", "alpha")]
    assert [seen.protocol for seen in wire.requests] == ["anthropic"]
    sent = wire.requests[0].body
    assert sent["messages"] == [{"role": "user", "content": breaktest.PROMPT}]
    assert sent["max_tokens"] <= 32


def test_a_route_without_a_fallback_fails_and_says_what_to_do(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    configure(home, wire, FALLBACK, SOLO)
    destinations(home, tmp_path, "usb", "spare")
    code, report = break_test("--provider", "alpha")
    assert code == 1 and not report["ok"]
    found = checks(report, "provider", "alpha")
    assert found["routes default"][0] == "pass"
    status, reason = found["routes solo"]
    assert status == "fail"
    assert reason.startswith("every model of route solo is on alpha — add a second provider")
    assert "[routes.solo]" in reason
    notes = report["losses"][0]["notes"]
    assert notes == [
        "alias fast → alpha:model-a is on alpha only: `-m fast` has no fallback — "
        "name a route instead"
    ]
    assert {seen.protocol for seen in wire.requests} == {"anthropic"}  # solo sent nothing


def test_a_fallback_that_does_not_answer_is_no_fallback(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    error = {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
    wire.queue(Script(status=401, body=error))
    code, report = break_test("--provider", "alpha")
    assert code == 1
    status, reason = checks(report, "provider", "alpha")["routes default"]
    assert status == "fail"
    assert reason == (
        "no model of route default answered: alpha: refused — the break test simulates its "
        "loss; beta: 401 auth: bad key"
    )


def test_the_scorecard_in_words(home: Path, tmp_path: Path, wire: WireServer) -> None:
    configure(home, wire, FALLBACK, SOLO)
    destinations(home, tmp_path, "usb", "spare")
    result = run("break-test", "--yes", "--provider", "alpha")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "If provider alpha vanished tomorrow: 1 of 7 checks FAIL"
    assert "  ✓ route default: answers through beta:model-b-20250101 (failed over: alpha " in (
        result.stdout
    )
    assert any(
        line.startswith("  ✗ route solo: every model of route solo is on alpha") for line in lines
    )
    assert any(line.startswith("  ✓ backup from usb: restores (snapshot ") for line in lines)
    assert any(line.startswith("  ! alias fast → alpha:model-a") for line in lines)
    assert lines[-1] == "break test FAILED — 1 of 1 loss breaks something"


def test_losing_the_only_destination_that_holds_a_backup_fails(home: Path, tmp_path: Path) -> None:
    destinations(home, tmp_path, "usb")  # spare was added, never written to
    code, report = break_test("--destination", "usb")
    assert code == 1
    found = checks(report, "destination", "usb")
    assert found["backups spare"][0] == "fail"
    assert "no snapshot there yet" in found["backups spare"][1]
    assert "backups usb" not in found  # the lost one is not drilled
    assert found["routes"] == ("pass", "no route in config.toml")
    code, report = break_test("--destination", "spare")
    assert code == 0 and report["proven"]
    assert checks(report, "destination", "spare")["backups usb"][0] == "pass"


def test_one_destination_alone_has_nothing_to_restore_from_once_lost(
    home: Path, tmp_path: Path
) -> None:
    ok("backup", "add", "usb", str(tmp_path / "usb"))
    ok("backup", "run")
    code, report = break_test()
    assert code == 1
    assert checks(report, "destination", "usb")["backups"] == (
        "fail",
        "no other backup destination: nothing to restore from — add one "
        "(freehold backup add NAME URL)",
    )


def test_without_the_passphrase_the_backups_are_skipped_not_proven(
    home: Path, tmp_path: Path
) -> None:
    destinations(home, tmp_path, "usb", "spare")
    code, report = break_test("--destination", "spare", passphrase=False)
    assert code == 0  # nothing failed…
    assert report["ok"] and not report["proven"]  # …and nothing about the backups is proven
    status, reason = checks(report, "destination", "spare")["backups usb"]
    assert status == "skipped"
    assert reason.startswith("skipped, not proven: a drill decrypts and no passphrase was given")
    words = run("break-test", "--yes", "--destination", "spare", passphrase=False).stdout
    assert "  ? backup from usb: skipped, not proven" in words
    assert "not everything was proven" in words


def test_a_passphrase_file_opens_the_drills(home: Path, tmp_path: Path) -> None:
    destinations(home, tmp_path, "usb", "spare")
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    result = run(
        "break-test",
        "--yes",
        "--json",
        "--destination",
        "spare",
        "--passphrase-file",
        str(secret),
        passphrase=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["proven"]


def test_a_wrong_passphrase_fails_the_backups(home: Path, tmp_path: Path) -> None:
    destinations(home, tmp_path, "usb", "spare")
    secret = tmp_path / "passphrase"
    secret.write_text("not it")
    result = run(
        "break-test", "--yes", "--json", "--destination", "spare", "--passphrase-file", str(secret)
    )
    assert result.exit_code == 1
    status, reason = checks(json.loads(result.stdout), "destination", "spare")["backups usb"]
    assert status == "fail" and reason.startswith("wrong passphrase for the backup identity")


def test_an_overdue_exit_plan_export_fails(home: Path, tmp_path: Path) -> None:
    destinations(home, tmp_path, "usb", "spare")
    ok("exits", "add", "stripe")
    code, report = break_test("--destination", "spare")
    assert code == 1
    assert checks(report, "destination", "spare")["exits"] == (
        "fail",
        "overdue: Stripe (never exported) — freehold exits status says where",
    )


def test_an_exit_plan_export_that_failed_its_import_is_not_a_fresh_export(
    _isolated_home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "chatgpt-export.zip"
    bad.write_text("not a zip")
    assert run("exits", "record", "chatgpt", str(bad)).exit_code == 1  # kept, not imported
    check = breaktest.exits_check(_isolated_home)
    assert (check.status, check.reason) == (
        "fail",
        "overdue: ChatGPT (no usable export); newest export not usable: ChatGPT "
        "(chatgpt-export.zip) — freehold exits status says where",
    )


def test_the_result_is_kept_private_as_the_last_one(home: Path, tmp_path: Path) -> None:
    destinations(home, tmp_path, "usb", "spare")
    _, report = break_test("--destination", "spare")
    kept = home / "break-test" / "last.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert json.loads(kept.read_text()) == report
    last = breaktest.last(home)
    assert last is not None and last.to_json() == report


def test_unknown_names_are_refused_in_one_line(home: Path, wire: WireServer) -> None:
    configure(home, wire, FALLBACK)
    result = run("break-test", "--yes", "--provider", "gamma")
    assert result.exit_code == 1
    assert "no provider 'gamma' (there are: alpha, beta) — freehold providers names them" in (
        result.output
    )
    result = run("break-test", "--yes", "--destination", "nas")
    assert "no backup destination 'nas' (there are: none)" in result.output
    assert not (home / "break-test").exists()


def test_it_asks_before_spending_and_stops_on_no(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    result = CliRunner().invoke(cli, ["break-test", "--provider", "alpha"], input="n\n")
    assert result.exit_code == 1
    assert (
        "The break test will send 1 tiny request to your providers and restore the latest "
        "backup of 2 destinations into a scratch folder. Go on?"
    ) in result.output
    assert wire.requests == [] and not (home / "break-test").exists()


def test_nothing_configured_is_nothing_proven(home: Path) -> None:
    code, report = break_test()
    assert code == 1 and report["losses"] == []
    assert report["problems"][0].startswith("nothing to lose: no provider")


def test_the_history_is_searched_and_exported_with_the_network_refused(home: Path) -> None:
    disable_socket()  # pytest-socket: any socket made in this process now raises
    try:
        with pytest.warns(UserWarning), pytest.raises(SocketBlockedError):
            socket.socket()  # the guard is on
        check = breaktest.history_check(home)
    finally:
        enable_socket()
    assert check.status == breaktest.PASS, check.reason
    assert (
        check.reason.startswith("searching '") and "exported as JSON and Markdown" in check.reason
    )


def test_without_providers_the_whole_test_runs_offline(home: Path, tmp_path: Path) -> None:
    destinations(home, tmp_path, "usb", "spare")
    test = breaktest.BreakTest(home, load_config(home), passphrase=PASSPHRASE)
    assert (test.requests(), test.drills()) == (0, 2)
    disable_socket()
    try:
        result = test.run()
    finally:
        enable_socket()
    assert result.ok and result.proven, result.to_json()


def test_an_empty_archive_has_no_history_to_prove(_isolated_home: Path) -> None:
    assert breaktest.history_check(_isolated_home) == breaktest.Check(
        "history",
        "",
        breaktest.SKIPPED,
        f"no archive in {_isolated_home} yet — freehold import EXPORT",
    )


def _chats(path: Path, *chats: tuple[str, int, str]) -> Path:
    """A ChatGPT conversations.json: (title, update time, the user's one message) each."""
    conversations = []
    for n, (title, when, text) in enumerate(chats):
        message = {
            "id": f"m{n}",
            "author": {"role": "user"},
            "create_time": when,
            "content": {"content_type": "text", "parts": [text]},
            "metadata": {},
        }
        mapping = {
            "r": {"id": "r", "message": None, "parent": None, "children": [f"m{n}"]},
            f"m{n}": {"id": f"m{n}", "parent": "r", "children": [], "message": message},
        }
        conversations.append(
            {
                "id": f"c{n}",
                "title": title,
                "create_time": when,
                "update_time": when,
                "current_node": f"m{n}",
                "mapping": mapping,
            }
        )
    path.write_text(json.dumps(conversations), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("chats", "status", "reason"),
    [
        (  # the newest has no word of 4 letters: the newest that has one is searched
            [("Greeting", 1_700_000_900, "hi"), ("Tides", 1_700_000_000, "Spring tides")],
            breaktest.PASS,
            "searching 'Spring' finds 'Tides'",
        ),
        (  # none has one: the newest with any word
            [("Greeting", 1_700_000_900, "hi"), ("Reply", 1_700_000_000, "ok")],
            breaktest.PASS,
            "searching 'hi' finds 'Greeting'",
        ),
        (  # nothing to search for at all: not proven, not failed
            [("Thumbs", 1_700_000_900, "👍 👍"), ("Sum", 1_700_000_000, "12 + 30 = 42")],
            breaktest.SKIPPED,
            "the archive holds no word to search for (no conversation has text)",
        ),
    ],
)
def test_the_history_check_finds_a_word_to_search_for(
    _isolated_home: Path,
    tmp_path: Path,
    chats: list[tuple[str, int, str]],
    status: str,
    reason: str,
) -> None:
    ok("import", str(_chats(tmp_path / "conversations.json", *chats)))
    check = breaktest.history_check(_isolated_home)
    assert check.status == status and check.reason.startswith(reason), check


def test_every_profile_is_worn_through_the_fallback(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    profiles = pytest.importorskip(
        "freehold.profiles", reason="freehold.profiles is not on this branch yet (issue 13 item 1)"
    )
    profiles.save_text("work", "## How to respond\n\nShort answers, in French.\n", where="test")
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    code, report = break_test("--provider", "alpha")
    assert code == 0, report
    assert checks(report, "provider", "alpha")["profiles work"] == (
        "pass",
        "worn on route default by beta:model-b-20250101",
    )
    worn = [seen.body for seen in wire.requests if seen.body.get("system")]
    assert [body["system"] for body in worn] == ["## How to respond\n\nShort answers, in French."]


def test_a_profile_not_reviewed_yet_is_not_proven_and_never_sent(
    home: Path, tmp_path: Path, wire: WireServer
) -> None:
    profiles = pytest.importorskip(
        "freehold.profiles", reason="freehold.profiles is not on this branch yet (issue 13 item 1)"
    )
    text = "## About the user\n\nWrite to me at jane.doe@example.org.\n"
    profiles.save_text("home", text, where="test")
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    code, report = break_test("--provider", "alpha")
    assert code == 0 and report["ok"] and not report["proven"]
    status, reason = checks(report, "provider", "alpha")["profiles home"]
    assert status == "skipped" and "not reviewed" in reason
    assert all("system" not in seen.body for seen in wire.requests)


def test_a_profile_that_cannot_be_worn_fails(home: Path, tmp_path: Path, wire: WireServer) -> None:
    profiles = pytest.importorskip("freehold.profiles")
    profiles.save_text("work", "## How to respond\n\nShort answers.\n", where="test")
    # a later version broken by hand: `chat --profile work` fails on it, so must the break test
    broken = profiles.store.folder("work") / "v0002.md"
    broken.write_text("---\nversion: [2\n---\n\n## How to respond\n\nShort.\n")
    configure(home, wire, FALLBACK)
    destinations(home, tmp_path, "usb", "spare")
    code, report = break_test("--provider", "alpha")
    assert code == 1 and not report["ok"], report
    status, reason = checks(report, "provider", "alpha")["profiles work"]
    assert status == "fail" and "not valid YAML" in reason and "v0002.md" in reason
