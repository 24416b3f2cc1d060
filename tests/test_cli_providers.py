"""``freehold providers add|list|remove|test`` against real loopback servers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from click.testing import CliRunner, Result

from freehold.cli import cli
from freehold.errors import ProviderError
from tests.providers.memory_keyring import MemoryKeyring
from tests.providers.servers import Script, WireServer


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, terminal_width=200)


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    store = MemoryKeyring()
    keyring.set_keyring(store)
    yield store
    keyring.set_keyring(before)


def test_add_list_remove(
    _isolated_home: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    added = run(
        "providers",
        "add",
        "local",
        "--kind",
        "OpenAI",
        "--base-url",
        wire.base_url("openai"),
        "--context-window",
        "32768",
    )
    assert added.exit_code == 0, added.output
    assert "added provider local (openai, http://127.0.0.1:" in added.stderr
    assert (
        run(
            "providers", "add", "claude", "--kind", "anthropic", "--api-key-env", "MY_CLAUDE_KEY"
        ).exit_code
        == 0
    )
    listing = json.loads(run("providers", "list", "--json").stdout)
    rows = {row["name"]: row for row in listing["providers"]}
    assert rows["local"]["context_window"] == 32768 and rows["local"]["images"] is False
    assert rows["claude"]["key"] == "none ($MY_CLAUDE_KEY or $ANTHROPIC_API_KEY not set)"
    assert rows["claude"]["context_window"] == 200_000 and rows["claude"]["images"] is True
    table = run("providers", "list").stdout
    assert "local" in table and "vendor" in table
    assert run("providers", "remove", "claude").exit_code == 0
    assert [
        r["name"] for r in json.loads(run("providers", "list", "--json").stdout)["providers"]
    ] == ["local"]


def test_add_refuses_an_unknown_kind_and_a_bad_url(_isolated_home: Path) -> None:
    result = run("providers", "add", "x", "--kind", "ollama")
    assert (
        result.exit_code == 2
        and "unknown provider kind 'ollama'; choose one of: anthropic, gemini, openai"
        in result.output
    )
    for url in ("localhost:11434", "http://[::1/v1"):
        result = run("providers", "add", "x", "--kind", "openai", "--base-url", url)
        assert result.exit_code == 1 and f"providers.x.base_url is '{url}'" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert (
            not (_isolated_home / "config.toml").exists()
            or "[providers.x]" not in (_isolated_home / "config.toml").read_text()
        )


def test_the_key_goes_to_the_keyring_never_to_the_config(
    _isolated_home: Path, ring: MemoryKeyring
) -> None:
    canary = "sk-freehold-canary-keyring-0123456789"
    result = run("providers", "add", "claude", "--kind", "anthropic", "--key", input=canary + "\n")
    assert result.exit_code == 0, result.output
    assert ring.store == {("freehold", "claude"): canary}
    assert (
        canary not in (_isolated_home / "config.toml").read_text() and canary not in result.output
    )
    listing = run("providers", "list", "--json")
    assert (
        json.loads(listing.stdout)["providers"][0]["key"] == "keyring"
        and canary not in listing.output
    )
    assert run("providers", "remove", "claude", "--forget-key").exit_code == 0
    assert ring.store == {}


def test_remove_refuses_while_a_route_names_it(_isolated_home: Path) -> None:
    run("providers", "add", "local", "--kind", "openai", "--base-url", "http://127.0.0.1:9/v1")
    with (_isolated_home / "config.toml").open("a") as config:
        config.write('[routes.default]\nmodels = ["local:m"]\n')
    result = run("providers", "remove", "local")
    assert result.exit_code == 1 and "named by routes.default — change those first" in result.output


def test_test_says_what_works(_isolated_home: Path, wire: WireServer, llmock: Any) -> None:
    run("providers", "add", "wire", "--kind", "anthropic", "--base-url", wire.base_url("anthropic"))
    run("providers", "add", "mock", "--kind", "gemini", "--base-url", llmock.base_url("gemini"))
    run("providers", "add", "gone", "--kind", "openai", "--base-url", "http://127.0.0.1:9/v1")
    with (_isolated_home / "config.toml").open("a") as config:
        config.write('[aliases]\nfast = "wire:model-b-20250101"\n')
    wire.queue(Script(text="ok"))
    result = run("providers", "test", "--json")
    assert result.exit_code == 1
    found = {r["provider"]: r for r in json.loads(result.stdout)}
    assert found["wire"]["ok"] and found["wire"]["model"] == "model-b-20250101"  # from the alias
    assert found["mock"]["ok"] and found["mock"]["model"] == "gemini-2.5-pro"  # what it serves
    assert not found["gone"]["ok"] and "connection" in found["gone"]["error"]
    assert wire.requests[0].body["max_tokens"] == 16
    result = run("providers", "test", "wire")
    assert result.exit_code == 0 and "wire: ok — model-b-20250101 answered in" in result.stdout
    result = run("providers", "test", "nobody")
    assert result.exit_code == 1 and "no provider 'nobody'" in result.output


def test_test_and_models_on_a_server_that_answers_html(
    _isolated_home: Path, wire: WireServer
) -> None:
    wire.models_page = "<html>proxy error</html>"
    run("providers", "add", "proxy", "--kind", "openai", "--base-url", wire.base_url("openai"))
    result = run("providers", "test")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == (
        f"proxy: failed — proxy: bad request: the reply from {wire.base_url('openai')} is not a "
        "model list — check base_url"
    )
    (state,) = json.loads(run("models", "--json").stdout)["providers"]
    assert state["serves"] is None and state["error"].endswith("not a model list — check base_url")


@pytest.mark.parametrize("stdin", ["sk-PIPED\n", None], ids=["no-keyring", "no-answer"])
def test_add_with_a_key_that_cannot_be_kept_writes_nothing(
    _isolated_home: Path, stdin: str | None
) -> None:
    config = _isolated_home / "config.toml"
    hand = (
        '# mine\n[providers.newp]\nkind = "openai"\napi_key_env = "MY_KEY"  # kept\n'
        "context_window = 32000\n"
    )
    _isolated_home.mkdir()
    config.write_text(hand, encoding="utf-8")
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # no OS keyring, as on a bare server
    try:
        result = run("providers", "add", "newp", "--kind", "openai", "--key", input=stdin)
        fresh = run("providers", "add", "other", "--kind", "openai", "--key", input=stdin)
    finally:
        keyring.set_keyring(before)
    assert result.exit_code == 1 and fresh.exit_code == 1
    if stdin:
        assert "the OS keyring cannot store the key (NoKeyringError)" in result.output
    assert config.read_text(encoding="utf-8") == hand  # neither replaced nor added


@pytest.mark.parametrize("existing", [True, False], ids=["replaced", "new"])
def test_add_whose_write_fails_leaves_the_keyring_as_it_was(
    _isolated_home: Path, ring: MemoryKeyring, existing: bool
) -> None:
    # the key is stored after the file is checked and before it is written; when the write
    # fails, the keyring must not hold a new key beside an unchanged config.toml (review R2)
    if existing:
        first = run("providers", "add", "claude", "--kind", "anthropic", "--key", input="old\n")
        assert first.exit_code == 0, first.output
    else:
        _isolated_home.mkdir()
    config = _isolated_home / "config.toml"
    before = config.read_text() if existing else None
    blocker = _isolated_home / f".config.toml.{os.getpid()}.tmp"
    blocker.mkdir()  # the write's temporary file cannot be made: the write fails
    (blocker / "x").write_text("")
    result = run(
        "providers",
        "add",
        "claude",
        "--kind",
        "anthropic",
        "--timeout",
        "30",
        "--key",
        input="new\n",
    )
    assert result.exit_code == 1, result.output
    assert (config.read_text() if existing else None) == before
    assert ring.store == ({("freehold", "claude"): "old"} if existing else {})


def test_a_reply_that_is_not_a_model_list_from_the_vendor_names_no_base_url() -> None:
    from freehold.config import ProviderConfig
    from freehold.providers.base import connect

    provider = connect(ProviderConfig("p", "openai"))

    def read() -> list[str]:
        raise AttributeError("no data")

    with pytest.raises(ProviderError) as caught:
        provider.listed(read, (), ())
    message = str(caught.value)
    assert "base_url" not in message  # a setting this provider does not have
    assert "the vendor's endpoint" in message and "kind" in message


def test_list_says_a_key_is_unusable_without_quoting_it(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("providers", "add", "ge", "--kind", "gemini", "--api-key-env", "GKEY")
    monkeypatch.setenv("GKEY", "canary\nSECRET-42")
    listing = run("providers", "list", "--json")
    assert listing.exit_code == 0, listing.output
    row = json.loads(listing.stdout)["providers"][0]
    assert row["key"] == "$GKEY (unusable: a control character)" and "SECRET" not in listing.output
    tested = run("providers", "test", "ge")
    assert tested.exit_code == 1 and "$GKEY" in tested.output and "SECRET" not in tested.output
