"""rivers-io-fs as an installed plugin: entry point, rs.io_handler, rivers.toml and the CLI."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import rivers as rs
import rivers.plugins
from rivers.config import ProjectConfig
from rivers.exceptions import ConfigurationError, ProjectConfigError

import rivers_io_fs
from rivers_io_fs import FilesystemIOHandler


def _run(cwd, *args):
    environ = {key: value for key, value in os.environ.items() if not key.startswith("RIVERS_")}
    environ["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "rivers.cli", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


def test_entry_point_provides_fs():
    assert rivers.plugins.io_handler_class("fs") is FilesystemIOHandler
    info = next(p for p in rivers.plugins.list_plugins() if p.distribution == "rivers-io-fs")
    assert info.version == rivers_io_fs.__version__
    assert not [b for b in rivers.plugins.broken_plugins() if b.distribution == "rivers-io-fs"]


def test_loading_the_entry_point_imports_no_handler_code(tmp_path):
    # every rivers process loads the entry point; the handler (pathlib, pickle, ...) waits for an fs lookup
    script = textwrap.dedent("""
        import json, os, sys, tempfile
        os.chdir(tempfile.mkdtemp())
        import rivers as rs

        @rs.Asset
        def a():
            return 1

        assert rs.CodeRepository(assets=[a]).materialize().success
        loaded = sorted(name for name in sys.modules if name.startswith("rivers_io_fs"))
        handler = rs.io_handler("fs", base_dir="data")
        print(json.dumps([loaded, type(handler).__name__]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    loaded, handler = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == ["rivers_io_fs", "rivers_io_fs.plugin"]
    assert handler == "FilesystemIOHandler"


def test_rs_io_handler_builds_a_configured_handler(tmp_path):
    handler = rs.io_handler("fs", base_dir=str(tmp_path / "store"), format="json", fsync=False)
    assert isinstance(handler, FilesystemIOHandler)
    assert (handler.base_dir, handler.format, handler.fsync) == (str(tmp_path / "store"), "json", False)
    assert repr(handler) == f"FilesystemIOHandler(base_dir={str(tmp_path / 'store')!r}, format='json', fsync=False)"


def test_rs_io_handler_rejects_unknown_settings():
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['basedir'\]"):
        rs.io_handler("fs", basedir="data")


def test_rivers_toml_selects_the_fs_handler(tmp_path):
    (tmp_path / "rivers.toml").write_text('[io_handler]\nname = "fs"\nbase_dir = "data"\nformat = "json"\n')
    handler = ProjectConfig.load(tmp_path).make_io_handler()
    assert isinstance(handler, FilesystemIOHandler)
    assert handler.root == tmp_path / "data"  # conftest runs every test in tmp_path
    assert handler.format == "json"


def test_rivers_toml_unknown_format_names_the_file_and_formats(tmp_path):
    (tmp_path / "rivers.toml").write_text('[io_handler]\nname = "fs"\nformat = "yaml"\n')
    with pytest.raises(ConfigurationError) as info:
        ProjectConfig.load(tmp_path).make_io_handler()
    message = str(info.value)
    assert "rivers.toml [io_handler] name = 'fs'" in message
    assert "unknown serialisation format 'yaml'" in message and "json, parquet, pickle" in message


def test_rivers_toml_bad_fsync_type_is_a_project_config_error(tmp_path):
    (tmp_path / "rivers.toml").write_text('[io_handler]\nname = "fs"\nfsync = "yes"\n')
    with pytest.raises(ProjectConfigError, match="fsync must be true or false"):
        ProjectConfig.load(tmp_path).make_io_handler()


def test_cli_lists_the_plugin(tmp_path):
    result = _run(tmp_path, "plugins")
    assert result.returncode == 0, result.stderr
    assert f"fs  (rivers-io-fs {rivers_io_fs.__version__})" in result.stdout
    section = result.stdout.split("fs  (rivers-io-fs", 1)[1]
    assert "IO handlers:  fs" in section.split("\n\n", 1)[0]


def test_cli_materialize_persists_through_rivers_toml(tmp_path):
    (tmp_path / "pipeline.py").write_text(textwrap.dedent("""
        import rivers as rs

        @rs.Asset
        def orders() -> list[int]:
            return [1, 2, 3]

        @rs.Asset
        def revenue(orders: list[int]) -> int:
            return sum(orders)
    """))
    (tmp_path / "rivers.toml").write_text('[io_handler]\nname = "fs"\nbase_dir = "data"\n')
    result = _run(tmp_path, "materialize", "pipeline.py")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "data" / "revenue.pkl", "rb") as f:
        assert pickle.load(f) == 6
    with open(tmp_path / "data" / "orders.pkl", "rb") as f:
        assert pickle.load(f) == [1, 2, 3]
