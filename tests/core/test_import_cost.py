"""``import rivers`` stays cheap: heavy modules load only when they are used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _modules_after(code: str) -> dict:
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print(json.dumps(sorted(sys.modules)))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_rivers_loads_no_engine_graph_library_or_plugins():
    loaded = _modules_after("import rivers")
    for heavy in ("networkx", "pluggy", "sqlite3", "attrs", "asyncio", "importlib_metadata",
                  "rivers.repository", "rivers.plugins.manager"):
        assert heavy not in loaded, f"import rivers imported {heavy}"


def test_defining_and_running_assets_does_not_import_networkx():
    loaded = _modules_after(
        """
        import os, tempfile
        os.chdir(tempfile.mkdtemp())
        import rivers as rs

        @rs.Asset
        def a():
            return 1

        @rs.Asset
        def b(a):
            return a + 1

        assert rs.CodeRepository(assets=[a, b]).materialize().success
        """
    )
    assert "rivers.repository" in loaded
    assert "networkx" not in loaded


def test_a_cycle_report_uses_networkx_only_then():
    loaded = _modules_after(
        """
        import rivers as rs
        from rivers.exceptions import GraphValidationError

        def a(b):
            return b

        def b(a):
            return a

        try:
            rs.CodeRepository(assets=[rs.Asset(a), rs.Asset(b)]).validate()
        except GraphValidationError as error:
            assert "b -> a -> b" in str(error), error
        else:
            raise AssertionError("no cycle reported")
        """
    )
    assert "networkx" in loaded


def test_a_run_with_only_the_builtin_plugins_does_not_import_pluggy():
    # RIVERS_DISABLE_PLUGIN_AUTOLOAD=1 stands for a machine with rivers-core and no plugin installed
    script = """
        import os, subprocess, sys, tempfile
        os.chdir(tempfile.mkdtemp())
        os.environ["RIVERS_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        import rivers as rs

        @rs.Asset
        def a():
            return 1

        assert rs.CodeRepository(assets=[a]).materialize().success  # sqlite storage, in-process, memory handler
        assert rs.CodeRepository(assets=[a], default_executor=rs.Executor.parallel(max_workers=1)).materialize().success
        assert "pluggy" not in sys.modules, "pluggy was imported"
        from rivers.plugins import list_plugins

        (builtins,) = list_plugins()  # listing creates the pluggy manager: the same built-ins, with their hooks
        assert builtins.name == "rivers.builtin" and "rivers_storage_backends" in builtins.hooks, builtins
        assert "pluggy" in sys.modules
        """
    assert "rivers.plugins.manager" in _modules_after(script)
