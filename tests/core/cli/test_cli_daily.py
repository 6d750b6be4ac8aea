"""Issue 21 §2-§3: bad input refused where it is given, and daily work from the CLI (real `rivers` subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rivers as rs
from test_cli import RUN_LINE, assert_user_error, rivers, row, write

DAILY = """
from datetime import datetime
from pathlib import Path

import rivers as rs

days = rs.PartitionsDefinition.daily(datetime(2024, 1, 1), datetime(2024, 1, 5))
weeks = rs.PartitionsDefinition.time_window(datetime(2024, 1, 7), cron_schedule="0 0 * * 0",
                                            end=datetime(2024, 1, 28), fmt="%Y-%m-%d")
seen = []


def remember(context):
    Path("hooks.log").open("a").write(f"{context.asset_name} {context.partition_key}\\n")


@rs.Asset(partitions_def=days, group="raw", tags={"team": "data"})
def events(context: rs.AssetExecutionContext) -> str:
    key = str(context.partition.key)
    if Path(f"broken-{key}").exists():
        raise ValueError(f"no events for {key}\\nsecond line")
    return key


@rs.Asset(partitions_def=days)
def daily_totals(events: str) -> str:
    return events + "!"


@rs.Asset(partitions_def=weeks)
def weekly(context: rs.AssetExecutionContext) -> str:
    return str(context.partition.key)


@rs.Asset
def lookup() -> int:
    return 1


