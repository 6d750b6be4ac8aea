"""Lazy public names for packages (PEP 562): the helper rivers and its plugin distributions share.

A package whose public names live in submodules, and that must stay cheap to
import (rivers loads every plugin's entry point in every process), declares
them once and gets its module ``__getattr__`` and ``__dir__``::

    from rivers.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "FilesystemIOHandler": ".handler",   # relative to the package
        "LocalStore": ".store",
    })

The submodule is imported on first access of one of its names, and the value
is then cached in the package's namespace.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose ``exports`` map public names to the modules defining them.

    Module names starting with ``.`` are relative to ``package``. An unknown
    name raises :class:`AttributeError` as for any module.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
