"""A canary key goes to the providers and nowhere else: not the archive, the config, the
terminal (stdout and stderr), the logs, nor any export format — even when a provider echoes
it back in its error messages."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from click.testing import CliRunner, Result

from freehold import plugins
from freehold.cli import cli
from tests.providers.memory_keyring import MemoryKeyring
from tests.providers.servers import Script, WireServer

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
WOOD = "9a161f4a-049a-4dc2-95e0-7f01853d64ca"
ECHO = {"error": {"type": "authentication_error", "message": "Incorrect API key provided: {key}"}}


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    store = MemoryKeyring()
    keyring.set_keyring(store)
    yield store
    keyring.set_keyring(before)


def test_zero_hits_for_the_canary_key(
    _isolated_home: Path,
    wire: WireServer,
    ring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    env_key = f"sk-freehold-canary-{secrets.token_hex(12)}"
    ring_key = f"sk-freehold-canary-{secrets.token_hex(12)}"
    monkeypatch.setenv("CANARY_KEY", env_key)
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []

    def run(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), input=input, terminal_width=200)
        outputs.append(result.output)
        return result

    assert run("import", str(SAMPLE)).exit_code == 0
    run(
        "providers",
        "add",
        "primary",
        "--kind",
        "anthropic",
        "--base-url",
        wire.base_url("anthropic"),
        "--api-key-env",
        "CANARY_KEY",
    )
    run(
        "providers",
        "add",
        "backup",
        "--kind",
        "openai",
        "--base-url",
        wire.base_url("openai"),
        "--api-key-env",
        "CANARY_KEY",
    )
    assert (
        run(
            "providers",
            "add",
            "vault",
            "--kind",
            "gemini",
            "--base-url",
            wire.base_url("gemini"),
            "--key",
            input=ring_key + "\n",
        ).exit_code
        == 0
    )
    with (_isolated_home / "config.toml").open("a") as config:
        config.write(
            '[routes.default]\nmodels = ["primary:model-a-20250101", "backup:model-b-20250101"]\n'
        )
    # the primary echoes the key in a 401; the backup answers
    wire.queue(Script(status=401, body=ECHO), Script(text="Beech."))
    assert run("chat", "--continue", WOOD, "Which wood?").exit_code == 0
    # every model echoes it: a failed answer whose errors are stored
    wire.queue(Script(status=401, body=ECHO), Script(status=401, body=ECHO))
    assert run("chat", "--json", "Again?").exit_code == 1
    wire.queue(
        Script(status=429, body=ECHO, headers={"retry-after": "0"}), Script(status=403, body=ECHO)
    )
    assert run("chat", "-m", "vault:gemini-x-20250101", "Third?").exit_code == 1
    wire.queue(
        Script(status=401, body=ECHO), Script(status=401, body=ECHO), Script(status=401, body=ECHO)
    )
    run("providers", "test")
    run("providers", "list")
    run("providers", "list", "--json")
    # the keys did reach the servers, so the search below means something
    sent = json.dumps([r.headers for r in wire.requests])
    assert env_key in sent and ring_key in sent
    shown = [run("show", WOOD), run("show", WOOD, "--json")]
    assert all(r.exit_code == 0 for r in shown) and "[key]" in shown[1].stdout
    for name in plugins.exporters():
        assert (
            run("export", "--format", name, "--out", str(tmp_path / "exports" / name)).exit_code
            == 0
        )
    places = {
        "terminal": "\n".join(outputs),
        "logs": caplog.text,
        **{str(p): p.read_bytes().decode("latin-1") for p in _files(_isolated_home)},
        **{str(p): _text_of(p) for p in _files(tmp_path / "exports")},
    }
    assert any("archive.sqlite" in name for name in places) and "config.toml" in " ".join(places)
    for key in (env_key, ring_key):
        hits = [name for name, text in places.items() if key in text or key[-16:] in text]
        assert hits == [], f"the key was found in {hits}"


def _files(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*")) if p.is_file()]


def _text_of(path: Path) -> str:
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        text = " ".join(page.extract_text() or "" for page in PdfReader(path).pages)
        return text + path.read_bytes().decode("latin-1")
    return path.read_bytes().decode("latin-1")
