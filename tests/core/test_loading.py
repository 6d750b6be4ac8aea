"""Collecting assets from modules and packages (Dagster's load_assets_from_*)."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

import rivers as rs


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``pipes`` with a submodule, a sub-package and an import of a sibling's asset."""
    root = tmp_path / "pipes"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text(textwrap.dedent("""
        import rivers as rs

        @rs.Asset
        def top():
            return 1
    """))
    (root / "raw.py").write_text(textwrap.dedent("""
        import rivers as rs

        @rs.Asset(group="raw")
        def orders():
            return [1, 2]

        pending = rs.Asset(group="raw")          # not bound to a function: not an asset yet
        EXTRA = [rs.Asset(lambda: 3, name="listed")]
        helper = 42
    """))
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "report.py").write_text(textwrap.dedent("""
        import rivers as rs
        from pipes.raw import orders             # imported asset: must not be collected twice

        @rs.Asset
        def total(orders):
            return sum(orders)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "pipes"
    for name in [m for m in sys.modules if m == "pipes" or m.startswith("pipes.")]:
        del sys.modules[name]


def test_load_assets_from_modules_collects_module_level_and_listed_assets(package):
    raw = importlib.import_module("pipes.raw")
    assets = rs.load_assets_from_modules([raw])
    assert sorted(a.name for a in assets) == ["listed", "orders"]


def test_an_asset_reachable_from_two_modules_is_returned_once(package):
    raw = importlib.import_module("pipes.raw")
    report = importlib.import_module("pipes.sub.report")
    names = [a.name for a in rs.load_assets_from_modules([raw, report])]
    assert sorted(names) == ["listed", "orders", "total"]


def test_load_assets_from_package_module_walks_submodules_and_runs(package):
    assets = rs.load_assets_from_package_module(importlib.import_module(package))
    assert sorted(a.name for a in assets) == ["listed", "orders", "top", "total"]
    repo = rs.CodeRepository(assets=assets)
    repo.resolve(rs.Storage.memory())
    assert repo.materialize().success
    assert repo.load_node("total") == 3


def test_a_plain_module_is_not_walked_as_a_package(package):
    raw = importlib.import_module("pipes.raw")
    assert sorted(a.name for a in rs.load_assets_from_package_module(raw)) == ["listed", "orders"]
