from __future__ import annotations

from pathlib import Path

from freehold.archive import open_archive
from freehold.ingest import import_path
from tests.web.conftest import Server

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"


def test_home_lists_what_was_imported(server: Server) -> None:
    with open_archive(server.home) as archive:
        import_path(archive, SAMPLE)
    with server.client() as client:
        page = client.get("/")
    assert page.status_code == 200
    assert "chatgpt" in page.text
