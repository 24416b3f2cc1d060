"""The exit plan's page over a real server: the plan read from the archive, overdue and
not-open exports marked, hostile names escaped, English and French."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from freehold import exits
from freehold.archive import open_archive
from freehold.web.i18n import FRENCH
from tests.builders import write_zip
from tests.web.conftest import Server, start_server

HOSTILE = '<script>alert("plan")</script>'


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Stripe exported long ago (overdue), PayPal today, HubSpot never, and a platform of
    the person's own whose latest export is not in an open format."""
    folder = tmp_path_factory.mktemp("exits")
    home = folder / "home"
    with open_archive(home) as archive:
        old = folder / "payments.csv"
        old.write_text("id,amount\nch_1,1.00\n")
        exits.record(archive, "stripe", old, exported_at=exits.parse_date("2025-01-01"))
        today = folder / "activity.csv"
        today.write_text("date,amount\n2026-12-01,3.00\n")
        exits.record(archive, "paypal", today)
        exits.add(archive, "hubspot")
        exits.add(archive, "acme", name=HOSTILE, where="Settings → <b>Backup</b>")
        closed = write_zip(folder / "backup.zip", {"mail.pst": b"!BDN\x00", "a.csv": b"a,b\n"})
        exits.record(archive, "acme", closed)
    yield from start_server(home)


def test_the_page_shows_the_plan(plan: Server) -> None:
    with plan.client() as client:
        page = client.get("/exits")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Exit plan</h1>" in text
    assert "<strong>2</strong> of <strong>4</strong> platforms overdue" in text
    assert "Stripe</a>" in text and 'href="https://docs.stripe.com/reports"' in text
    assert "Overdue: " in text and "No export yet" in text
    assert "payments.csv · csv" in text and "activity.csv · csv" in text
    assert '<strong class="not-open">no</strong>' in text  # the own platform's zip
    assert "Payments" in text and "Your own platform" in text


def test_names_from_the_plan_are_escaped(plan: Server) -> None:
    with plan.client() as client:
        text = client.get("/exits").text
    assert HOSTILE not in text and "&lt;script&gt;" in text
    assert "<b>Backup</b>" not in text and "&lt;b&gt;Backup&lt;/b&gt;" in text


def test_the_page_in_french(plan: Server) -> None:
    with plan.client(headers={"Accept-Language": "fr"}) as client:
        text = client.get("/exits").text
    assert "<h1>Plan de sortie</h1>" in text
    assert "plateformes en retard" in text and "Paiements" in text and "En retard" in text


def test_every_category_has_french() -> None:
    assert sorted(set(exits.CATEGORIES.values()) - FRENCH.keys()) == []


def test_the_navigation_links_to_the_plan(plan: Server) -> None:
    with plan.client() as client:
        assert '<a href="/exits">Exit plan</a>' in client.get("/").text


def test_an_empty_plan(server: Server) -> None:
    with server.client() as client:
        page = client.get("/exits")
    assert page.status_code == 200 and "Nothing in your exit plan yet." in page.text


def test_the_page_reads_the_plan_as_it_is_now(tmp_path: Path) -> None:
    home = tmp_path / "live"
    with open_archive(home) as archive:
        exits.add(archive, "github")
    for server in start_server(home):
        with server.client() as client:
            assert "GitHub" in client.get("/exits").text
            with open_archive(home) as archive:
                exits.add(archive, "netlify")
            assert "Netlify" in client.get("/exits").text


def test_an_export_that_is_not_usable_is_marked_and_does_not_count(tmp_path: Path) -> None:
    home = tmp_path / "failed"
    bad = tmp_path / "chatgpt-export.zip"
    bad.write_text("not a zip")
    with open_archive(home) as archive:
        done = exits.record(archive, "chatgpt", bad)
        exits.import_export(archive, done, bad)  # fails: kept, not imported
    for server in start_server(home):
        with server.client() as client:
            text = client.get("/exits").text
    assert "<strong>1</strong> of <strong>1</strong> platform overdue" in text
    assert "No export yet" in text and '<tr class="overdue">' in text
    assert '<strong class="unusable">Not usable:</strong> chatgpt-export.zip' in text
    assert "not imported (the import failed" in text
