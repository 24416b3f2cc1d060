"""The plugin manager: built-in importers, exporters and providers, then the ``freehold``
entry points.

Third-party plugins load from the ``freehold`` entry-point group unless ``FREEHOLD_LOAD_PLUGINS``
is set to an empty string (the tests do this, so an installed plugin never changes a result).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import pluggy

from freehold import hookspecs

__all__ = ["exporters", "importers", "pm", "providers"]

pm = pluggy.PluginManager("freehold")
pm.add_hookspecs(hookspecs)


class _BuiltIns:
    @hookspecs.hookimpl
    def register_importers(self, register: Any) -> None:
        from freehold.importers import (
            aistudio,
            chatgpt,
            claude,
            freehold,
            gemini,
            grok,
            librechat,
            llm,
            mistral,
            openwebui,
        )

        register(freehold)
        register(chatgpt)
        register(claude)
        register(openwebui)
        register(librechat)
        register(aistudio)
        register(gemini)
        register(grok)
        register(mistral)
        register(llm)

    @hookspecs.hookimpl
    def register_exporters(self, register: Any) -> None:
        from freehold.exporters import csv, html, json, jsonl, markdown, openwebui, pdf

        register(json)
        register(markdown)
        register(html)
        register(pdf)
        register(csv)
        register(jsonl)
        register(openwebui)

    @hookspecs.hookimpl
    def register_providers(self, register: Any) -> None:
        from freehold.providers import anthropic, gemini, openai

        register(anthropic.AnthropicProvider)
        register(openai.OpenAIProvider)
        register(gemini.GeminiProvider)


pm.register(_BuiltIns(), name="freehold-builtins")


@cache
def _load_entry_points() -> None:
    """Third-party plugins load on first use, so tests can switch them off beforehand."""
    if os.environ.get("FREEHOLD_LOAD_PLUGINS", "1") != "":
        pm.load_setuptools_entrypoints("freehold")


def importers() -> dict[str, Any]:
    """Importer modules by ``KIND``, in detection order."""
    _load_entry_points()
    found: dict[str, Any] = {}
    pm.hook.register_importers(register=lambda module: found.setdefault(module.KIND, module))
    return found


def exporters() -> dict[str, Any]:
    """Exporter modules by ``FORMAT``."""
    _load_entry_points()
    found: dict[str, Any] = {}
    pm.hook.register_exporters(register=lambda module: found.setdefault(module.FORMAT, module))
    return found


def providers() -> dict[str, Any]:
    """Provider classes by ``KIND``."""
    _load_entry_points()
    found: dict[str, Any] = {}
    pm.hook.register_providers(register=lambda cls: found.setdefault(cls.KIND, cls))
    return found
