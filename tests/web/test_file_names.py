"""The web app's search finds a message by the names of the files it points at
(quarterly-report.pdf), says so in the snippet, and applies its filters, over a real server and
an archive of a real import."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from freehold.archive import open_archive
from tests.builders import ingest
from tests.test_file_names import export
from tests.web.conftest import Server, start_server
from tests.web.test_views import main, total


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("named")
    with open_archive(folder / "home") as archive:
        assert ingest(archive, export(folder / "export.zip")).ok
    yield from start_server(folder / "home")


def test_search_finds_a_file_by_its_name(named: Server) -> None:
    with named.client() as client:

        def found(**params: str) -> tuple[int, str]:
            page: httpx.Response = client.get("/search", params=params)
            return total(page), main(page)

        count, page = found(q="quarterly-report.pdf")
        assert count == 1 and ">Numbers</a>" in page
        assert (
            '<span class="meta">Attached file:</span> appendix.xlsx, '
            "<mark>quarterly-report.pdf</mark>"
        ) in page
        count, page = found(q="report")
        assert count == 3 and page.count("Attached file:") == 1
        count, page = found(q="report numbers")  # one word in the text, one in a name
        assert (
            count == 1
            and (
                '<p class="snippet">Here are the <mark>numbers</mark></p>\n'
                '    <p class="snippet"><span class="meta">Attached file:</span>'
            )
            in page
        )
        assert found(q="IMG_2024")[0] == 1
        assert found(q="quarterly-report.pdf", role="assistant")[0] == 0
        assert found(q="quarterly-report.pdf", until="2025-02-28")[0] == 0
        assert found(q="quarterly-report.pdf", since="2025-03-01", role="user")[0] == 1
        french = client.get("/search", params={"q": "appendix"}, headers={"Accept-Language": "fr"})
        assert "Fichier joint :" in main(french)
