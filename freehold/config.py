"""``$FREEHOLD_HOME/config.toml``: the providers, model aliases and routes freehold may call.

::

    [providers.claude]
    kind = "anthropic"                  # a registered provider kind: anthropic | openai | gemini
    api_key_env = "ANTHROPIC_API_KEY"   # the key's environment variable (else the OS keyring)
    [providers.local]
    kind = "openai"                     # any OpenAI-compatible server is configuration only
    base_url = "http://127.0.0.1:11434/v1"
    [aliases]
    sonnet = "claude:claude-sonnet-4-5-20250929"
    [routes.default]
    models = ["sonnet", "local:qwen2.5:7b"]   # first = primary, the rest fail-overs in order
    [router]                            # optional: the router's policy (router.Policy)
    attempts_per_model = 2

A model reference is ``provider:exact-model-id``, split at the first colon (model ids such as
``qwen2.5:7b`` keep theirs). Reading uses the standard library's ``tomllib``; writing
(``add_provider``/``remove_provider``) goes through ``tomlkit``, so a hand-written file keeps
its comments, order and layout. Every bad value is refused when the file is read, with one
line naming config.toml, the key, and what to do (``ConfigError``). A key is never stored
here: ``api_key`` in a provider table is refused (``keys.py`` reads the environment or the
keyring). The file is written whole to a temporary file and renamed, 0600 (``_private``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import tomlkit

from freehold import _private
from freehold.archive import home_dir
from freehold.errors import ConfigError

__all__ = [
    "CONFIG_NAME",
    "Config",
    "ModelRef",
    "Policy",
    "ProviderConfig",
    "Target",
    "add_provider",
    "config_path",
    "load_config",
    "parse_ref",
    "remove_provider",
]

CONFIG_NAME = "config.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP = {"providers", "aliases", "routes", "router", "backup"}  # [backup]: freehold.backup.settings


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One ``[providers.NAME]`` table. ``None`` means "the kind's own default" (``Provider``)."""

    name: str
    kind: str
    base_url: str | None = None
    api_key_env: str | None = None
    context_window: int | None = None  # tokens the model reads; else the kind's default
    images: bool | None = None  # whether its models take images; else the kind's default
    timeout: float = 60.0  # seconds to wait for each read, the first byte included
    connect_timeout: float = 10.0
    max_tokens: int = 4096  # the longest answer asked for


@dataclass(frozen=True, slots=True)
class Policy:
    """The router's numbers, ``[router]`` in config.toml (docs/decisions.md says why these).

    A model is tried ``attempts_per_model`` times while its faults are retryable, waiting
    between tries a random time up to ``backoff_base`` × 2^(try-1), capped at
    ``backoff_max`` ("full jitter"), or what Retry-After asks when it asks. A wait longer
    than ``max_retry_after`` is not waited for: the route fails over at once (or, on its last
    model, gives up and says when to try again). ``circuit_failures`` retryable faults in a
    row from one provider open its circuit: it is skipped for ``circuit_cooldown`` seconds,
    then tried once.
    """

    attempts_per_model: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 10.0
    circuit_failures: int = 3
    circuit_cooldown: float = 30.0


_PROVIDER_KEYS = {f.name for f in dataclasses.fields(ProviderConfig)} - {"name"}


