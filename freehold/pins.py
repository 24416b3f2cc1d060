"""The pins in use: every model reference in ``config.toml``'s aliases and routes, where it is
used, its lifecycle, and whether its provider serves it now.

This is what ``freehold models`` shows and ``freehold models check`` judges. It only reads the
configuration; providers are asked for their model lists (one request each) only by
``inventory``, never by ``pins``, so a scheduled check works offline. A provider that cannot be
listed is reported with its error beside the others, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from freehold import lifecycle
from freehold.config import Config, ProviderConfig

__all__ = ["Lister", "Pin", "ProviderState", "inventory", "pins", "uses"]


class Lister(Protocol):
    """What ``inventory`` needs of a provider: its model list."""

    def list_models(self) -> list[str]: ...


@dataclass(frozen=True)
class Pin:
    """One model reference in use, where, and what the lifecycle table says of it."""

    ref: str
    places: tuple[str, ...]
    pinned: bool
    warnings: tuple[lifecycle.ModelWarning, ...]
    served: bool | None = None  # None: the provider's list is not known

    @property
    def provider(self) -> str:
        return lifecycle.split_ref(self.ref)[0]

    @property
    def model_id(self) -> str:
        return lifecycle.split_ref(self.ref)[1]

    @property
    def fails(self) -> bool:
        return any(warning.fails for warning in self.warnings)

    @property
    def status(self) -> str:
        """The worst lifecycle word: retired, retiring, deprecated, unknown or ok."""
        kinds = {warning.kind for warning in self.warnings}
        return next(
            (k for k in ("retired", "retiring", "deprecated", "unknown") if k in kinds), "ok"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "provider": self.provider,
            "model": self.model_id,
            "used_in": list(self.places),
            "pinned": self.pinned,
            "status": self.status,
            "served_now": self.served,
            "warnings": [warning.to_json() for warning in self.warnings],
        }


@dataclass(frozen=True)
class ProviderState:
    """A provider: its settings, what it serves now (or why that is unknown), its pins."""

    name: str
    kind: str | None
    base_url: str | None
    served: tuple[str, ...] | None
    error: str | None
    pins: tuple[Pin, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "base_url": self.base_url,
            "configured": self.kind is not None,
            "serves": list(self.served) if self.served is not None else None,
            "error": self.error,
            "pins": [pin.to_json() for pin in self.pins],
        }


def uses(config: Config) -> dict[str, list[str]]:
    """Each model reference in the aliases and routes, with the places that use it, in order."""
    places: dict[str, list[str]] = {}
    for name, ref in config.aliases.items():
        places.setdefault(ref, []).append(f"alias {name}")
    for route, refs in config.routes.items():
        for position, entry in enumerate(refs, 1):
            ref = config.aliases.get(entry, entry)  # a route may name an alias
            via = f" via alias {entry}" if ref != entry else ""
            places.setdefault(ref, []).append(f"route {route} #{position}{via}")
    return places


def pins(config: Config, *, today: date | None = None) -> list[Pin]:
    """Every reference in use with its lifecycle warnings; asks no provider anything."""
    return [
        Pin(
            ref,
            tuple(places),
            lifecycle.is_pinned(lifecycle.split_ref(ref)[1]),
            tuple(lifecycle.check(ref, today=today)),
        )
        for ref, places in uses(config).items()
    ]


def inventory(
    config: Config,
    *,
    open_provider: Callable[[ProviderConfig], Lister],
    today: date | None = None,
) -> list[ProviderState]:
    """Every configured provider (and any a pin names that is not configured), what it serves
    now, and its pins marked served or not."""
    found = pins(config, today=today)
    names = list(config.providers) + sorted({p.provider for p in found} - set(config.providers))
    return [_state(name, config, found, open_provider) for name in names]


def _state(
    name: str, config: Config, found: list[Pin], open_provider: Callable[[ProviderConfig], Lister]
) -> ProviderState:
    settings = config.providers.get(name)
    mine = [pin for pin in found if pin.provider == name]
    if settings is None:
        missing = f"no provider {name!r} in config.toml, yet a pin names it"
        return ProviderState(name, None, None, None, missing, tuple(mine))
    served, error = _served(settings, open_provider)
    if served is not None:
        have = set(served)
        mine = [Pin(p.ref, p.places, p.pinned, p.warnings, p.model_id in have) for p in mine]
    return ProviderState(name, settings.kind, settings.base_url, served, error, tuple(mine))


def _served(
    settings: ProviderConfig, open_provider: Callable[[ProviderConfig], Lister]
) -> tuple[tuple[str, ...] | None, str | None]:
    try:
        return tuple(sorted(open_provider(settings).list_models())), None
    except Exception as error:  # one provider down must not hide the others; shown, not dropped
        return None, str(error) or type(error).__name__
