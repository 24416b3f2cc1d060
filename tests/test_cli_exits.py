"""``freehold exits``: the exit plan from the command line, on a real data folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold.cli import cli
from tests.builders import write_zip

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def csv(path: Path, rows: int = 2) -> Path:
    path.write_text("id,amount\n" + "".join(f"ch_{n},{n}.00\n" for n in range(rows)))
    return path


def _conversation(key: str, title: str) -> dict[str, object]:
    """One ChatGPT conversation, as conversations.json holds it."""
    message = {
        "id": "a",
        "author": {"role": "user"},
        "create_time": 1700000000,
        "content": {"content_type": "text", "parts": ["hello there"]},
        "metadata": {},
    }
    mapping = {
        "r": {"id": "r", "message": None, "parent": None, "children": ["a"]},
        "a": {"id": "a", "parent": "r", "children": [], "message": message},
    }
    return {
        "id": key,
        "title": title,
        "create_time": 1700000000,
        "update_time": 1700000000,
        "current_node": "a",
        "mapping": mapping,
    }


def test_reading_a_plan_on_a_fresh_data_folder_creates_nothing(_isolated_home: Path) -> None:
    for args in (["list"], ["status"], ["list", "--json"], ["status", "--json"]):
        result = run("exits", *args)
        assert result.exit_code == 0, args
    assert "No platform in your exit plan yet" in run("exits", "status").stderr
    assert json.loads(run("exits", "list", "--json").stdout) == []
    assert json.loads(run("exits", "status", "--json").stdout)["platforms"] == []
    assert not _isolated_home.exists()


def test_a_failed_add_on_a_fresh_data_folder_leaves_nothing(_isolated_home: Path) -> None:
    result = run("exits", "add", "chatgtp")
    assert result.exit_code == 1
    assert "did you mean chatgpt?" in result.stderr
    assert not _isolated_home.exists()


def test_status_exits_1_while_an_export_is_overdue(tmp_path: Path) -> None:
    assert run("exits", "add", "stripe").exit_code == 0
    overdue = run("exits", "status")
    assert overdue.exit_code == 1
    assert "overdue: Stripe — no export recorded yet" in overdue.stdout
    recorded = run("exits", "record", "stripe", str(csv(tmp_path / "payments.csv")))
    assert recorded.exit_code == 0, recorded.output
    assert "Recorded: payments.csv for stripe" in recorded.stdout and "csv, open" in recorded.stdout
    fine = run("exits", "status")
    assert fine.exit_code == 0
    assert "ok: Stripe — last export" in fine.stdout and "0 of 1 platform overdue" in fine.stdout


def test_an_overdue_export_after_its_cadence(tmp_path: Path) -> None:
    run("exits", "add", "mailchimp", "--cadence", "weekly")
    path = csv(tmp_path / "audience.csv")
    assert run("exits", "record", "mailchimp", str(path), "--date", "2026-01-01").exit_code == 0
    result = run("exits", "status", "--json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert found["overdue"] == ["mailchimp"]
    (platform,) = found["platforms"]
    assert platform["due"] == "2026-01-08T00:00:00+00:00" and platform["days_overdue"] > 300
    assert "days late" in run("exits", "status").stdout


def test_status_names_an_export_not_in_an_open_format(tmp_path: Path) -> None:
    run("exits", "add", "acme", "--name", "Acme CRM", "--where", "Settings → Backup")
    closed = write_zip(tmp_path / "backup.zip", {"c.csv": b"a,b\n1,2\n", "mail.pst": b"!BDN\x00"})
    recorded = run("exits", "record", "acme", str(closed))
    assert recorded.exit_code == 0
    assert "NOT in an open format" in recorded.stdout and "mail.pst" in recorded.stderr
    result = run("exits", "status")
    assert result.exit_code == 0
    assert "not open: Acme CRM — backup.zip (zip): mail.pst" in result.stdout
    assert json.loads(run("exits", "status", "--json").stdout)["not_open"] == ["acme"]


def test_recording_an_ai_export_imports_it_and_reports_like_import(_isolated_home: Path) -> None:
    result = run("exits", "record", "chatgpt", str(SAMPLE))
    assert result.exit_code == 0, result.output
    assert "Added chatgpt in your exit plan." in result.stdout
    assert "conversations" in result.stdout and "23" in result.stdout  # the import's table
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["conversations"] == 23
    again = run("exits", "record", "chatgpt", str(SAMPLE), "--json")
    found = json.loads(again.stdout)
    assert again.exit_code == 0 and found["new"] is False and found["import"] is None


def test_record_no_import_keeps_the_file_only(_isolated_home: Path) -> None:
    result = run("exits", "record", "chatgpt", str(SAMPLE), "--no-import", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["import"] is None
    assert json.loads(run("stats", "--json").stdout)["conversations"] == 0


def test_an_ai_export_that_is_not_one_is_kept_and_exits_1(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "claude.zip", {"readme.txt": b"hello"})
    result = run("exits", "record", "claude", str(path))
    assert result.exit_code == 1
    assert "Recorded: claude.zip" in result.stdout and "not imported:" in result.stderr
    assert json.loads(run("exits", "list", "--json").stdout)[0]["exports"] == 1


def test_an_export_that_failed_its_import_is_not_the_latest_export(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip\n")
    assert run("exits", "add", "chatgpt").exit_code == 0
    assert run("exits", "record", "chatgpt", str(bad)).exit_code == 1  # not imported
    result = run("exits", "status")
    assert result.exit_code == 1
    assert "overdue: ChatGPT — no usable export recorded yet" in result.stdout
    assert "not usable: ChatGPT — bad.zip (exported " in result.stdout
    assert "does not count as an export: not imported" in result.stdout
    found = json.loads(run("exits", "status", "--json").stdout)
    assert found["overdue"] == ["chatgpt"] and found["unusable"] == ["chatgpt"]
    (platform,) = found["platforms"]
    assert platform["last_export"] is None and platform["unusable"][0]["file_name"] == "bad.zip"
    # a usable export dated before the failed one: not overdue, but the failure is still said
    before = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    assert run("exits", "record", "chatgpt", str(SAMPLE), "--date", before).exit_code == 0
    older = run("exits", "status")
    assert older.exit_code == 1 and f"ok: ChatGPT — last export {before}" in older.stdout
    assert "not usable: ChatGPT — bad.zip" in older.stdout
    assert "; 1 with a newer export not usable" in older.stdout
    # a usable export after the failed one: all is well again
    newer = tmp_path / "conversations.json"
    newer.write_text(json.dumps([_conversation("c-new", "Newer")]))
    recorded = run("exits", "record", "chatgpt", str(newer))
    assert recorded.exit_code == 0, recorded.output
    fine = run("exits", "status")
    assert fine.exit_code == 0 and "not usable" not in fine.stdout, fine.stdout


def test_several_files_one_missing(tmp_path: Path) -> None:
    good = csv(tmp_path / "orders.csv")
    result = run("exits", "record", "shopify", str(good), str(tmp_path / "missing.csv"), "--json")
    assert result.exit_code == 1
    assert "missing.csv: no such file" in result.stderr
    (recorded,) = json.loads(result.stdout)
    assert recorded["export"]["file_name"] == "orders.csv" and recorded["ok"]


def test_a_cut_zip_is_kept_and_exits_1(tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "whole.zip", {"a.csv": b"a,b\n" * 500, "b.csv": b"c,d\n" * 500})
    cut = tmp_path / "export.zip"
    cut.write_bytes(whole.read_bytes()[:-100])
    result = run("exits", "record", "hubspot", str(cut))
    assert result.exit_code == 1
    assert "truncated zip" in result.stderr
    assert json.loads(run("exits", "show", "hubspot", "--json").stdout)["exports"]


def test_remove_keeps_the_exports(tmp_path: Path) -> None:
    run("exits", "record", "paypal", str(csv(tmp_path / "activity.csv")))
    result = run("exits", "remove", "PayPal")
    assert result.exit_code == 0
    assert "Took PayPal (paypal) out of the plan; its 1 recorded export stay" in result.stdout
    assert run("exits", "list", "--json").stdout.strip() == "[]"
    assert run("exits", "remove", "paypal").exit_code == 1
    shown = json.loads(run("exits", "show", "paypal", "--json").stdout)
    assert shown["plan"]["removed_at"] and len(shown["exports"]) == 1


def test_show_a_catalogue_platform_and_an_unknown_one() -> None:
    shown = run("exits", "show", "stripe")
    assert shown.exit_code == 0
    assert "Export: Dashboard" in shown.stdout and "https://docs.stripe.com/reports" in shown.stdout
    unknown = run("exits", "show", "stirpe")
    assert unknown.exit_code == 1 and "did you mean stripe?" in unknown.stderr


def test_list_the_catalogue() -> None:
    found = json.loads(run("exits", "list", "--catalogue", "--json").stdout)
    assert found["compiled"] and len(found["platforms"]) >= 30
    ai = json.loads(run("exits", "list", "--catalogue", "--category", "ai", "--json").stdout)
    assert {p["id"] for p in ai["platforms"]} >= {"chatgpt", "claude", "perplexity"}
    assert all(p["category"] == "ai" for p in ai["platforms"])
    table = run("exits", "list", "--catalogue")
    assert table.exit_code == 0 and "Mistral Le Chat" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "stripe", "--cadence", "often"], "cadence 'often'"),
        (["record", "stripe", "x.csv", "--date", "yesterday"], "YYYY-MM-DD"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    result = run("exits", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_hostile_file_name_is_printed_visibly(tmp_path: Path) -> None:
    path = csv(tmp_path / "evil\x1b]52;c;aGk=\x07.csv")
    result = run("exits", "record", "stripe", str(path))
    assert result.exit_code == 0
    assert "\x1b]52" not in result.stdout and "\\x1b]52" in result.stdout


def test_another_ai_platforms_export_is_refused_and_nothing_is_kept(_isolated_home: Path) -> None:
    assert run("exits", "add", "gemini").exit_code == 0
    for extra in ([], ["--no-import"]):
        result = run("exits", "record", "gemini", str(SAMPLE), *extra)
        assert result.exit_code == 1, result.output
        assert "a chatgpt export, not Google Gemini's" in result.stderr
        assert "freehold exits record chatgpt" in result.stderr
    listed = json.loads(run("exits", "list", "--json").stdout)
    assert [(p["id"], p["exports"]) for p in listed] == [("gemini", 0)]
    assert json.loads(run("stats", "--json").stdout)["conversations"] == 0
    assert run("exits", "status").exit_code == 1  # still overdue: nothing usable recorded


def test_the_same_file_recorded_with_a_new_date_moves_the_export_date(tmp_path: Path) -> None:
    run("exits", "add", "stripe", "--cadence", "weekly")
    path = csv(tmp_path / "customers.csv")
    assert run("exits", "record", "stripe", str(path), "--date", "2026-10-01").exit_code == 0
    today = datetime.now(UTC).date().isoformat()
    again = run("exits", "record", "stripe", str(path), "--date", today)
    assert again.exit_code == 0, again.output
    assert f"Already recorded (same content), export date now {today}" in " ".join(
        again.stdout.split()
    )
    found = json.loads(run("exits", "status", "--json").stdout)
    assert found["overdue"] == [] and found["platforms"][0]["last_export"].startswith(today)
    # an older date than the one recorded does not move it back
    older = run("exits", "record", "stripe", str(path), "--date", "2026-09-01", "--json")
    assert json.loads(older.stdout)["export"]["exported_at"].startswith(today)


def test_the_hint_for_a_platform_not_in_the_plan_is_a_command_that_works(
    _isolated_home: Path, tmp_path: Path
) -> None:
    result = run("exits", "record", "nosuch", str(csv(tmp_path / "f.csv")))
    assert result.exit_code == 1
    hint = " ".join(result.stderr.split()).split("freehold ", 1)[1].split(" —")[0]
    assert hint == "exits add nosuch --name nosuch"
    assert run(*hint.split()).exit_code == 0


def test_record_json_names_the_import_it_just_made(_isolated_home: Path) -> None:
    """Probe M, item 10: the export's row was linked to its import, the JSON said null."""
    found = json.loads(run("exits", "record", "chatgpt", str(SAMPLE), "--json").stdout)
    assert found["import"]["source_id"] is not None
    assert found["export"]["source_id"] == found["import"]["source_id"]


def test_a_catalogue_platform_keeps_its_name(_isolated_home: Path) -> None:
    result = run("exits", "add", "chatgpt", "--name", "Foo")
    assert result.exit_code == 1 and "leave out --name" in result.stderr
    assert run("exits", "add", "chatgpt").exit_code == 0
    assert "Foo" not in run("exits", "list").stdout


def test_an_empty_plan_is_said_on_stderr_by_list_and_status(_isolated_home: Path) -> None:
    for command in ("list", "status"):
        result = run("exits", command)
        assert result.stdout == "" and "No platform in your exit plan yet" in result.stderr