repo = rs.CodeRepository(assets=[events, daily_totals, weekly, lookup])
"""


@pytest.fixture
def daily(tmp_path: Path) -> Path:
    write(tmp_path, "pipeline.py", DAILY)
    return tmp_path


# ---------------------------------------------------------------------------
# §2 bad input is refused where it is given
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("toml", "fragments"), [
    ('[executor]\nname = "paralel"\n', ["[executor] name = 'paralel'", "parallel"]),
    ('[executor]\nname = "parallel"\nmax_worker = 2\n', ["unknown setting 'max_worker'", "did you mean 'max_workers'"]),
    ('[executor]\nname = "parallel"\nmax_workers = "two"\n', ["[executor] name = 'parallel'", "max_workers"]),
    ('[storage]\ncommit_delay = "fast"\n', ["[storage]", "commit_delay", "'fast'"]),
    ('[storage]\nurl = "mongodb://x"\n', ["[storage] url = 'mongodb://x'", "mongodb"]),
    ('[io_handler]\nname = "fss"\n', ["[io_handler] name = 'fss'"]),
    ('[module]\npaht = "x"\n', ["unknown key 'paht' of [module]", "did you mean 'path'"]),
    ('[server]\nport = "eighty"\n', ["[server] port must be a whole number"]),
], ids=["executor-name", "unknown-key", "wrong-type", "commit-delay", "storage-url", "handler-name", "module-key",
        "server-port"])
def test_validate_checks_the_settings_as_strictly_as_materialize(daily: Path, toml: str, fragments: list[str]) -> None:
    write(daily, "rivers.toml", toml)
    checked = rivers(daily, "validate", "pipeline.py")
    ran = rivers(daily, "materialize", "pipeline.py", "-s", "lookup")
    for result in (checked, ran):
        assert_user_error(result, code=2)  # the same exit code for the same problem, as the README says
        assert str(daily / "rivers.toml") in result.stderr
        for fragment in fragments:
            assert fragment in result.stderr, result.stderr
    assert not (daily / ".rivers").exists() or "commit-delay" not in toml  # validate opened no storage


def test_validate_accepts_good_settings(daily: Path) -> None:
    write(daily, "rivers.toml", '[executor]\nname = "parallel"\nmax_workers = 2\n[storage]\ncommit_delay = 0\n')
    result = rivers(daily, "validate", "pipeline.py")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert not (daily / ".rivers").exists()


@pytest.mark.parametrize(("argument", "error"), [
    ('schedules=["nightly"]', rs.exceptions.ScheduleDefinitionError),
    ("sensors=[lambda: None]", rs.exceptions.SensorDefinitionError),
    ('schedules="nightly"', rs.exceptions.ScheduleDefinitionError),
])
def test_schedules_and_sensors_must_be_schedules_and_sensors(argument: str, error: type[Exception]) -> None:
    @rs.Asset
    def one() -> int:
        return 1

    with pytest.raises(error, match=r"CodeRepository\((schedules|sensors)=") as info:
        eval(f"rs.CodeRepository(assets=[one], {argument})", {"rs": rs, "one": one})
    assert "not a Schedule" in str(info.value) or "not a Sensor" in str(info.value) or "takes a list" in str(info.value)


def test_dict_tags_keep_their_values_and_are_selectable(daily: Path) -> None:
    @rs.Asset(tags={"team": "data", "pii": ""})
    def tagged() -> int:
        return 1

    assert tagged.tags == ["team=data", "pii"]
    with pytest.raises(TypeError, match="tags dict maps non-empty str keys to str values"):
        rs.Asset(tags={"team": 3})(lambda: 1)
    result = rivers(daily, "materialize", "pipeline.py", "-s", "tag:team=data", "--partition-key", "2024-01-01")
    assert result.returncode == 0, result.stderr
    assert "events" in result.stdout and "daily_totals" not in result.stdout


def test_backfill_refuses_two_ways_of_naming_partitions(daily: Path) -> None:
    result = rivers(daily, "backfill", "pipeline.py", "-s", "events", "-p", "2024-01-01", "--from", "2024-01-01",
                    "--to", "2024-01-02")
    assert_user_error(result)
    assert "two ways of naming partitions" in result.stderr
    assert not (daily / ".rivers").exists() or "Backfill" not in result.stdout


def test_a_closed_pipe_ends_quietly(daily: Path) -> None:
    write(daily, "chatty.py", """
        import rivers as rs

        @rs.Asset
        def chatty() -> int:
            for n in range(20000):
                print("line", n)
            return 1
        """)
    run_id = RUN_LINE.search(rivers(daily, "materialize", "chatty.py").stdout)["id"]
    environ = {key: value for key, value in os.environ.items() if key != "RIVERS_STORAGE_URL"}
    shell = f"{sys.executable} -m rivers.cli run {run_id} | head -n 2"
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {shell}"], cwd=daily, capture_output=True, text=True,
                            env=environ, timeout=60, check=False)
    assert result.stdout.count("\n") == 2
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode == 141  # 128 + SIGPIPE, as a shell reports a command that lost its reader


def test_an_unknown_flag_prints_the_commands_usage(daily: Path) -> None:
    result = rivers(daily, "backfill", "pipeline.py", "--frm", "2024-01-01")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: rivers backfill")
    assert "unrecognized arguments: --frm" in result.stderr


# ---------------------------------------------------------------------------
# §3 materialize
# ---------------------------------------------------------------------------


def test_materialize_a_partition_with_tags_config_and_executor(daily: Path) -> None:
    result = rivers(daily, "materialize", "pipeline.py", "-s", "events", "-s", "daily_totals", "--partition-key",
                    "2024-01-02", "--tag", "owner=me", "--executor", "in_process", "--config", "{}")
    assert result.returncode == 0, result.stderr
    shown = json.loads(rivers(daily, "run", RUN_LINE.search(result.stdout)["id"][:8], "--json").stdout)
    assert shown["partition_key"] == "2024-01-02" and shown["tags"]["owner"] == "me"
    assert {step["key"] for step in shown["steps"]} == {"events", "daily_totals"}
    assert (daily / "hooks.log").exists() is False  # no hooks in this pipeline
    again = rivers(daily, "materialize", "pipeline.py", "-s", "events", "--partition", "2024-01-03", "-q")
    assert again.returncode == 0, again.stderr


def test_materialize_errors_name_the_flag(daily: Path) -> None:
    missing = rivers(daily, "materialize", "pipeline.py", "-s", "events")
    assert_user_error(missing)
    assert "pass --partition-key KEY" in missing.stderr and "events" in missing.stderr
    bad_config = rivers(daily, "materialize", "pipeline.py", "-s", "lookup", "--config", "{oops")
    assert_user_error(bad_config)
    assert "--config: invalid JSON" in bad_config.stderr
    bad_executor = rivers(daily, "materialize", "pipeline.py", "-s", "lookup", "--executor", "paralel")
    assert_user_error(bad_executor)
    assert "--executor 'paralel'" in bad_executor.stderr


def test_materialize_dry_run_prints_the_plan_and_runs_nothing(daily: Path) -> None:
    result = rivers(daily, "materialize", "pipeline.py", "-s", "events", "-s", "daily_totals", "--partition-key",
                    "2024-01-02", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Plan: 2 step(s), partition 2024-01-02, executor InProcessExecutor"
    assert row(result.stdout, "2.") == ["2.", "daily_totals", "after events"]
    assert "no runs" in rivers(daily, "runs").stdout


def test_config_file_for_a_run(daily: Path) -> None:
    write(daily, "configured.py", """
        import dataclasses
        from pathlib import Path

        import rivers as rs

        @dataclasses.dataclass
        class Limits:
            limit: int = 1

        @rs.Asset
        def limited(context: rs.AssetExecutionContext[Limits]) -> int:
            Path("limit.txt").write_text(str(context.config.limit))
            return context.config.limit
        """)
    write(daily, "run.json", '{"limited": {"limit": 7}}')
    result = rivers(daily, "materialize", "configured.py", "--config", "run.json")
    assert result.returncode == 0, result.stderr
    assert (daily / "limit.txt").read_text() == "7"
    inline = rivers(daily, "materialize", "configured.py", "--config", '{"limited": {"limit": 9}}')
    assert inline.returncode == 0, inline.stderr
    assert (daily / "limit.txt").read_text() == "9"


def test_hook_context_carries_the_partition_key(tmp_path: Path) -> None:
    write(tmp_path, "hooked.py", """
        from datetime import datetime
        from pathlib import Path

        import rivers as rs

        days = rs.PartitionsDefinition.daily(datetime(2024, 1, 1), datetime(2024, 1, 5))

        def remember(context):
            with Path("hooks.log").open("a") as log:
                log.write(f"{context.hook_type} {context.asset_name} {context.partition_key}\\n")

        on_ok, on_failure = rs.Hook.success(remember), rs.Hook.failure(remember)

        @rs.Asset(partitions_def=days, hooks=[on_ok, on_failure])
        def events(context: rs.AssetExecutionContext) -> str:
            if str(context.partition.key) == "2024-01-03":
                raise ValueError("boom")
            return "x"

        @rs.Asset(hooks=[on_ok])
        def plain() -> int:
            return 1
        """)
    assert rivers(tmp_path, "materialize", "hooked.py", "--partition-key", "2024-01-02").returncode == 0
    assert rivers(tmp_path, "materialize", "hooked.py", "--partition-key", "2024-01-03").returncode == 1
    lines = (tmp_path / "hooks.log").read_text().splitlines()
    assert "success events 2024-01-02" in lines and "failure events 2024-01-03" in lines
    assert "success plain None" in lines


# ---------------------------------------------------------------------------
# §3 backfill
# ---------------------------------------------------------------------------


def test_backfill_progress_names_keys_and_failures_and_the_id_comes_first(daily: Path) -> None:
    (daily / "broken-2024-01-02").touch()
    result = rivers(daily, "backfill", "pipeline.py", "-a", "events", "--from", "2024-01-01", "--to", "2024-01-03",
                    "-c", "1")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Backfill ") and lines[0].endswith(": 3 partition(s)")
    backfill_id = lines[0].split()[1].rstrip(":")
    assert lines[1] == "[run 1] 2024-01-01: ok; partitions: 1 done, 0 failed, 2 remaining of 3"
    assert lines[2] == "[run 2] 2024-01-02: failed; partitions: 1 done, 1 failed, 1 remaining of 3"
    assert lines[3] == "    events: ValueError: no events for 2024-01-02"
    assert f"Backfill {backfill_id}: CompletedFailed" in result.stdout

    # --failed: only the failed partition, once fixed; ids by prefix, without TARGET
    (daily / "broken-2024-01-02").unlink()
    rerun = rivers(daily, "backfill", "pipeline.py", "-a", "events", "--failed", "--on-failure", "stop_on_failure")
    assert rerun.returncode == 0, rerun.stderr
    assert "[run 1] 2024-01-02: ok" in rerun.stdout
    status = rivers(daily, "backfill", "--status", backfill_id[:6])
    assert status.returncode == 0, status.stderr
    assert row(status.stdout, "Failed") == ["Failed", "1"]
    assert json.loads(rivers(daily, "backfill-status", backfill_id[:6], "--json").stdout)["failed"] == 1
    assert "already finished" in rivers(daily, "backfill-cancel", backfill_id[:6]).stdout


def test_backfill_missing_skips_materialised_partitions(daily: Path) -> None:
    assert rivers(daily, "materialize", "pipeline.py", "-s", "events", "--partition-key", "2024-01-02").returncode == 0
    planned = rivers(daily, "backfill", "pipeline.py", "-s", "events", "--missing", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.strip() == "Dry run: 3 partition(s) in 3 run(s): 2024-01-01, 2024-01-03, 2024-01-04"


def test_backfill_over_daily_and_weekly_assets(daily: Path) -> None:
    ranged = rivers(daily, "backfill", "pipeline.py", "-s", "events", "-s", "weekly", "--from", "2024-01-01",
                    "--to", "2024-01-02")
    assert_user_error(ranged)
    assert "mixes partitions definitions" in ranged.stderr
    assert "rivers backfill pipeline.py -s events --from KEY --to KEY" in ranged.stderr
    assert "-s weekly" in ranged.stderr
    planned = rivers(daily, "backfill", "pipeline.py", "-s", "events", "-s", "weekly", "--missing", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines() == [
        "Dry run: 4 partition(s) in 4 run(s): 2024-01-01, 2024-01-02, 2024-01-03, 2024-01-04",
        "Dry run: 3 partition(s) in 3 run(s): 2024-01-07, 2024-01-14, 2024-01-21",
    ]


def test_backfills_list_json_and_prefixes(daily: Path) -> None:
    assert "no backfills recorded" in rivers(daily, "backfills").stdout
    result = rivers(daily, "backfill", "pipeline.py", "-s", "events", "--partitions", "2024-01-01,2024-01-02")
    assert result.returncode == 0, result.stderr
    listed = json.loads(rivers(daily, "backfills", "--json").stdout)
    assert [(b["partitions"], b["completed"], b["status"]) for b in listed] == [(2, 2, "CompletedSuccess")]
    table = rivers(daily, "backfills").stdout
    assert row(table, listed[0]["backfill_id"][:8])[1] == "CompletedSuccess"
    unknown = rivers(daily, "backfill", "--cancel", "zzz")
    assert_user_error(unknown)
    assert "`rivers backfills` lists them" in unknown.stderr


def test_status_cancel_and_runs_need_no_target_nor_resources(daily: Path) -> None:
    write(daily, "resourced.py", """
        from datetime import datetime
        import rivers as rs

        days = rs.PartitionsDefinition.daily(datetime(2024, 1, 1), datetime(2024, 1, 3))

        @rs.Asset(partitions_def=days)
        def numbers() -> int:
            return 1
        """)
    result = rivers(daily, "backfill", "resourced.py", "--from", "2024-01-01", "--to", "2024-01-02")
    assert result.returncode == 0, result.stderr
    backfill_id = result.stdout.splitlines()[0].split()[1].rstrip(":")
    (daily / "resourced.py").write_text("raise RuntimeError('importing the code is not needed')\n")
    assert rivers(daily, "backfill", "--status", backfill_id[:5]).returncode == 0
    assert rivers(daily, "backfill", "--cancel", backfill_id[:5]).returncode == 0
    assert rivers(daily, "runs").stdout.count("success") == 2


# ---------------------------------------------------------------------------
# §3 assets, --json
# ---------------------------------------------------------------------------


def test_assets_partition_counts_staleness_and_json(daily: Path) -> None:
    (daily / "broken-2024-01-03").touch()
    rivers(daily, "backfill", "pipeline.py", "-s", "events", "--from", "2024-01-01", "--to", "2024-01-03")
    listed = rivers(daily, "assets", "pipeline.py")
    assert listed.returncode == 0, listed.stderr
    assert row(listed.stdout, "events")[5:] == ["2/4 ok, 1 failed, 1 missing", "up to date"]
    assert row(listed.stdout, "daily_totals")[5:] == ["0/4 ok, 4 missing", "missing"]
    documents = {d["asset"]: d for d in json.loads(rivers(daily, "assets", "pipeline.py", "--json").stdout)}
    assert documents["events"]["partitions"] == {"total": 4, "materialized": 2, "failed": 1, "missing": 1}
    assert documents["lookup"]["partitions"] is None and documents["lookup"]["staleness"] == "Missing"


def test_assets_graph(daily: Path) -> None:
    tree = rivers(daily, "assets", "pipeline.py", "--graph")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines()[:2] == ["events", "\u2514\u2500\u2500 daily_totals"]
    dot = rivers(daily, "assets", "pipeline.py", "--graph", "--format", "dot").stdout
    assert dot.startswith("digraph rivers {") and '"events" -> "daily_totals";' in dot
    mermaid = rivers(daily, "assets", "pipeline.py", "--graph", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR") and '["daily_totals"]' in mermaid and "-->" in mermaid


def test_json_on_runs_run_and_plugins(daily: Path) -> None:
    assert json.loads(rivers(daily, "runs", "--json").stdout) == []
    result = rivers(daily, "materialize", "pipeline.py", "-s", "lookup")
    run_id = RUN_LINE.search(result.stdout)["id"]
    runs = json.loads(rivers(daily, "runs", "--json").stdout)
    assert [(r["run_id"], r["status"], r["steps_total"]) for r in runs] == [(run_id, "success", 1)]
    one = json.loads(rivers(daily, "run", run_id[:8], "--json").stdout)
    assert one["steps"][0]["key"] == "lookup" and one["materializations"][0]["asset"] == "lookup"
    plugins = json.loads(rivers(daily, "plugins", "--json").stdout)
    assert plugins["warnings"] == [] and any(p["builtin"] for p in plugins["plugins"])


def test_plugins_warns_when_the_published_package_is_installed_too(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "rivers-0.6.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rivers\nVersion: 0.6.2\n")
    result = rivers(tmp_path, "plugins", PYTHONPATH=str(site))
    assert result.returncode == 0, result.stderr
    assert "the published package 'rivers' 0.6.2 is installed" in result.stderr
    assert "separate virtual environments" in result.stderr


def test_an_open_ended_grid_does_not_offer_the_unfinished_window(tmp_path: Path) -> None:
    write(tmp_path, "open.py", """
        from datetime import datetime, timedelta

        import rivers as rs

        start = (datetime.now() - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)

        @rs.Asset(partitions_def=rs.PartitionsDefinition.daily(start))
        def ended() -> int:
            return 1

        @rs.Asset(partitions_def=rs.PartitionsDefinition.daily(start, end_offset=1))
        def current() -> int:
            return 1
        """)
    import datetime as dt

    today = dt.date.today()
    days = [str(today - dt.timedelta(days=n)) for n in (3, 2, 1)]
    planned = rivers(tmp_path, "backfill", "open.py", "-s", "ended", "--missing", "--dry-run")
    if str(dt.date.today()) != str(today):  # pragma: no cover - ran across midnight
        pytest.skip("the day changed during the test")
    assert planned.stdout.strip() == f"Dry run: 3 partition(s) in 3 run(s): {', '.join(days)}"
    refused = rivers(tmp_path, "materialize", "open.py", "-s", "ended", "--partition-key", str(today))
    assert_user_error(refused)
    with_current = rivers(tmp_path, "backfill", "open.py", "-s", "current", "--missing", "--dry-run")
    assert with_current.stdout.strip().endswith(f"{days[-1]}, {today}")


GRID = """
import rivers as rs

