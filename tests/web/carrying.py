"""What the tests of "Continue from here" share: an archive holding the sample export, a
config.toml whose providers are the loopback wire server (``tests/providers/servers.py``),
and a way to send a turn the way the page's script does (NDJSON over a streamed POST)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from freehold.archive import ARCHIVE_NAME, open_archive
from tests.builders import ingest
from tests.providers.servers import WireServer
from tests.web.conftest import Server

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
WOOD = "9a161f4a-049a-4dc2-95e0-7f01853d64ca"  # sample: "Wood for a workbench"-like, 1 path
NDJSON = "application/x-ndjson"
PRIMARY = "primary:model-a-20250101"  # the wire server's Anthropic protocol
BACKUP = "backup:model-b-20250101"  # its OpenAI protocol


def config_text(wire: WireServer, key_env: str | None = None) -> str:
    """Two providers on the wire server, an alias, two routes; one try per model (no
    back-off to wait for: the router's own tests cover the waits)."""
    key = f'api_key_env = "{key_env}"\n' if key_env else ""
    return (
        f'[providers.primary]\nkind = "anthropic"\nbase_url = "{wire.base_url("anthropic")}"\n'
        f"{key}"
        f'[providers.backup]\nkind = "openai"\nbase_url = "{wire.base_url("openai")}"\n{key}'
        f'[aliases]\nquick = "{BACKUP}"\n'
        f'[routes.default]\nmodels = ["{PRIMARY}", "{BACKUP}"]\n'
        f'[routes.backup-only]\nmodels = ["quick"]\n'
        "[router]\nattempts_per_model = 1\n"
    )


def carried_home(home: Path, wire: WireServer, key_env: str | None = None) -> Path:
    """``home`` with the sample imported and the wire server configured."""
    with open_archive(home) as archive:
        ingest(archive, SAMPLE)
    (home / "config.toml").write_text(config_text(wire, key_env), encoding="utf-8")
    return home


def wood(home: Path) -> tuple[str, list[dict[str, Any]]]:
    """The conversation's id and its visible path: id, role and text of each message."""
    with open_archive(home) as archive:
        conv = archive.get_conversation(WOOD)
    path = [
        {"id": m.id, "role": m.role, "text": m.text, "hidden": m.hidden}
        for m in conv.messages
        if m.on_visible_path
    ]
    return conv.id, path


def rows(home: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(home / ARCHIVE_NAME)) as db:
        return db.execute(sql, params).fetchall()


def message_count(home: Path) -> int:
    return int(rows(home, "SELECT count(*) FROM messages")[0][0])


def post_turn(
    server: Server, path: str, data: dict[str, str], client: httpx.Client | None = None
) -> Iterator[dict[str, Any]]:
    """POST a Continue/Regenerate form as app.js does; yield the streamed events."""
    headers = {"X-CSRF-Token": server.csrf, "Accept": NDJSON}
    with (
        client or server.client() as http,
        http.stream("POST", path, data=data, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith(NDJSON)
        for line in response.iter_lines():
            if line:
                yield json.loads(line)


def whole_turn(server: Server, path: str, data: dict[str, str]) -> list[dict[str, Any]]:
    return list(post_turn(server, path, data))
