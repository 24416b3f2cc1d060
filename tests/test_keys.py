"""Keys: the named environment variable, else the OS keyring; never the config."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest

from freehold import keys
from freehold.config import ProviderConfig
from freehold.errors import ConfigError
from tests.providers.memory_keyring import MemoryKeyring


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    store = MemoryKeyring()
    keyring.set_keyring(store)
    yield store
    keyring.set_keyring(before)


def test_the_named_variable_comes_first(
    ring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ProviderConfig("claude", "anthropic", api_key_env="MY_CLAUDE_KEY")
    keys.store_key("claude", "from-the-keyring")
    assert keys.api_key(provider, "ANTHROPIC_API_KEY") == "from-the-keyring"
    assert keys.key_source(provider, "ANTHROPIC_API_KEY") == "keyring"
    monkeypatch.setenv("MY_CLAUDE_KEY", "from-the-env")
    assert keys.api_key(provider, "ANTHROPIC_API_KEY") == "from-the-env"
    assert keys.key_source(provider, "ANTHROPIC_API_KEY") == "$MY_CLAUDE_KEY"
    assert ring.store == {("freehold", "claude"): "from-the-keyring"}


def test_the_vendors_usual_variable_only_for_its_own_endpoint(
    ring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-000")
    official = ProviderConfig("openai", "openai")
    server = ProviderConfig("router", "openai", base_url="https://openrouter.example/v1")
    assert keys.api_key(official, "OPENAI_API_KEY") == "sk-real-openai-key-000"
    # an OpenAI key is never handed to another OpenAI-compatible server by default
    assert keys.api_key(server, "OPENAI_API_KEY") is None
    assert keys.key_source(server, "OPENAI_API_KEY") == "none"


def test_forget_key(ring: MemoryKeyring) -> None:
    keys.store_key("local", "k")
    assert keys.forget_key("local") is True
    assert keys.forget_key("local") is False
    assert ring.store == {}


def test_no_keyring_counts_as_no_key_and_storing_says_what_to_do() -> None:
    # This machine has no OS keyring backend: keyring's own "fail" backend answers.
    assert "fail" in type(keyring.get_keyring()).__module__
    assert keys.api_key(ProviderConfig("x", "openai", base_url="http://127.0.0.1:1/v1")) is None
    with pytest.raises(ConfigError, match="--api-key-env"):
        keys.store_key("x", "k")


@pytest.mark.parametrize(
    "bad", ["canary\nSECRET-42", "canary\tSECRET-42", "canary\x7fSECRET-42", "canarySÉCRET-42"]
)
def test_a_key_no_http_header_can_carry_is_refused_by_where_it_is_never_by_its_value(
    ring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    provider = ProviderConfig("ge", "gemini", base_url="http://127.0.0.1:1/g", api_key_env="GKEY")
    monkeypatch.setenv("GKEY", bad)
    with pytest.raises(ConfigError, match=r"\$GKEY") as caught:
        keys.api_key(provider)
    assert "SECRET" not in str(caught.value) and "canary" not in str(caught.value)
    assert "SECRET" not in keys.key_source(provider) and "unusable" in keys.key_source(provider)
    monkeypatch.delenv("GKEY")
    ring.store[("freehold", "ge")] = bad  # put there by another tool: read, then refused
    with pytest.raises(ConfigError, match="keyring") as caught:
        keys.api_key(provider)
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ConfigError, match="keyring") as caught:
        keys.store_key("other", bad)
    assert "SECRET" not in str(caught.value) and ("freehold", "other") not in ring.store


def test_a_key_with_spaces_around_it_is_read_without_them(
    ring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ProviderConfig("oa", "openai", api_key_env="OKEY")
    monkeypatch.setenv("OKEY", "  sk-usable-key-0123 \n")
    assert keys.api_key(provider) == "sk-usable-key-0123"
