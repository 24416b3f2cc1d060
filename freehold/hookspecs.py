"""Plugin hooks: built-ins and third parties register importers, exporters and providers the
same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = [
    "hookimpl",
    "hookspec",
    "register_exporters",
    "register_importers",
    "register_providers",
]

hookspec = pluggy.HookspecMarker("freehold")
hookimpl = pluggy.HookimplMarker("freehold")


@hookspec
def register_importers(register: Callable[[Any], None]) -> None:
    """Call ``register(module)`` for each importer module.

    The module has ``KIND``, ``PARSER_VERSION``, ``detect(path)`` and ``iter_conversations(path)``.
    Built-in importers also expose ``FORMAT`` (an ``importers._skeleton.Format``), which says
    what they claim in a folder holding several exports; a module without it reads the whole
    path it recognises.
    """


@hookspec
def register_exporters(register: Callable[[Any], None]) -> None:
    """Call ``register(module)`` for each exporter (FORMAT, write)."""


@hookspec
def register_providers(register: Callable[[Any], None]) -> None:
    """Call ``register(cls)`` for each provider class: a ``providers.base.Provider`` subclass
    with ``KIND`` (what ``kind =`` names in config.toml) and ``stream(request)``."""
