"""The ``rivers`` command, run as ``python -m rivers.cli`` in subprocesses inside ``tmp_path``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PIPELINE = """
import rivers as rs

@rs.Asset(group="raw", kinds=["python"])
def orders() -> list[int]:
    return [1, 2, 3]

@rs.Asset(group="raw")
def customers() -> list[str]:
    return ["ann", "bob"]

@rs.Asset
def revenue(orders: list[int]) -> int:
    return sum(orders)

@rs.Asset
def report(revenue: int, customers: list[str]) -> str:
    return f"{revenue} from {len(customers)} customers"
"""

FAILING_PIPELINE = """
import rivers as rs

@rs.Asset
def orders() -> list[int]:
    return [1, 2, 3]

@rs.Asset
def customers() -> list[str]:
    return ["ann", "bob"]

@rs.Asset
def broken(orders: list[int]) -> int:
    raise ValueError("boom")

@rs.Asset
def after_broken(broken: int) -> int:
    return broken
"""

CYCLE = """
import rivers as rs

@rs.Asset
def a(c: int) -> int:
    return c

@rs.Asset
def b(a: int) -> int:
    return a

@rs.Asset
def c(b: int) -> int:
    return b
"""

RUN_LINE = re.compile(r"^Run (?P<id>[0-9a-f-]{36}): (?P<outcome>.*)$", re.MULTILINE)


def rivers(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rivers.cli ARGS`` in ``cwd`` with UTF-8 output and no inherited storage URL."""
    environ = {key: value for key, value in os.environ.items() if key not in ("RIVERS_STORAGE_URL", "NO_COLOR")}
    environ.update({"PYTHONIOENCODING": "utf-8", **env})
    return subprocess.run(
        [sys.executable, "-m", "rivers.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environ,
        timeout=60,
        check=False,
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run_id_of(result: subprocess.CompletedProcess[str]) -> str:
    match = RUN_LINE.search(result.stdout)
    assert match, result.stdout
    return match["id"]


def row(output: str, first_cell: str) -> list[str]:
    """The cells (split on runs of 2+ spaces) of the table line starting with ``first_cell``."""
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def assert_user_error(result: subprocess.CompletedProcess[str], code: int = 2) -> None:
    """The command failed with ``code``, an ``error:`` line and no Python traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "error: " in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------
# A successful run, then runs / run / assets on its storage
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def succeeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    project = tmp_path_factory.mktemp("success")
    write(project, "pipeline.py", PIPELINE)
    return project, rivers(project, "materialize", "pipeline.py")


def test_materialize_prints_progress_summary_and_records_the_run(succeeded) -> None:
    project, result = succeeded
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("orders", "customers", "revenue", "report"):
        assert re.search(rf"^\[\d/4\] ✔ {name}\s+\d+\.\d{{3}}s$", out, re.MULTILINE), out
        assert row(out, name)[:2] == [name, "success"]
    assert row(out, "STEP") == ["STEP", "STATUS", "DURATION", "DETAIL"]
    assert re.fullmatch(r"success, 4 steps in \d+\.\d+s", RUN_LINE.search(out)["outcome"])
    assert (project / ".rivers" / "rivers.db").is_file()
    assert result.stderr == ""


def test_runs_lists_the_run(succeeded) -> None:
    project, result = succeeded
    listed = rivers(project, "runs")
    assert listed.returncode == 0, listed.stderr
    assert row(listed.stdout, "RUN ID") == ["RUN ID", "JOB", "STATUS", "STARTED", "DURATION", "STEPS", "FAILED"]
    cells = row(listed.stdout, run_id_of(result)[:8])
    assert cells[1:3] == ["materialize", "success"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cells[3])
    assert cells[5:] == ["4", "-"]

    assert rivers(project, "runs", "--status", "failure").stdout.strip() == "no runs with status Failure"


def test_run_shows_steps_and_materializations(succeeded) -> None:
    project, result = succeeded
    shown = rivers(project, "run", run_id_of(result)[:6])
    assert shown.returncode == 0, shown.stderr
    assert row(shown.stdout, "Run:") == ["Run:", run_id_of(result)]
    assert row(shown.stdout, "Status:") == ["Status:", "success"]
    assert row(shown.stdout, "revenue")[:2] == ["revenue", "success"]
    assert "Materializations:" in shown.stdout

    assert_user_error(rivers(project, "run", "no-such-run"))


@pytest.mark.parametrize("with_target", [True, False], ids=["target", "storage"])
def test_assets_show_the_last_materialization(succeeded, with_target: bool) -> None:
    project, _ = succeeded
    listed = rivers(project, "assets", *(["pipeline.py"] if with_target else []))
    assert listed.returncode == 0, listed.stderr
    assert row(listed.stdout, "ASSET") == ["ASSET", "GROUP", "KINDS", "LAST MATERIALIZATION", "DATA VERSION",
                                           "PARTITIONS", "STATUS"]
    _, group, kinds, when, version, partitions, status = row(listed.stdout, "orders")
    assert (partitions, status) == ("-", "up to date")
    assert (group, kinds) == ("raw", "python")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", when)
    assert len(version) == 8
    assert row(listed.stdout, "revenue")[1:3] == ["-", "-"]


def test_assets_never_materialized(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", PIPELINE)
    listed = rivers(tmp_path, "assets", "pipeline.py")
    assert listed.returncode == 0, listed.stderr
    assert row(listed.stdout, "report") == ["report", "-", "-", "never", "-", "-", "missing"]


def test_runs_without_storage_creates_nothing(tmp_path: Path) -> None:
    listed = rivers(tmp_path, "runs")
    assert listed.returncode == 0
    assert listed.stdout.startswith("no runs recorded yet")
    assert not (tmp_path / ".rivers").exists()


# ---------------------------------------------------------------------------
# A failing run
# ---------------------------------------------------------------------------


def test_failing_asset(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", FAILING_PIPELINE)
    write(tmp_path, "rivers.toml", '[io_handler]\nname = "example-json"\nroot = "values"\n')
    result = rivers(tmp_path, "materialize", "pipeline.py")

    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert re.search(r"^\[\d/4\] ✘ broken\s+\d+\.\d{3}s  ValueError: boom$", out, re.MULTILINE), out
    assert re.search(r"^\[4/4\] ↷ after_broken\s+skipped \(upstream failed\)$", out, re.MULTILINE), out
    assert row(out, "broken")[1:2] == ["failure"] and row(out, "broken")[-1] == "ValueError: boom"
    assert row(out, "after_broken")[1:] == ["skipped", "-", "upstream failed: broken"]
    assert row(out, "customers")[1] == "success"  # the independent branch still ran
    assert RUN_LINE.search(out)["outcome"].startswith("failure: 1 failed, 1 skipped (4 steps in ")
    # the traceback of the failed step, from the stored logs; no traceback of the CLI itself
    assert "--- traceback of broken ---" in result.stderr
    assert 'raise ValueError("boom")' in result.stderr
    assert "rivers/cli/" not in result.stderr
    # the upstream value was stored by the io handler configured in rivers.toml
    assert json.loads((tmp_path / "values" / "orders.json").read_text()) == [1, 2, 3]

    listed = rivers(tmp_path, "runs")
    assert row(listed.stdout, run_id_of(result)[:8])[2] == "failure"
    assert row(listed.stdout, run_id_of(result)[:8])[-1] == "broken"
    shown = rivers(tmp_path, "run", run_id_of(result))
    assert "--- broken (stderr) ---" in shown.stdout and "ValueError: boom" in shown.stdout


def test_raise_reraises_the_step_failure_after_the_summary(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", FAILING_PIPELINE)
    result = rivers(tmp_path, "materialize", "pipeline.py", "--raise", "-q")
    assert result.returncode == 1
    assert RUN_LINE.search(result.stdout)["outcome"].startswith("failure")
    assert result.stderr.rstrip().endswith("ValueError: boom")
    assert "[1/4]" not in result.stdout  # quiet: no progress lines


def test_ascii_fallback_when_the_encoding_cannot_print_symbols(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", FAILING_PIPELINE)
    result = rivers(tmp_path, "materialize", "pipeline.py", "--storage", "memory://", PYTHONIOENCODING="ascii")
    assert result.returncode == 1
    assert re.search(r"^\[\d/4\] ok   orders ", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^\[\d/4\] FAIL broken ", result.stdout, re.MULTILINE)
    assert re.search(r"^\[4/4\] skip after_broken ", result.stdout, re.MULTILINE)
    assert not (tmp_path / ".rivers").exists()  # --storage memory:// replaced the project storage


# ---------------------------------------------------------------------------
# Selection, targets, project options
# ---------------------------------------------------------------------------


def test_select(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", PIPELINE)
    result = rivers(tmp_path, "materialize", "pipeline.py", "--select", "+revenue")
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^\[\d/2\] ✔ (\w+)", result.stdout, re.MULTILINE) == ["orders", "revenue"]
    assert "report" not in result.stdout and "customers" not in result.stdout

    repeated = rivers(tmp_path, "materialize", "pipeline.py", "-s", "group:raw", "--select", "revenue")
    assert repeated.returncode == 0, repeated.stderr
    assert sorted(re.findall(r"^\[\d/3\] ✔ (\w+)", repeated.stdout, re.MULTILINE)) == [
        "customers",
        "orders",
        "revenue",
    ]

    unknown = rivers(tmp_path, "materialize", "pipeline.py", "--select", "nope")
    assert_user_error(unknown)
    assert "AssetNotFoundError" in unknown.stderr and "'nope'" in unknown.stderr


def test_validate(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", PIPELINE)
    valid = rivers(tmp_path, "validate", "pipeline.py")
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.strip() == "pipeline.py: valid, 4 assets, 4 steps, 0 jobs"
    assert not (tmp_path / ".rivers").exists()


def test_validate_reports_a_cycle_with_its_path(tmp_path: Path) -> None:
    write(tmp_path, "cycle.py", CYCLE)
    result = rivers(tmp_path, "validate", "cycle.py")
    assert_user_error(result, code=1)
    assert "GraphValidationError" in result.stderr
    cycle = re.search(r"Cycle detected in asset graph: (\w) -> (\w) -> (\w) -> (\w)", result.stderr)
    assert cycle and cycle[1] == cycle[4] and {cycle[1], cycle[2], cycle[3]} == {"a", "b", "c"}, result.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing.py", "TARGET file not found: "),
        ("no_such_module.pipeline", "TARGET module 'no_such_module.pipeline' not found"),
        ("pipeline.py:nothing", "pipeline.py has no attribute 'nothing'"),
        ("raising.py", "cannot import TARGET"),
        ("not a target!", "neither an existing Python file nor a module name"),
    ],
)
def test_bad_target(tmp_path: Path, target: str, message: str) -> None:
    write(tmp_path, "pipeline.py", PIPELINE)
    write(tmp_path, "raising.py", "import rivers\n\nVALUE = 1 / 0\n")
    result = rivers(tmp_path, "materialize", target)
    assert_user_error(result)
    assert message in result.stderr
    if target == "raising.py":
        assert "ZeroDivisionError: division by zero" in result.stderr
        assert re.search(r"at .*raising\.py:3 in <module>", result.stderr)


def test_traceback_option_shows_the_python_traceback(tmp_path: Path) -> None:
    write(tmp_path, "raising.py", "VALUE = 1 / 0\n")
    result = rivers(tmp_path, "validate", "raising.py", "--traceback")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr and "VALUE = 1 / 0" in result.stderr


def test_repository_lookup(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pkg/defs.py",
        PIPELINE
        + "\nsmall = rs.CodeRepository(assets=[orders])"
        + "\nfull = rs.CodeRepository(assets=[orders, customers])\n",
    )
    write(tmp_path, "pkg/__init__.py", "")
    several = rivers(tmp_path, "validate", "pkg.defs")
    assert_user_error(several)
    assert "several CodeRepository objects (small, full)" in several.stderr
    chosen = rivers(tmp_path, "validate", "pkg.defs:full")
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.strip() == "pkg.defs:full: valid, 2 assets, 2 steps, 0 jobs"
    by_file = rivers(tmp_path, "validate", "pkg/defs.py:small")
    assert by_file.stdout.strip() == "pkg/defs.py:small: valid, 1 asset, 1 step, 0 jobs"


def test_malformed_rivers_toml(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", PIPELINE)
    toml = write(tmp_path, "rivers.toml", "[storage\nurl = 1\n")
    for command in (["materialize", "pipeline.py"], ["runs"], ["validate", "pipeline.py"]):
        result = rivers(tmp_path, *command)
        assert_user_error(result)
        assert "ProjectConfigError" in result.stderr and str(toml) in result.stderr


@pytest.mark.parametrize(
    ("toml", "message", "env"),
    [
        ('[io_handler]\nname = "example-jsn"\n', "Did you mean 'example-json'?", {}),
        # rivers-executor-k8s is installed in the test environment: with autoload off it is not found
        ('[executor]\nname = "kubernetes"\n', "pip install rivers-executor-k8s",
         {"RIVERS_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    ],
    ids=["io_handler", "executor"],
)
def test_unknown_component_in_rivers_toml(tmp_path: Path, toml: str, message: str, env: dict[str, str]) -> None:
    write(tmp_path, "pipeline.py", PIPELINE)
    write(tmp_path, "rivers.toml", toml)
    result = rivers(tmp_path, "materialize", "pipeline.py", **env)
    assert_user_error(result)
    assert "PluginNotFoundError" in result.stderr and message in result.stderr
    assert "rivers.toml" in result.stderr


def test_project_dir_and_storage_options(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, "pipeline.py", PIPELINE)
    result = rivers(tmp_path, "--project-dir", "project", "materialize", "pipeline.py", "-q")
    assert result.returncode == 0, result.stderr
    assert (project / ".rivers" / "rivers.db").is_file()
    assert rivers(tmp_path, "runs", "--project-dir", str(project)).stdout.count("materialize") == 1

    other = rivers(project, "materialize", "pipeline.py", "-q", "--storage", "sqlite:///other.db")
    assert other.returncode == 0, other.stderr
    assert (project / "other.db").is_file()
    assert run_id_of(other)[:8] in rivers(project, "--storage", "sqlite:///other.db", "runs").stdout
    assert run_id_of(other)[:8] not in rivers(project, "runs").stdout

    assert_user_error(rivers(tmp_path, "--project-dir", "missing", "runs"))
    bad_url = rivers(project, "runs", "--storage", "nope")
    assert_user_error(bad_url)
    assert "--storage 'nope'" in bad_url.stderr


def test_usage_errors_and_version(tmp_path: Path) -> None:
    assert rivers(tmp_path).returncode == 2
    assert rivers(tmp_path, "runs", "--status", "bogus").returncode == 2
    version = rivers(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("rivers ")


# ---------------------------------------------------------------------------
# Plugins
# ---------------------------------------------------------------------------


def test_plugins_lists_builtins_and_the_example_plugin(tmp_path: Path) -> None:
    result = rivers(tmp_path, "plugins")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^rivers\.builtin  \(rivers-core [\d.]+\)  \[built-in\]$", out, re.MULTILINE), out
    assert row(out, "IO handlers:") == ["IO handlers:", "memory"]
    assert row(out, "executors:")[1].split(", ")[0] == "in_process"
    assert row(out, "storage URL schemes:") == ["storage URL schemes:", "memory, sqlite"]
    assert re.search(r"^example  \(rivers-example-plugin [\d.]+\)$", out, re.MULTILINE), out
    assert "example-json" in out and "rivers_step_finished" in out
    assert "Broken plugins" not in out

    listing = json.loads(rivers(tmp_path, "plugins", "--json").stdout)
    names = {plugin["name"]: plugin for plugin in listing["plugins"]}
    assert names["rivers.builtin"]["builtin"] is True
    assert names["example"]["components"] == {"io_handler": ["example-json"], "partition_type": ["fiscal_quarter"]}
    assert listing["broken"] == []


def test_plugins_reports_broken_plugins(tmp_path: Path) -> None:
    dist_info = tmp_path / "site" / "broken_plugin-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[rivers]\nbroken = broken_plugin_module\n")
    write(tmp_path / "site", "broken_plugin_module.py", "raise RuntimeError('boom at import')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}

    result = rivers(tmp_path, "plugins", **env)
    assert result.returncode == 0, result.stderr
    broken = result.stdout.split("Broken plugins (1):", 1)[1]
    assert row(broken, "broken") == ["broken", "(broken-plugin 0.1)"]
    assert row(broken, "failed at:") == ["failed at:", "import"]
    assert row(broken, "error:") == ["error:", "RuntimeError: boom at import"]
    assert rivers(tmp_path, "plugins", "--strict", **env).returncode == 1


def test_importing_the_cli_is_cheap(tmp_path: Path) -> None:
    heavy = ("rivers.repository", "sqlite3", "argparse")
    code = f"import sys, rivers.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
