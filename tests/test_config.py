"""config.toml: read with tomllib, checked key by key, written with tomlkit (hand edits kept)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from freehold.config import (
    ModelRef,
    Policy,
    ProviderConfig,
    add_provider,
    load_config,
    parse_ref,
    remove_provider,
)
from freehold.errors import ConfigError

ISSUE_EXAMPLE = """\
[providers.claude]
kind = "anthropic"                 # anthropic | openai | gemini
api_key_env = "ANTHROPIC_API_KEY"  # where the key comes from; base_url optional
[providers.local]
kind = "openai"                    # any OpenAI-compatible server
base_url = "http://127.0.0.1:11434/v1"   # Ollama, llama.cpp, vLLM, LM Studio…
[aliases]
sonnet = "claude:claude-sonnet-4-5-20250929"
[routes.default]
models = ["claude:claude-sonnet-4-5-20250929", "local:qwen2.5:7b"]   # first = primary
"""


def _write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_an_empty_config(_isolated_home: Path) -> None:
    config = load_config()
    assert config.providers == {} and config.routes == {} and config.aliases == {}
    assert config.path == _isolated_home / "config.toml"
    assert not config.path.exists()


def test_the_issue_example_loads_and_resolves(_isolated_home: Path) -> None:
    _write(_isolated_home, ISSUE_EXAMPLE)
    config = load_config()
    assert config.providers["local"] == ProviderConfig(
        "local", "openai", base_url="http://127.0.0.1:11434/v1"
    )
    assert config.providers["claude"].api_key_env == "ANTHROPIC_API_KEY"
    route = config.resolve("default")
    assert route.kind == "route"
    # split at the first colon: the model id keeps its own
    assert route.models == (
        ModelRef("claude", "claude-sonnet-4-5-20250929"),
        ModelRef("local", "qwen2.5:7b"),
    )
    alias = config.resolve("sonnet")
    assert (alias.kind, alias.models) == (
        "alias",
        (ModelRef("claude", "claude-sonnet-4-5-20250929"),),
    )
    assert config.resolve("local:qwen2.5:7b").models == (ModelRef("local", "qwen2.5:7b"),)
    assert config.router == Policy()


def test_a_route_may_name_aliases(_isolated_home: Path) -> None:
    _write(_isolated_home, ISSUE_EXAMPLE + '[routes.fast]\nmodels = ["sonnet", "local:x"]\n')
    target = load_config().route("fast")
    assert target.written == ("sonnet", "local:x")
    assert target.models[0] == ModelRef("claude", "claude-sonnet-4-5-20250929")


@pytest.mark.parametrize(
    ("text", "key", "todo"),
    [
        (
            '[providers.x]\nkind = "antropic"\n',
            "providers.x.kind",
            "one of: anthropic, gemini, openai",
        ),
        ('[providers.x]\nkind = "openai"\napi_key = "sk-1"\n', "providers.x.api_key", "keyring"),
        (
            '[providers.x]\nkind = "openai"\napi_key_env = "sk-freehold-canary-1"\n',
            "providers.x.api_key_env",
            "not the key itself",
        ),
        (
            '[providers.x]\nkind = "openai"\nbase_url = "127.0.0.1"\n',
            "providers.x.base_url",
            "http",
        ),
        ('[providers.x]\nkind = "openai"\ntimeout = -1\n', "providers.x.timeout", "above 0"),
        ('[providers.x]\nkind = "openai"\ncontext_window = 1.5\n', "context_window", "whole"),
        ('[providers.x]\nkind = "openai"\nimages = "yes"\n', "providers.x.images", "true or false"),
        ('[providers.x]\nkind = "openai"\nmodel = "m"\n', "providers.x.model", "use one of"),
        ("[provider.x]\nkind = 1\n", "provider", "spelling"),
        ('[aliases]\nfast = "gpt"\n', "aliases.fast", "provider:exact-model-id"),
        ('[aliases]\nfast = "nobody:gpt"\n', "'nobody'", "providers add nobody"),
        ('[routes.r]\nmodels = "x:y"\n', "routes.r.models", "must be a list"),
        ('[routes.r]\nmodels = ["x:y"]\n', "'x'", "providers add x"),
        ("[router]\nattempts_per_model = 0\n", "router.attempts_per_model", "above 0"),
        ('[providers.x]\nkind = "openai"\nconnect_timeout = inf\n', "connect_timeout", "at most"),
        ('[providers.x]\nkind = "openai"\ntimeout = nan\n', "providers.x.timeout", "above 0"),
        ('[providers.x]\nkind = "openai"\nmax_tokens = 10000000000\n', "max_tokens", "at most"),
        ("[router]\nbackoff_base = inf\n", "router.backoff_base", "from 0 to 3,600"),
        ("[router]\nbackoff_max = 1e300\n", "router.backoff_max", "from 0 to 3,600"),
        ("[router]\nmax_retry_after = nan\n", "router.max_retry_after", "from 0"),
        (
            '[providers.x]\nkind = "openai"\nbase_url = "http://[::1/v1"\n',
            "providers.x.base_url is 'http://[::1/v1' (Invalid IPv6 URL)",
            "http(s) URL",
        ),
        (
            '[providers.x]\nkind = "openai"\nbase_url = "http://127.0.0.1:99999/v1"\n',
            "providers.x.base_url",
            "http(s) URL",
        ),
        (
            '[providers.x]\nkind = "openai"\nbase_url = "http://a b/v1"\n',
            "providers.x.base_url",
            "http(s) URL",
        ),
        ('[providers.x]\nkind = "openai"\nbase_url = "http:///v1"\n', "no host", "http(s)"),
        ("[router]\nretries = 3\n", "router.retries", "attempts_per_model"),
        ("[providers.x\n", "config.toml", "not valid TOML"),
        ('[providers."a b"]\nkind = "openai"\n', "providers.a b", "letters, digits"),
    ],
)
def test_every_bad_value_is_one_line_naming_the_file_the_key_and_what_to_do(
    _isolated_home: Path, text: str, key: str, todo: str
) -> None:
    _write(_isolated_home, text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(_isolated_home / "config.toml"))
    assert key in message and todo in message and " — " in message


def test_unknown_names_say_what_exists(_isolated_home: Path) -> None:
    _write(_isolated_home, ISSUE_EXAMPLE)
    config = load_config()
    with pytest.raises(ConfigError, match=r"no route 'fast' \(routes: default\)"):
        config.route("fast")
    with pytest.raises(ConfigError, match="not a model reference, an alias or a route"):
        config.resolve("gpt-5")
    with pytest.raises(ConfigError, match="not a model reference, an alias"):
        config.model("default")  # a route is not a model


def test_parse_ref_splits_at_the_first_colon() -> None:
    assert parse_ref("local:qwen2.5:7b") == ModelRef("local", "qwen2.5:7b")
    assert parse_ref("gpt-5") is None
    assert parse_ref(":x") is None and parse_ref("x:") is None


def test_writing_keeps_comments_and_hand_edits(_isolated_home: Path) -> None:
    path = _write(_isolated_home, "# my providers, by hand\n" + ISSUE_EXAMPLE)
    add_provider(
        ProviderConfig(
            "mistral",
            "openai",
            base_url="https://api.mistral.ai/v1/",
            api_key_env="MISTRAL_API_KEY",
        )
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my providers, by hand\n")
    assert "# anthropic | openai | gemini" in text and "# first = primary" in text
    added = '[providers.mistral]\nkind = "openai"\nbase_url = "https://api.mistral.ai/v1"\n'
    assert added + 'api_key_env = "MISTRAL_API_KEY"\n' in text
    config = load_config()
    assert set(config.providers) == {"claude", "local", "mistral"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # replacing a provider writes only what differs from the defaults
    add_provider(ProviderConfig("mistral", "openai", timeout=5.0))
    assert load_config().providers["mistral"] == ProviderConfig("mistral", "openai", timeout=5.0)


def test_writing_a_first_config_makes_a_private_file(_isolated_home: Path) -> None:
    path = add_provider(ProviderConfig("local", "openai", base_url="http://127.0.0.1:8080/v1"))
    assert path == _isolated_home / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config().providers["local"].base_url == "http://127.0.0.1:8080/v1"


def test_remove_refuses_while_a_route_or_alias_names_the_provider(_isolated_home: Path) -> None:
    path = _write(_isolated_home, ISSUE_EXAMPLE)
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match=r"named by aliases.sonnet, routes.default — change"):
        remove_provider("claude")
    assert path.read_text(encoding="utf-8") == before
    with pytest.raises(ConfigError, match="no provider 'nobody'"):
        remove_provider("nobody")
    path.write_text(before.replace('"local:qwen2.5:7b"', ""), encoding="utf-8")
    remove_provider("local")
    assert set(load_config().providers) == {"claude"}
    assert "# anthropic | openai | gemini" in path.read_text(encoding="utf-8")


def test_a_bad_hand_edit_is_never_overwritten(_isolated_home: Path) -> None:
    path = _write(_isolated_home, '[providers.x]\nkind = "nope"\n')
    with pytest.raises(ConfigError, match=r"providers\.x\.kind"):
        add_provider(ProviderConfig("y", "openai"))
    assert path.read_text(encoding="utf-8") == '[providers.x]\nkind = "nope"\n'
