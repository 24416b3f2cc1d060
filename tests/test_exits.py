"""The exit plan's library: the shipped catalogue, the plan, recorded exports kept in the vault,
and what is overdue — on real archives and real files."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freehold import exits, plugins
from freehold.archive import Archive, open_archive
from freehold.errors import FreeholdError, NotFoundError
from freehold.formats import CLOSED_FORMATS, OPEN_FORMATS
from freehold.migrations import MIGRATIONS
from tests.builders import write_zip

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)

# -- the catalogue ---------------------------------------------------------------------------------


def test_the_catalogue_holds_the_platforms_people_rent() -> None:
    ids = set(exits.catalogue().platforms)
    wanted = {
        "chatgpt", "claude", "gemini", "copilot", "perplexity", "grok", "mistral",  # AI
        "stripe", "paypal", "square",  # payments
        "mailchimp", "kit", "substack",  # e-mail lists
        "hubspot", "salesforce", "pipedrive",  # CRMs
        "shopify", "etsy", "woocommerce",  # shops
        "github", "vercel", "netlify", "wordpress-com",  # hosting
        "x", "facebook", "instagram", "linkedin",  # social accounts
        "google-drive", "dropbox", "onedrive", "icloud",  # cloud drives
    }  # fmt: skip
    assert sorted(wanted - ids) == []
    categories = {p.category for p in exits.catalogue().platforms.values()}
    assert categories == set(exits.CATEGORIES)


def test_every_catalogue_entry_is_complete_and_sourced() -> None:
    found = exits.catalogue()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", found.compiled)
    known = OPEN_FORMATS | CLOSED_FORMATS
    importers = set(plugins.importers())
    names: set[str] = set(found.platforms)
    for platform in found.platforms.values():
        where = platform.id
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", platform.id), where
        assert platform.name and platform.holds and len(platform.export) > 30, where
        assert platform.docs.startswith("https://"), where
        assert platform.sources and all(s.startswith("https://") for s in platform.sources), where
        assert platform.formats and {f.format for f in platform.formats} <= known, where
        assert 1 <= platform.cadence_days <= 366, where
        assert platform.importer is None or platform.importer in importers, where
        for name in {platform.name.casefold(), *platform.aliases} - {platform.id}:
            assert name not in names, f"{where}: {name} names two platforms"
            names.add(name)


def test_the_catalogue_is_shipped_with_the_package() -> None:
    """Every file of the package that is not Python is listed as package data."""
    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setup["package-data"]["freehold"]
    package = REPO / "freehold"
    for path in package.rglob("*"):
        if (
            path.is_file()
            and path.suffix not in (".py", ".pyc")
            and "__pycache__" not in path.parts
        ):
            relative = path.relative_to(package).as_posix()
            assert any(Path(relative).match(p) for p in patterns), relative


def test_the_catalogue_finds_by_id_name_and_other_names() -> None:
    found = exits.catalogue()
    assert found.find("ChatGPT").id == "chatgpt"  # type: ignore[union-attr]
    assert found.find(" Le Chat ").id == "mistral"  # type: ignore[union-attr]
    assert found.find("twitter").id == "x"  # type: ignore[union-attr]
    assert found.find("nothing-like-it") is None
    assert found.suggest("chatgtp") == ["chatgpt"]


@pytest.mark.parametrize(
    ("text", "days"),
    [("30", 30), ("30d", 30), ("2w", 14), ("weekly", 7), ("Monthly", 30), ("quarterly", 91)],
)
def test_cadences(text: str, days: int) -> None:
    assert exits.parse_cadence(text) == days


@pytest.mark.parametrize("text", ["0", "-3", "often", "4000", "3x"])
def test_bad_cadences_say_what_to_give(text: str) -> None:
    with pytest.raises(FreeholdError, match="cadence"):
        exits.parse_cadence(text)


def test_dates() -> None:
    assert exits.parse_date("2026-11-02") == "2026-11-02T00:00:00+00:00"
    with pytest.raises(FreeholdError, match="YYYY-MM-DD"):
        exits.parse_date("02/11/2026")
    with pytest.raises(FreeholdError, match="future"):
        exits.parse_date("2999-01-01")


# -- the plan --------------------------------------------------------------------------------------


def test_adding_catalogue_and_own_platforms(archive: Archive) -> None:
    entry, what = exits.add(archive, "Le Chat")
    assert (what, entry.id, entry.name, entry.catalogue_id) == (
        "added",
        "mistral",
        "Mistral Le Chat",
        "mistral",
    )
    assert entry.cadence_days == 30
    own, what = exits.add(
        archive, "acme-crm", name="Acme CRM", cadence=7, where="Settings → Export"
    )
    assert (what, own.catalogue_id, own.cadence_days, own.export_where) == (
        "added",
        None,
        7,
        "Settings → Export",
    )
    again, what = exits.add(archive, "acme-crm", cadence=14)
    assert (what, again.name, again.cadence_days, again.export_where) == (
        "updated",
        "Acme CRM",
        14,
        "Settings → Export",
    )
    assert [e.id for e in archive.exit_plan()] == ["acme-crm", "mistral"]


def test_an_unknown_platform_without_a_name_is_refused_with_suggestions(archive: Archive) -> None:
    with pytest.raises(FreeholdError, match=r"did you mean chatgpt\?.*--name"):
        exits.add(archive, "chatgtp")
    with pytest.raises(FreeholdError, match="lowercase letters"):
        exits.add(archive, "My CRM!", name="My CRM")
    assert archive.exit_plan() == []


def test_removing_keeps_the_exports_and_adding_again_brings_them_back(
    archive: Archive, tmp_path: Path
) -> None:
    exits.add(archive, "stripe")
    kept = exits.record(archive, "stripe", _csv(tmp_path / "payments.csv"))
    assert archive.remove_exit_platform("stripe") == 1
    assert archive.exit_plan() == []
    assert archive.exit_exports("stripe") == [kept.export]
    assert archive.vault.joinpath(kept.export.sha256[:2], kept.export.sha256).is_file()
    with pytest.raises(NotFoundError, match="not in your exit plan"):
        archive.remove_exit_platform("stripe")
    _, what = exits.add(archive, "stripe")
    assert what == "restored"
    assert [s.latest for s in exits.status(archive)] == [kept.export]


# -- recording exports -----------------------------------------------------------------------------


def _csv(path: Path, rows: int = 3) -> Path:
    path.write_text("id,amount\n" + "".join(f"ch_{n},{n}.00\n" for n in range(rows)))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_export_is_kept_in_the_vault_by_content_privately(
    archive: Archive, tmp_path: Path
) -> None:
    source = _csv(tmp_path / "payments.csv")
    done = exits.record(archive, "stripe", source)
    export = done.export
    kept = archive.home / "vault" / export.sha256[:2] / export.sha256
    assert kept.read_bytes() == source.read_bytes()
    assert (_mode(kept), _mode(kept.parent), _mode(archive.home / "vault")) == (0o600, 0o700, 0o700)
    assert (export.file_name, export.size, export.format, export.mime, export.open) == (
        "payments.csv",
        source.stat().st_size,
        "csv",
        "text/csv",
        True,
    )
    assert done.new and done.added == "added"  # stripe joined the plan on the way
    row = archive.db.execute("SELECT platform_id, sha256, open FROM exit_exports").fetchall()
    assert row == [("stripe", export.sha256, 1)]


def test_the_same_file_twice_is_one_record_and_one_file(archive: Archive, tmp_path: Path) -> None:
    first = exits.record(archive, "stripe", _csv(tmp_path / "a.csv"))
    copy = tmp_path / "copy-of-a.csv"
    copy.write_bytes((tmp_path / "a.csv").read_bytes())
    second = exits.record(archive, "stripe", copy)
    assert not second.new and second.export == first.export
    other = exits.record(archive, "paypal", copy)  # the same bytes for another platform
    assert other.new and other.export.sha256 == first.export.sha256
    files = [p for p in archive.vault.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_the_export_date_is_the_file_time_or_the_one_given(
    archive: Archive, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "old.csv")
    stamp = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    assert exits.record(archive, "stripe", path).export.exported_at == "2026-03-04T05:06:07+00:00"
    given = exits.record(archive, "paypal", path, exported_at="2026-05-01T00:00:00+00:00")
    assert given.export.exported_at == "2026-05-01T00:00:00+00:00"
    future = _csv(tmp_path / "future.csv", rows=4)
    later = (datetime.now(UTC) + timedelta(days=400)).timestamp()
    os.utime(future, (later, later))
    recorded = datetime.fromisoformat(exits.record(archive, "square", future).export.exported_at)
    assert recorded <= datetime.now(UTC)


@pytest.mark.parametrize("kind", ["missing", "folder", "empty"])
def test_a_bad_path_is_refused_before_anything_is_written(
    archive: Archive, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "export.zip"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(FreeholdError, match=r"export\.zip"):
        exits.record(archive, "chatgpt", path)
    assert archive.exit_plan() == [] and archive.exit_exports() == []
    assert not archive.vault.exists()


def test_an_unknown_platform_is_refused(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not in your exit plan"):
        exits.record(archive, "acme", _csv(tmp_path / "a.csv"))
    assert not archive.vault.exists()


def test_an_ai_export_is_imported_and_linked(archive: Archive) -> None:
    done = exits.record(archive, "chatgpt", SAMPLE)
    assert exits.needs_import(done)
    exits.import_export(archive, done, SAMPLE)
    assert done.report is not None and done.report.ok and done.import_error is None
    assert done.report.conversations["new"] == 23
    (linked,) = archive.exit_exports("chatgpt")
    assert linked.source_id == done.report.source_id
    assert archive.stats()["conversations"] == 23
    again = exits.record(archive, "chatgpt", SAMPLE)  # the same file: nothing to import again
    assert not again.new and not exits.needs_import(again)


def test_an_ai_export_freehold_cannot_read_is_kept_and_says_why(
    archive: Archive, tmp_path: Path
) -> None:
    path = write_zip(tmp_path / "chatgpt-export.zip", {"notes.txt": b"not an export"})
    done = exits.record(archive, "chatgpt", path)
    exits.import_export(archive, done, path)
    assert done.report is None and done.import_error and "notes.txt" in done.import_error
    assert archive.vault.joinpath(done.export.sha256[:2], done.export.sha256).is_file()
    assert exits.needs_import(done)  # a later freehold may read it: recording it again tries


def test_an_export_of_another_kind_is_refused(archive: Archive, tmp_path: Path) -> None:
    claude = tmp_path / "conversations.json"
    claude.write_text(
        json.dumps(
            [
                {
                    "uuid": "c1",
                    "name": "Hello",
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:00Z",
                    "chat_messages": [
                        {"uuid": "m1", "sender": "human", "text": "hi", "content": [],
                         "created_at": "2026-01-01T00:00:00Z"},
                    ],
                }
            ]
        )
    )  # fmt: skip
    with pytest.raises(FreeholdError, match=r"a claude export, not ChatGPT's — nothing was"):
        exits.record(archive, "chatgpt", claude)
    assert archive.exit_exports() == [] and archive.exit_plan() == []


# -- status ----------------------------------------------------------------------------------------


def _recorded(
    archive: Archive, tmp_path: Path, platform: str, days_ago: int, *, rows: int = 3
) -> None:
    when = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    path = _csv(tmp_path / f"{platform}-{days_ago}.csv", rows=rows + days_ago)
    exits.record(archive, platform, path, exported_at=when)


def test_status_says_what_is_overdue(archive: Archive, tmp_path: Path) -> None:
    exits.add(archive, "stripe")  # monthly
    exits.add(archive, "mailchimp", cadence=7)
    exits.add(archive, "hubspot")  # never exported
    _recorded(archive, tmp_path, "stripe", 40)
    _recorded(archive, tmp_path, "stripe", 10)  # the latest counts
    _recorded(archive, tmp_path, "mailchimp", 9)
    found = {s.entry.id: s for s in exits.status(archive, NOW)}
    assert not found["stripe"].overdue
    assert found["stripe"].due == NOW + timedelta(days=20)
    assert (found["mailchimp"].overdue, found["mailchimp"].days_overdue) == (True, 2)
    assert found["hubspot"].overdue and found["hubspot"].latest is None
    order = [s.entry.id for s in exits.status(archive, NOW)]
    assert order == ["mailchimp", "hubspot", "stripe"]  # most overdue first


def test_status_names_latest_exports_not_in_an_open_format(
    archive: Archive, tmp_path: Path
) -> None:
    closed = write_zip(
        tmp_path / "crm.zip", {"contacts.csv": b"a,b\n1,2\n", "data.pst": b"!BDN\x00"}
    )
    exits.add(archive, "acme", name="Acme CRM")
    exits.record(archive, "acme", closed, exported_at=exits.parse_date("2026-11-01"))
    (state,) = exits.status(archive)
    assert state.not_open
    assert state.to_json()["latest"]["contents"]["not_open"] == ["data.pst"]
    exits.record(archive, "acme", _csv(tmp_path / "contacts.csv"))  # today
    (state,) = exits.status(archive)
    assert not state.not_open  # the latest one is open now


def test_an_export_that_is_not_usable_does_not_move_the_due_date(
    archive: Archive, tmp_path: Path
) -> None:
    """A ChatGPT export that failed its import, or a cut zip, is kept but does not count: the
    due date runs from the last usable export, and the failed newer one is named."""
    good = NOW - timedelta(days=20)
    done = exits.record(archive, "chatgpt", SAMPLE, exported_at=good.isoformat())
    exits.import_export(archive, done, SAMPLE)
    bad = tmp_path / "chatgpt-export.zip"
    bad.write_text("not a zip")
    failed = exits.record(
        archive, "chatgpt", bad, exported_at=(NOW - timedelta(days=1)).isoformat()
    )
    exits.import_export(archive, failed, bad)
    assert failed.import_error is not None
    (state,) = exits.status(archive, NOW)
    assert state.latest is not None and state.latest.id == done.export.id
    assert state.due == good + timedelta(days=30)
    assert not state.overdue and state.needs_action
    assert [u.export.file_name for u in state.unusable] == ["chatgpt-export.zip"]
    assert state.unusable[0].why.startswith("not imported")
    assert state.to_json()["last_export"] == good.isoformat(timespec="seconds")
    # with no usable export at all, it is overdue from the day it was added to the plan
    whole = write_zip(tmp_path / "whole.zip", {"a.csv": b"a,b\n" * 500, "b.csv": b"c,d\n" * 500})
    cut = tmp_path / "hubspot.zip"
    cut.write_bytes(whole.read_bytes()[:-100])
    exits.record(archive, "hubspot", cut)
    hubspot = next(s for s in exits.status(archive) if s.entry.id == "hubspot")
    assert hubspot.overdue and hubspot.latest is None
    assert "truncated zip" in hubspot.unusable[0].why
    assert exits.unusable(state.latest) is None  # an import read it


# -- the archive around it -------------------------------------------------------------------------


def test_a_plan_alone_keeps_a_new_archive(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    archive = open_archive(home)
    exits.add(archive, "stripe")
    assert archive.discard_if_empty() is False
    assert (home / "archive.sqlite").is_file()


def test_a_new_archive_with_nothing_in_it_is_taken_back_with_its_vault(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    archive = open_archive(home)
    archive.vault.mkdir()
    assert archive.discard_if_empty() is True
    assert not home.exists()


def test_an_archive_from_before_m008_gets_the_exit_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from freehold import migrations

    home = tmp_path / "old"
    names = [name for name, _ in MIGRATIONS]
    before = names.index("m008_exit_plan")
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:before])
        with open_archive(home) as old:
            assert "exit_platforms" not in _tables(old.db)
    with open_archive(home) as archive:
        assert {"exit_platforms", "exit_exports"} <= _tables(archive.db)
        exits.add(archive, "stripe")
        assert [e.id for e in archive.exit_plan()] == ["stripe"]


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.parametrize("platform", ["perplexity", "mailchimp"])
def test_an_ai_export_counts_for_no_platform_freehold_cannot_import(
    archive: Archive, platform: str
) -> None:
    exits.add(archive, platform)
    with pytest.raises(
        FreeholdError, match=r"a chatgpt export, not .*'s — nothing was recorded; .*chatgpt"
    ):
        exits.record(archive, platform, SAMPLE)
    assert archive.exit_exports() == []
    assert not archive.vault.exists()


def test_a_file_no_importer_reads_is_kept_under_a_platform_freehold_cannot_import(
    archive: Archive, tmp_path: Path
) -> None:
    exits.add(archive, "mailchimp")
    done = exits.record(archive, "mailchimp", _csv(tmp_path / "audience.csv"))
    assert done.new and [e.platform_id for e in archive.exit_exports()] == ["mailchimp"]


_PROMPT = (
    b'{"id": "p1", "title": "Capital trivia", "createTime": "2025-02-01T08:00:00Z", '
    b'"updateTime": "2025-02-01T08:00:30Z", "chunkedPrompt": {"chunks": ['
    b'{"role": "user", "text": "What is the capital of France?", '
    b'"createTime": "2025-02-01T08:00:00Z"}, {"role": "model", "text": "Paris.", '
    b'"createTime": "2025-02-01T08:00:05Z", "finishReason": "STOP"}]}}'
)


def test_a_drive_takeout_holding_an_ai_studio_folder_is_google_drives(
    archive: Archive, tmp_path: Path
) -> None:
    """A Drive Takeout holds the AI Studio prompts among the person's documents: it is the
    Drive export (review R7-6), with a note to record it under aistudio too."""
    exits.add(archive, "google-drive")
    path = write_zip(
        tmp_path / "takeout-drive.zip",
        {
            "Takeout/Drive/Documents/notes.txt": b"shopping list\n",
            "Takeout/Drive/Documents/photo.jpg": b"\xff\xd8\xff\xe0" + b"\0" * 2000,
            "Takeout/Drive/Google AI Studio/My prompt": _PROMPT,
        },
    )
    done = exits.record(archive, "google-drive", path)
    assert done.new and [e.platform_id for e in archive.exit_exports()] == ["google-drive"]
    assert [n for n in done.notes if "an aistudio export too" in n and "record aistudio" in n]


def test_a_file_that_is_nothing_but_an_ai_studio_export_is_refused_under_drive(
    archive: Archive, tmp_path: Path
) -> None:
    exits.add(archive, "google-drive")
    path = write_zip(
        tmp_path / "prompts.zip", {"Takeout/Drive/Google AI Studio/My prompt": _PROMPT}
    )
    with pytest.raises(FreeholdError, match=r"an aistudio export, not Google Drive"):
        exits.record(archive, "google-drive", path)
    assert archive.exit_exports() == []