@dataclass(frozen=True, slots=True)
class ModelRef:
    """``provider:exact-model-id``."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class Target:
    """What ``-m``/``-r`` named: the models to try in order, and how each was written
    (``written[i]`` is the alias or reference the config or the command line gave)."""

    name: str
    kind: str  # "model", "alias" or "route"
    models: tuple[ModelRef, ...]
    written: tuple[str, ...]


@dataclass(slots=True)
class Config:
    """The whole file, checked. ``path`` is where it was (or would be) read from."""

    path: Path
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    routes: dict[str, list[str]] = field(default_factory=dict)
    router: Policy = field(default_factory=Policy)

    def resolve(self, name: str) -> Target:
        """A model reference, an alias or a route name (in that order) → ``Target``."""
        if ":" in name:
            return self.model(name)
        if name in self.aliases:
            return self.model(name)
        if name in self.routes:
            return self.route(name)
        raise self._unknown(name)

    def model(self, name: str) -> Target:
        """``-m``: a reference or an alias."""
        if ":" not in name and name not in self.aliases:
            raise self._unknown(name)
        ref = self._ref(name, f"model {name!r}")
        return Target(name, "alias" if ":" not in name else "model", (ref,), (name,))

    def route(self, name: str) -> Target:
        """``-r``: a route; its entries may be aliases."""
        if name not in self.routes:
            known = ", ".join(sorted(self.routes)) or "none yet"
            raise ConfigError(
                f"{self.path}: no route {name!r} (routes: {known}) — add [routes.{name}] "
                'with models = ["provider:model", …]'
            )
        written = tuple(self.routes[name])
        refs = tuple(self._ref(item, f"routes.{name}") for item in written)
        return Target(name, "route", refs, written)

    def _ref(self, written: str, where: str) -> ModelRef:
        text = self.aliases.get(written, written)
        ref = parse_ref(text)
        if ref is None:
            raise ConfigError(
                f"{self.path}: {where}: {written!r} is neither provider:model nor an alias — "
                "write it as provider:exact-model-id"
            )
        if ref.provider not in self.providers:
            raise ConfigError(
                f"{self.path}: {where}: {text!r} names provider {ref.provider!r}, which is not "
                f"configured — run `freehold providers add {ref.provider} --kind …`"
            )
        return ref

    def _unknown(self, name: str) -> ConfigError:
        return ConfigError(
            f"{self.path}: {name!r} is not a model reference, an alias or a route — give "
            "provider:exact-model-id, or add it under [aliases] or [routes]"
        )


def parse_ref(text: str) -> ModelRef | None:
    """``provider:model`` split at the first colon; None when either side is empty."""
    provider, colon, model = text.partition(":")
    if not colon or not provider or not model.strip():
        return None
    return ModelRef(provider, model)


def config_path(home: Path | None = None) -> Path:
    return (home if home is not None else home_dir()) / CONFIG_NAME


def load_config(home: Path | None = None) -> Config:
    """The checked configuration; an empty one when the file does not exist yet."""
    path = config_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error}) — fix or remove the file") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}) — fix that line") from error
    return _checked(path, data)


def _checked(path: Path, data: dict[str, Any]) -> Config:
    for key in data:
        if key not in _TOP:
            _fail(path, key, "is not a setting freehold knows", "remove it or check its spelling")
    providers = _table(path, data, "providers")
    config = Config(
        path,
        providers={n: _provider(path, n, v) for n, v in providers.items()},
        aliases={n: _alias(path, n, v) for n, v in _table(path, data, "aliases").items()},
        routes={n: _route(path, n, v) for n, v in _table(path, data, "routes").items()},
        router=_policy(path, _table(path, data, "router")),
    )
    for name in config.aliases:
        config.model(name)  # an alias to an unknown provider fails here, not at chat time
    for name in config.routes:
        config.route(name)
    return config


def _fail(path: Path, key: str, problem: str, todo: str) -> NoReturn:
    raise ConfigError(f"{path}: {key} {problem} — {todo}")


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        _fail(path, key, "must be a table", f"write it as [{key}]")
    return dict(value)


def _provider(path: Path, name: str, value: Any) -> ProviderConfig:
    from freehold import plugins

    where = f"providers.{name}"
    if not _NAME.match(name):
        _fail(path, where, "is not a usable name", "use letters, digits, '-', '_' or '.'")
    if not isinstance(value, dict):
        _fail(path, where, "must be a table", f"write it as [{where}]")
    for key in value:
        if key in ("api_key", "key", "token", "secret"):
            _fail(
                path,
                f"{where}.{key}",
                "would store a key in the config",
                f"remove it; name an environment variable with api_key_env, or run "
                f"`freehold providers add {name} --key` to keep it in the OS keyring",
            )
        if key not in _PROVIDER_KEYS:
            known = ", ".join(sorted(_PROVIDER_KEYS))
            _fail(path, f"{where}.{key}", "is not a provider setting", f"use one of: {known}")
    kinds = sorted(plugins.providers())
    kind = value.get("kind")
    if kind not in kinds:
        _fail(path, f"{where}.kind", f"is {kind!r}", f"set it to one of: {', '.join(kinds)}")
    return ProviderConfig(
        name=name,
        kind=str(kind),
        base_url=_url(path, where, value.get("base_url")),
        api_key_env=_env_name(path, where, value.get("api_key_env")),
        context_window=_number(path, f"{where}.context_window", value, int, None),
        images=_flag(path, f"{where}.images", value.get("images")),
        timeout=_number(path, f"{where}.timeout", value, float, 60.0),
        connect_timeout=_number(path, f"{where}.connect_timeout", value, float, 10.0),
        max_tokens=_number(path, f"{where}.max_tokens", value, int, 4096),
    )


def _url(path: Path, where: str, value: Any) -> str | None:
    """An http(s) URL as the standard library parses it: a host, a port in range (when
    given), nothing an HTTP client would refuse later (an unclosed ``[``, a space)."""
    if value is None:
        return None
    if not isinstance(value, str) or _url_problem(value):
        why = _url_problem(value) if isinstance(value, str) else "not text"
        _fail(
            path,
            f"{where}.base_url",
            f"is {value!r} ({why})",
            'give an http(s) URL, e.g. "http://127.0.0.1:11434/v1"',
        )
    return str(value).rstrip("/")


def _url_problem(text: str) -> str | None:
    if any(c.isspace() or not c.isprintable() for c in text):
        return "it holds a space or a control character"
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 — parsed on access: raises for a port out of range
    except ValueError as error:
        return str(error)
    if parts.scheme not in ("http", "https"):
        return "not http or https"
    if not parts.hostname:
        return "no host"
    return None


def _env_name(path: Path, where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ENV.match(value):
        _fail(
            path,
            f"{where}.api_key_env",
            "must be the name of an environment variable (not the key itself)",
            'write e.g. api_key_env = "ANTHROPIC_API_KEY"',
        )
    return str(value)


# The largest value each number may take: finite, and far beyond any real use, so a slip
# (``inf``, ``1e300``, a value in milliseconds) is refused here, not overflowed at chat time.
_MOST = {
    "context_window": 100_000_000,  # tokens
    "max_tokens": 10_000_000,
    "timeout": 3600.0,  # seconds
    "connect_timeout": 3600.0,
    "attempts_per_model": 100,
    "backoff_base": 3600.0,
    "backoff_max": 3600.0,
    "max_retry_after": 86_400.0,
    "circuit_failures": 1000,
    "circuit_cooldown": 86_400.0,
}


def _in_range(value: Any, kind: type, key: str, *, zero: bool) -> bool:
    """A finite number of ``kind`` (a whole one for ``int``), above 0 (0 too where
    ``zero``), at most ``_MOST[key]``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    if kind is int and not isinstance(value, int):
        return False
    if not math.isfinite(value) or value > _MOST[key.rpartition(".")[2]]:
        return False
    return value >= 0 if zero else value > 0


def _number(path: Path, key: str, table: dict[str, Any], kind: type, default: Any) -> Any:
    value = table.get(key.rpartition(".")[2], default)
    if value is None:
        return None
    if not _in_range(value, kind, key, zero=False):
        word = "a whole number" if kind is int else "a number"
        most = _MOST[key.rpartition(".")[2]]
        _fail(path, key, f"is {value!r}", f"give {word} above 0, at most {most:,g}")
    return kind(value)


def _flag(path: Path, key: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        _fail(path, key, f"is {value!r}", "write true or false")
    return None if value is None else bool(value)


def _alias(path: Path, name: str, value: Any) -> str:
    if not isinstance(value, str) or parse_ref(value) is None:
        _fail(path, f"aliases.{name}", f"is {value!r}", 'write it as "provider:exact-model-id"')
    return str(value)


def _route(path: Path, name: str, value: Any) -> list[str]:
    models = value.get("models") if isinstance(value, dict) else None
    if (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m for m in models)
    ):
        _fail(
            path,
            f"routes.{name}.models",
            "must be a list of models",
            'write models = ["provider:model", "alias", …] under [routes.' + name + "]",
        )
    extra = set(value) - {"models"}
    if extra:
        _fail(path, f"routes.{name}.{sorted(extra)[0]}", "is not a route setting", "remove it")
    return [str(model) for model in models]


def _policy(path: Path, table: dict[str, Any]) -> Policy:
    fields = {f.name: f for f in dataclasses.fields(Policy)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            _fail(path, f"router.{key}", "is not a router setting", f"use one of: {known}")
        kind = int if isinstance(getattr(Policy(), key), int) else float
        if not _in_range(value, kind, key, zero=kind is float):
            _fail(
                path,
                f"router.{key}",
                f"is {value!r}",
                f"give a number from 0 to {_MOST[key]:,g} (whole, above 0, for counts)",
            )
        values[key] = kind(value)
    return Policy(**values)


# -- writing (tomlkit keeps what a person wrote) -------------------------------------------


def add_provider(
    provider: ProviderConfig,
    home: Path | None = None,
    *,
    before: Callable[[], None] | None = None,
) -> Path:
    """Add or replace ``[providers.NAME]``, keeping the rest of the file as it was written.
    Only settings that differ from the defaults are written. The result is checked before it
    replaces the file; ``before`` runs between the check and the write (``providers add
    --key`` stores the key there), so when either fails the file is as it was."""
    path = config_path(home)
    document = _document(path)
    providers = document.setdefault("providers", tomlkit.table(is_super_table=True))
    table = tomlkit.table()
    defaults = ProviderConfig(provider.name, provider.kind)
    for key in sorted(_PROVIDER_KEYS, key=_key_order):
        value = getattr(provider, key)
        if value is not None and (key == "kind" or value != getattr(defaults, key)):
            table[key] = value.rstrip("/") if key == "base_url" else value
    table.add(tomlkit.nl())
    providers[provider.name] = table
    _write(path, document, before)
    return path


def remove_provider(name: str, home: Path | None = None) -> None:
    """Remove ``[providers.NAME]``, keeping the rest of the file as it was written. Refused
    while an alias or a route still names the provider: the file would no longer load."""
    path = config_path(home)
    config = load_config(home)
    if name not in config.providers:
        raise ConfigError(f"{path}: no provider {name!r} — `freehold providers list` names them")
    users = [f"aliases.{a}" for a, ref in config.aliases.items() if ref.startswith(f"{name}:")]
    for route, models in config.routes.items():
        if any(config.aliases.get(m, m).startswith(f"{name}:") for m in models):
            users.append(f"routes.{route}")
    if users:
        raise ConfigError(
            f"{path}: providers.{name} is still named by {', '.join(users)} — change those "
            "first, then remove it"
        )
    document = _document(path)
    del document["providers"][name]
    _write(path, document)


def _key_order(key: str) -> tuple[int, str]:
    first = ["kind", "base_url", "api_key_env"]
    return (first.index(key) if key in first else len(first), key)


def _document(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = tomlkit.document()
        document.add(tomlkit.comment("freehold configuration: docs/providers.md"))
        return document
    except Exception as error:  # tomlkit raises its own parse errors
        raise ConfigError(f"{path}: not valid TOML ({error}) — fix that line") from error


def _write(
    path: Path, document: tomlkit.TOMLDocument, before: Callable[[], None] | None = None
) -> None:
    text = tomlkit.dumps(document)
    _checked(path, tomllib.loads(text))
    if before is not None:
        before()
    _private.replace(path, text.encode("utf-8"))
