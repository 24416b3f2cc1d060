"""LOCAL ADAPTER (lifecycle branch) for what the core part owns: the configuration and providers.

The lifecycle code (``freehold.lifecycle``, ``freehold.pins``, ``freehold.cli.models``) uses
only the names below, which follow the seams of the issue-11 design note: ``load_config(home)``
giving ``Config.providers`` (name, kind, base_url, api_key_env), ``Config.aliases`` and
``Config.routes``, and a provider object with ``list_models()``. Until core's
``freehold/config.py`` and ``freehold/providers/`` are merged, this module reads
``FREEHOLD_HOME/config.toml`` itself, read-only, and cannot open a provider.

When core merges: make ``load_config`` core's ``freehold.config.load_config`` and
``open_provider`` core's way of building a provider from its configuration, then delete the
rest of this module.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from freehold.archive import home_dir
from freehold.errors import FreeholdError

__all__ = [
    "CONFIG_FILE",
    "Config",
    "Lister",
    "ProviderConfig",
    "home_dir",
    "load_config",
    "open_provider",
]

CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    base_url: str | None = None
    api_key_env: str | None = None


@dataclass(frozen=True)
class Config:
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    routes: dict[str, list[str]] = field(default_factory=dict)


class Lister(Protocol):
    """The one provider method the lifecycle part calls."""

    def list_models(self) -> list[str]: ...


def load_config(home: Path | None = None) -> Config:
    """``FREEHOLD_HOME/config.toml`` as a ``Config``; no file is an empty configuration."""
    path = (home or home_dir()) / CONFIG_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FreeholdError(f"{path}: not valid TOML ({error}) — fix it by hand") from error
    providers = {
        name: ProviderConfig(
            name, str(table.get("kind", "")), table.get("base_url"), table.get("api_key_env")
        )
        for name, table in _tables(document, "providers").items()
    }
    aliases = {str(k): str(v) for k, v in document.get("aliases", {}).items()}
    routes = {
        name: [str(ref) for ref in table.get("models", [])]
        for name, table in _tables(document, "routes").items()
    }
    return Config(providers, aliases, routes)


def _tables(document: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    value = document.get(key, {})
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def open_provider(settings: ProviderConfig) -> Lister:
    """A provider ready to list its models. Core's provider plugins are not on this branch."""
    raise FreeholdError(
        f"provider {settings.name}: listing what it serves needs freehold's provider plugins "
        "(not in this build)"
    )
