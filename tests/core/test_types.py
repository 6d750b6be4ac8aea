"""The distributions type-check clean: their annotations are real types a type checker can hold the code to.

mypy runs with the ``[tool.mypy]`` settings of the workspace's
pyproject.toml (mypy is installed by the README's test command, pinned
there): once over rivers-core, once over the plugin distributions and the
example plugins of tests/plugins. The plugins see rivers-core as a third
party does: as an installed, typed package (``py.typed``), so a change of a
core signature that breaks a plugin fails here too. A new error fails the
test with mypy's own report.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

CORE = ("rivers-core/src/rivers",)
PLUGINS = (
    "rivers-io-fs/src/rivers_io_fs",
    "rivers-io-s3/src/rivers_io_s3",
    "rivers-executor-k8s/src/rivers_executor_k8s",
    "rivers-storage-postgres/src/rivers_storage_postgres",
    "rivers-ui/src/rivers_ui",
    "tests/plugins/rivers-example-plugin/src/rivers_example_plugin",
    "tests/plugins/rivers-threadpool-executor/src/rivers_threadpool_executor",
)


@pytest.mark.parametrize("packages", [CORE, PLUGINS], ids=["rivers-core", "plugins"])
def test_the_packages_type_check_clean(packages: tuple[str, ...], tmp_path: pathlib.Path) -> None:
    missing = [package for package in packages if not (ROOT / package).is_dir()]
    assert not missing, f"no such package folders: {missing} (update {__name__})"
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", *packages],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MYPY_FORCE_COLOR": "0"}, check=False,
    )
    assert done.returncode == 0, f"mypy found errors:\n{done.stdout}{done.stderr}"
