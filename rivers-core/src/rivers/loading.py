"""Collecting asset definitions from modules and packages (Dagster-style)."""

from __future__ import annotations

import importlib
import pkgutil
import types
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from rivers.definitions.assets import Asset


def _definitions_in(module: types.ModuleType) -> list[Asset]:
    from rivers.definitions.assets import Asset

    found: list[Asset] = []
    seen: set[int] = set()
    for value in vars(module).values():
        candidates = value if isinstance(value, (list, tuple)) else (value,)
        for candidate in candidates:
            if isinstance(candidate, Asset) and id(candidate) not in seen and _is_bound(candidate):
                seen.add(id(candidate))
                found.append(candidate)
    return found


def _is_bound(asset: Asset) -> bool:
    return asset.fn is not None or asset.is_external


def load_assets_from_modules(modules: Iterable[types.ModuleType]) -> list[Asset]:
    """Every asset defined at module level (or in module-level lists) of ``modules``.

    An asset reachable from several modules (imported into another) is
    returned once.
    """
    assets: list[Asset] = []
    seen: set[int] = set()
    for module in modules:
        for asset in _definitions_in(module):
            if id(asset) not in seen:
                seen.add(id(asset))
                assets.append(asset)
    return assets


def load_assets_from_package_module(package: types.ModuleType) -> list[Asset]:
    """Every asset of ``package`` and of all its submodules, imported recursively."""
    modules = [package]
    path = getattr(package, "__path__", None)
    if path is not None:
        for info in pkgutil.walk_packages(path, prefix=package.__name__ + "."):
            modules.append(importlib.import_module(info.name))
    return load_assets_from_modules(modules)
