"""The web app's search finds a word written against Chinese, Japanese or Thai letters
(iPhoneを, 2024年, 我用Python编程), over a real server and an archive of a real import."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from freehold.archive import open_archive
from tests.builders import chatgpt_chats, ingest
from tests.test_glued import CHATS, START
from tests.web.conftest import Server, start_server
from tests.web.test_views import main, total


@pytest.fixture(scope="module")
def glued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("glued")
    with open_archive(folder / "home") as archive:
        assert ingest(archive, chatgpt_chats(folder / "export.zip", CHATS, START)).ok
    yield from start_server(folder / "home")


def test_search_finds_words_written_against_such_letters(glued: Server) -> None:
    with glued.client() as client:

        def found(query: str) -> tuple[int, str]:
            page: httpx.Response = client.get("/search", params={"q": query})
            return total(page), main(page)

        count, page = found("iPhone")
        assert count == 3
        assert "新しい<mark>iPhone</mark>を買った" in page
        assert "The <mark>iPhone</mark> or a Pixel phone." in page
        count, page = found("2024")
        assert count == 2 and "<mark>2024</mark>年3月に東京へ行く" in page
        count, page = found("Python")
        assert count == 2 and "我用<mark>Python</mark>编程" in page
        assert found("phone")[0] == 2  # the English chat only: iPhoneを is not phone
        assert found("iPhone 2024")[0] == 1
