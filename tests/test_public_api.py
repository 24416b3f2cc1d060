"""Every module declares ``__all__``, and it names exactly its public definitions."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import freehold

MODULES = sorted(info.name for info in pkgutil.walk_packages(freehold.__path__, prefix="freehold."))


@pytest.mark.parametrize("name", MODULES)
def test_all_names_public_definitions(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    if declared is None:
        assert module.__file__ and module.__file__.endswith("__init__.py"), f"{name}: no __all__"
        return
    for item in declared:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    defined = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == name
    }
    assert defined <= set(declared), f"{name}: public but not in __all__: {defined - set(declared)}"
