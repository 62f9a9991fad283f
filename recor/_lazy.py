"""Imports put off until first use, so a command pays only for the libraries it runs.

pandas, geopandas, shapely and pyogrio take about half a second to import; ``recor import
undo``, ``recor summary`` or ``--help`` use none of them. Packages re-export their public
names through :func:`lazy_exports` (a module ``__getattr__``); modules import what only some
of their functions use inside those functions.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


class _LazyPackage(types.ModuleType):
    """A package whose re-exported function keeps its name over a submodule of that name.

    ``recor.registry.history`` is both a submodule and the function the package exports;
    importing the submodule later sets the package attribute to the module, as Python
    does for every submodule, where an eager ``from .history import history`` had put the
    function back. Here the function is bound instead, as before.
    """

    _shadowing: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._shadowing and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: each exported name imported from its module on use.

    ``exports`` maps a public name to the submodule (relative to ``package``) defining it.
    The value found is kept in the package, so the next look-up is a plain attribute.
    Names equal to their submodule's name stay the exported object (see ``_LazyPackage``).
    """
    module = sys.modules[package]
    shadowing = frozenset(name for name, sub in exports.items() if name == sub)
    if shadowing:
        module.__class__ = type("_LazyPackage", (_LazyPackage,), {"_shadowing": shadowing})

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook's name)
        if name not in exports:
            if name.startswith("__"):
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            # a submodule, as the eager imports made every one an attribute
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(module, name, value)
        return value

    return __getattr__