grid = rs.PartitionsDefinition.multi({"region": rs.PartitionsDefinition.static_(["eu", "us", "ap"]),
                                      "size": rs.PartitionsDefinition.static_(["s", "m", "l"])})


@rs.Asset(partitions_def=grid)
def sales(context: rs.AssetExecutionContext) -> str:
    return str(context.partition.keys)
"""


def test_backfill_range_per_dimension_and_strategy_per_dimension(tmp_path: Path) -> None:
    write(tmp_path, "grid.py", GRID)
    planned = rivers(tmp_path, "backfill", "grid.py", "--range", "region=eu..us", "--range", "size=s,l", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.startswith("Dry run: 4 partition(s) in 4 run(s): ")
    batched = rivers(tmp_path, "backfill", "grid.py", "--range", "region=eu..us", "--dry-run",
                     "--strategy", "region=multi_run,size=single_run")
    assert batched.returncode == 0, batched.stderr
    assert batched.stdout.startswith("Dry run: 6 partition(s) in 2 run(s): ")
    bad = rivers(tmp_path, "backfill", "grid.py", "--range", "region", "--dry-run")
    assert_user_error(bad)
    assert "expected DIM=FROM..TO or DIM=K1,K2" in bad.stderr
    bad_strategy = rivers(tmp_path, "backfill", "grid.py", "--range", "region=eu..us", "--strategy", "region=fast")
    assert_user_error(bad_strategy)


def test_pools_list_info_and_set(tmp_path: Path) -> None:
    assert rivers(tmp_path, "pools", "list").stdout.strip() == "no pools configured"
    assert rivers(tmp_path, "pools", "set", "warehouse", "3", "--lease-duration", "30s").returncode == 0
    listed = rivers(tmp_path, "pools", "list")
    assert row(listed.stdout, "warehouse") == ["warehouse", "3", "0", "0", "30s"]
    assert json.loads(rivers(tmp_path, "pools", "list", "--json").stdout)[0]["limit"] == 3
    info = rivers(tmp_path, "pools", "info", "warehouse")
    assert row(info.stdout, "Claimed:") == ["Claimed:", "0/3"] and "no active slot holders" in info.stdout
    unknown = rivers(tmp_path, "pools", "info", "nope")
    assert_user_error(unknown)
    assert "pools: warehouse" in unknown.stderr
    assert rivers(tmp_path, "pools", "frobnicate").returncode == 2


def test_a_bad_executor_section_fails_materialize_even_when_the_repository_has_an_executor(tmp_path: Path) -> None:
    write(tmp_path, "own.py", """
        import rivers as rs

        @rs.Asset
        def one() -> int:
            return 1

        repo = rs.CodeRepository(assets=[one], default_executor=rs.Executor.in_process())
        """)
    write(tmp_path, "rivers.toml", '[executor]\nname = "paralel"\n')
    for command in ("validate", "materialize"):
        result = rivers(tmp_path, command, "own.py")
        assert_user_error(result, code=2)
        assert "[executor] name = 'paralel'" in result.stderr
