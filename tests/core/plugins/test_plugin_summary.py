"""The installed plugins' summary: built-in lookups without importing plugins, and when it is not used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rivers.plugins import entry_point_cache
from rivers.plugins.manager import RiversPluginManager
from support import run_python

PROBE = """
    import sys
    import rivers.plugins as plugins
    manager = plugins.get_plugin_manager()
    found = {probe}
    print(json.dumps({{"found": repr(found), "loaded": manager.entry_points_loaded,
                       "pluggy": "pluggy" in sys.modules,
                       "example": "rivers_example_plugin.plugin" in sys.modules}}))
"""


def probe(cache: Path, expression: str) -> dict[str, object]:
    """Evaluate ``expression`` in a fresh interpreter using the cache dir ``cache``; what it loaded."""
    out = run_python("import json\n" + PROBE.format(probe=expression).replace("\n    ", "\n"),
                     RIVERS_CACHE_DIR=str(cache), RIVERS_PLUGIN_CACHE="1")
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


def summary_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("plugin-summary-*.json"))


@pytest.fixture
def warm_cache(tmp_path: Path) -> Path:
    """A cache dir after one process loaded every installed plugin."""
    first = probe(tmp_path, "manager.lookup('storage_backend', 'sqlite')")
    assert first["loaded"] and first["example"], first
    return tmp_path


def test_a_full_load_records_what_every_installed_plugin_provides(warm_cache: Path) -> None:
    [path] = summary_files(warm_cache)
    plugins = json.loads(path.read_text())["plugins"]
    assert plugins["example"]["components"] == {"io_handler": ["example-json"], "partition_type": ["fiscal_quarter"]}
    assert "rivers_step_finished" in plugins["example"]["hooks"]
    assert plugins["fs"]["components"]["io_handler"] == ["fs"]


def test_builtin_lookups_then_import_no_plugin(warm_cache: Path) -> None:
    for expression in ("manager.lookup('storage_backend', 'sqlite')", "manager.lookup('executor', 'in_process')",
                       "manager.io_handler_class('memory')"):
        seen = probe(warm_cache, expression)
        assert (seen["loaded"], seen["pluggy"], seen["example"]) == (False, False, False), (expression, seen)


def test_a_plugins_name_still_loads_the_plugins(warm_cache: Path) -> None:
    seen = probe(warm_cache, "manager.io_handler_class('example-json').__name__")
    assert seen["found"] == "'JsonFileIOHandler'"
    assert seen["loaded"] and seen["example"]


def test_observers_are_loaded_when_a_plugin_observes_runs(warm_cache: Path) -> None:
    # the example plugin implements the observer hooks: a run must reach it
    seen = probe(warm_cache, "manager.observers().active")
    assert seen["found"] == "True" and seen["example"]


def test_a_builtin_name_a_plugin_claims_goes_through_the_full_load(warm_cache: Path) -> None:
    [path] = summary_files(warm_cache)
    data = json.loads(path.read_text())
    data["plugins"]["example"]["components"]["storage_backend"] = ["sqlite"]  # as if it provided one too
    path.write_text(json.dumps(data))
    seen = probe(warm_cache, "manager.lookup('storage_backend', 'sqlite').__name__")
    assert seen["found"] == "'sqlite_storage'"
    assert seen["loaded"] and seen["example"]  # loaded to see the real providers (a conflict would raise)


def test_a_corrupt_summary_is_ignored_and_rewritten(warm_cache: Path) -> None:
    [path] = summary_files(warm_cache)
    path.write_text(json.dumps({"key": json.loads(path.read_text())["key"], "plugins": {"x": {"components": 1}}}))
    seen = probe(warm_cache, "manager.lookup('storage_backend', 'sqlite')")
    assert seen["loaded"]
    assert "example" in json.loads(path.read_text())["plugins"]


def test_no_summary_is_written_while_a_plugin_is_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_plugins import make_broken_distribution

    site = tmp_path / "site"
    site.mkdir()
    make_broken_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(entry_point_cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(entry_point_cache.CACHE_ENV, "1")
    manager = RiversPluginManager()
    assert manager.lookup("storage_backend", "sqlite").__name__ == "sqlite_storage"
    assert manager.entry_points_loaded and manager.broken_plugins()
    assert not summary_files(tmp_path / "cache")  # the next process loads (and reports) again
    assert os.listdir(tmp_path / "cache")  # the scan itself is cached
