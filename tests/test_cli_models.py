"""``freehold models`` and ``freehold models check`` through CliRunner, on a real config.toml.

The providers' model lists come from a small fake provider object, and in one test from the
loopback wire server through the real provider; the lifecycle judgement is the real table's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold import lifecycle
from freehold.cli import cli
from freehold.cli import models as models_cli
from freehold.config import ProviderConfig
from tests.providers.servers import WireServer

CONFIG = """
[providers.claude]
kind = "anthropic"
api_key_env = "ANTHROPIC_API_KEY"
[providers.oa]
kind = "openai"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
[aliases]
sonnet = "claude:claude-sonnet-4-5-20250929"
fast = "oa:gpt-4o"
[routes.default]
models = ["sonnet", "local:qwen2.5:7b", "claude:claude-opus-4-8"]
"""
FINE = """
[providers.claude]
kind = "anthropic"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
[routes.default]
models = ["claude:claude-opus-4-8", "local:qwen2.5:7b"]
"""


class FakeProvider:
    def __init__(self, served: list[str] | None) -> None:
        self.served = served

    def list_models(self) -> list[str]:
        if self.served is None:
            raise ConnectionRefusedError("connection refused by 127.0.0.1:11434")
        return self.served


SERVED = {"claude": ["claude-opus-4-8", "claude-sonnet-5-5"], "oa": ["gpt-4o", "gpt-6-luna"]}


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch) -> None:
    def open_provider(settings: ProviderConfig) -> FakeProvider:
        return FakeProvider(SERVED.get(settings.name))

    monkeypatch.setattr(models_cli, "open_provider", open_provider)


def configure(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), terminal_width=200)


def test_check_fails_on_a_retired_pin_naming_it_and_its_replacement(_isolated_home: Path) -> None:
    configure(_isolated_home, CONFIG)
    result = run("models", "check", "--on", "2026-12-06")
    assert result.exit_code == 1
    assert (
        "retired    claude:claude-sonnet-4-5-20250929  "
        "(alias sonnet, route default #1 via alias sonnet)" in result.output
    )
    assert "The vendor's replacement: claude-sonnet-5-5" in result.output
    assert "retiring   oa:gpt-4o  (alias fast)" in result.output
    assert "unknown    local:qwen2.5:7b" in result.output
    assert "ok         claude:claude-opus-4-8" in result.output
    assert "2 of 4 pins need a move; 1 unknown to the table." in result.output


def test_check_json_says_the_same_and_exits_the_same(_isolated_home: Path) -> None:
    configure(_isolated_home, CONFIG)
    result = run("models", "check", "--json", "--on", "2026-12-06")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["on"] == "2026-12-06"
    pins = {pin["ref"]: pin for pin in report["pins"]}
    sonnet = pins["claude:claude-sonnet-4-5-20250929"]
    assert sonnet["status"] == "retired" and sonnet["pinned"] is True
    assert sonnet["used_in"] == ["alias sonnet", "route default #1 via alias sonnet"]
    retired = sonnet["warnings"][0]
    assert (retired["retires"], retired["replacement"]) == ("2026-11-30", "claude-sonnet-5-5")
    assert pins["oa:gpt-4o"]["pinned"] is False
    assert [w["kind"] for w in pins["local:qwen2.5:7b"]["warnings"]] == ["unknown", "unpinned"]
    assert {s["name"] for s in report["lifecycle_table"]["sources"]} >= {"bydtech-model-retire"}


def test_check_passes_when_nothing_is_deprecated_even_with_unknown_pins(
    _isolated_home: Path,
) -> None:
    configure(_isolated_home, FINE)
    result = run("models", "check", "--on", "2026-12-06")
    assert result.exit_code == 0, result.output
    assert "no pin is retired, retiring or deprecated; 1 unknown to the table." in result.output


@pytest.mark.parametrize(("on", "code"), [("2026-10-13", 0), ("2026-10-14", 1), ("2026-11-15", 1)])
def test_check_on_a_given_day(_isolated_home: Path, on: str, code: int) -> None:
    configure(
        _isolated_home, '[providers.oa]\nkind = "openai"\n[aliases]\nx = "oa:gpt-4o-2024-08-06"\n'
    )
    assert run("models", "check", "--on", on).exit_code == code


def test_check_prints_model_names_as_they_are(_isolated_home: Path) -> None:
    """``x:m`` is no emoji code (rich would print ``xⓂ``), nor is ``x:fire:``."""
    configure(
        _isolated_home,
        '[providers.x]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[routes.default]\nmodels = ["x:m", "x:fire:"]\n',
    )
    result = run("models", "check", "--on", "2026-12-06")
    assert result.exit_code == 0, result.output
    assert "unknown    x:m  (route default #1)" in result.output
    assert "    x:m: freehold's lifecycle table" in result.output
    assert "unknown    x:fire:  (route default #2)" in result.output
    assert "Ⓜ" not in result.output and "🔥" not in result.output


def test_check_without_pins_says_so(_isolated_home: Path) -> None:
    result = run("models", "check")
    assert result.exit_code == 0
    assert "No pins in use: config.toml has no aliases or routes." in result.output


def test_a_bad_user_file_is_one_line_naming_it(_isolated_home: Path) -> None:
    configure(_isolated_home, CONFIG)
    (_isolated_home / lifecycle.USER_FILE).write_text("[[model]]\nid = \n", encoding="utf-8")
    for args in (["models", "check"], ["models"]):
        result = run(*args)
        assert result.exit_code == 1
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: {_isolated_home / lifecycle.USER_FILE}: not valid TOML")


def test_a_bad_config_is_one_line_naming_it(_isolated_home: Path) -> None:
    configure(_isolated_home, "[providers.claude\n")
    result = run("models", "check")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {_isolated_home / 'config.toml'}: not valid TOML")


def test_models_lists_what_each_provider_serves_beside_the_pins(
    _isolated_home: Path, providers: None
) -> None:
    configure(_isolated_home, CONFIG)
    result = run("models")
    assert result.exit_code == 0, result.output
    assert "claude (anthropic): serves 2 models now" in result.output
    assert "Serves now: claude-opus-4-8, claude-sonnet-5-5" in result.output
    assert "local (openai, http://127.0.0.1:11434/v1): what it serves is unknown" in result.output
    assert "connection refused by 127.0.0.1:11434" in result.output
    assert "Lifecycle table built" in result.output


def test_models_json(_isolated_home: Path, providers: None) -> None:
    configure(_isolated_home, CONFIG)
    result = run("models", "--json")
    assert result.exit_code == 0, result.output
    states = {state["name"]: state for state in json.loads(result.output)["providers"]}
    assert list(states) == ["claude", "oa", "local"]
    claude = {pin["model"]: pin for pin in states["claude"]["pins"]}
    assert (
        claude["claude-sonnet-4-5-20250929"]["served_now"] is False
    )  # retired: gone from the list
    assert claude["claude-opus-4-8"]["served_now"] is True
    assert claude["claude-opus-4-8"]["status"] == "ok"
    assert states["oa"]["serves"] == ["gpt-4o", "gpt-6-luna"]
    assert states["local"]["serves"] is None and "connection refused" in states["local"]["error"]
    assert states["local"]["pins"][0]["served_now"] is None


def test_a_route_naming_no_configured_provider_is_refused_with_what_to_do(
    _isolated_home: Path, providers: None
) -> None:
    configure(_isolated_home, CONFIG + '[routes.other]\nmodels = ["gone:some-model"]\n')
    result = run("models", "--json")
    assert result.exit_code == 1
    assert "names provider 'gone', which is not configured" in result.output
    assert "freehold providers add gone" in result.output


def test_models_without_providers_says_how_to_add_one(_isolated_home: Path) -> None:
    result = run("models")
    assert result.exit_code == 0
    assert "No providers in config.toml" in result.output


def test_models_lists_what_a_real_server_serves_beside_the_pins(
    _isolated_home: Path, wire: WireServer
) -> None:
    # No fake here: the provider is built from config.toml and asks the loopback wire server.
    configure(
        _isolated_home,
        f"""
[providers.local]
kind = "openai"
base_url = "{wire.base_url("openai")}"
[providers.gone]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
connect_timeout = 1.0
[routes.default]
models = ["local:model-b-20250101", "local:model-z"]
""",
    )
    result = run("models", "--json")
    assert result.exit_code == 0, result.output
    states = {state["name"]: state for state in json.loads(result.stdout)["providers"]}
    assert states["local"]["serves"] == ["model-a", "model-b-20250101"]
    served_now = {pin["model"]: pin["served_now"] for pin in states["local"]["pins"]}
    assert served_now == {"model-b-20250101": True, "model-z": False}
    assert states["gone"]["serves"] is None and states["gone"]["error"]
