"""``rivers backfill``: run, follow, cancel and rerun backfills from the command line (in subprocesses)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

import rivers as rs
from test_cli import assert_user_error, rivers, row, write

# ``numbers`` fails for a key while a file ``broken-<key>`` exists in the project directory.
PIPELINE = """
from pathlib import Path

import rivers as rs

letters = rs.PartitionsDefinition.static_(["a", "b", "c", "d"])


@rs.Asset(partitions_def=letters)
def numbers(context: rs.AssetExecutionContext) -> dict:
    for key in context.partition.keys:
        if Path(f"broken-{key}").exists():
            raise ValueError(f"no data for {key}")
    return {key: str(key).upper() for key in context.partition.keys}
"""

GRID = """
import rivers as rs

grid = rs.PartitionsDefinition.multi({"region": rs.PartitionsDefinition.static_(["eu", "us"]),
                                      "size": rs.PartitionsDefinition.static_(["s", "l"])})


@rs.Asset(partitions_def=grid)
def sales(context: rs.AssetExecutionContext) -> str:
    return str(context.partition.key)
"""

PROGRESS = re.compile(r"^\[run (\d+)\] .*; partitions: (\d+) done, (\d+) failed, (\d+) remaining of (\d+)$",
                      re.MULTILINE)
OUTCOME = re.compile(r"^Backfill (?P<id>[0-9a-f-]{36}): (?P<status>\w+)$", re.MULTILINE)


def project(tmp_path: Path, *broken: str) -> Path:
    write(tmp_path, "pipeline.py", PIPELINE)
    for key in broken:
        (tmp_path / f"broken-{key}").touch()
    return tmp_path


def progress(result: subprocess.CompletedProcess[str]) -> list[tuple[int, ...]]:
    """``(run, done, failed, remaining, total)`` of every progress line."""
    return [tuple(int(n) for n in match) for match in PROGRESS.findall(result.stdout)]


def outcome(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """``(backfill id, status)`` of the last line of a backfill."""
    match = OUTCOME.search(result.stdout)
    assert match, (result.stdout, result.stderr)
    return match["id"], match["status"]


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {name: row(result.stdout, name)[1] for name in ("Partitions", "Runs", "Completed", "Failed", "Canceled")}


def pipeline_repository(directory: Path) -> rs.CodeRepository:
    """The assets of ``directory/pipeline.py`` on the project's storage, in this process."""
    spec = importlib.util.spec_from_file_location("cli_backfill_pipeline", directory / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    repo = rs.CodeRepository(assets=[module.numbers])
    repo.resolve(rs.Storage.embedded(directory / ".rivers" / "rivers.db"))
    return repo


def stored_backfills(directory: Path) -> list:
    repo = rs.CodeRepository(assets=[])
    repo.resolve(rs.Storage.embedded(directory / ".rivers" / "rivers.db"))
    return repo.get_backfills()


def test_a_range_with_a_failing_partition(tmp_path: Path) -> None:
    result = rivers(project(tmp_path, "c"), "backfill", "pipeline.py", "--from", "a", "--to", "d")

    assert result.returncode == 1, result.stderr
    # one line per finished run (up to 4 run at a time, so the failure may come at any point), then the total
    lines = progress(result)
    assert [line[0] for line in lines] == [1, 2, 3, 4] and lines[-1] == (4, 3, 1, 0, 4)
    assert all(run == completed + failed and remaining == 4 - run and total == 4
               for run, completed, failed, remaining, total in lines)
    assert summary(result) == {"Partitions": "4", "Runs": "4", "Completed": "3", "Failed": "1", "Canceled": "0"}
    backfill_id, status = outcome(result)
    assert status == "CompletedFailed"
    assert "failed partitions: c\n" in result.stderr
    assert f"re-run them with: rivers backfill pipeline.py --rerun {backfill_id}" in result.stderr
    assert "Traceback" not in result.stderr
    [stored] = stored_backfills(tmp_path)
    assert (stored.backfill_id, stored.status, stored.failed_partitions) == (backfill_id, "CompletedFailed", 1)


def test_status_of_a_stored_backfill(tmp_path: Path) -> None:
    backfill_id, _ = outcome(rivers(project(tmp_path, "b"), "backfill", "pipeline.py", "-p", "a", "-p", "b"))
    shown = rivers(tmp_path, "backfill", "pipeline.py", "--status", backfill_id)

    assert shown.returncode == 0, shown.stderr
    assert row(shown.stdout, "Backfill") == ["Backfill", backfill_id]
    cells = {name: row(shown.stdout, name)[1] for name in ("Status", "Partitions", "Completed", "Failed",
                                                              "Canceled", "Remaining", "Runs")}
    assert cells == {"Status": "CompletedFailed", "Partitions": "2", "Completed": "1", "Failed": "1",
                     "Canceled": "0", "Remaining": "0", "Runs": "2"}
    assert "first error: numbers: ValueError: no data for b" in shown.stderr

    assert_user_error(rivers(tmp_path, "backfill", "pipeline.py", "--status", "no-such-id"))


def test_rerun_runs_the_failed_partitions_once_fixed(tmp_path: Path) -> None:
    first = rivers(project(tmp_path, "b"), "backfill", "pipeline.py", "--from", "a", "--to", "d",
                   "--stop-on-failure", "--max-concurrency", "1")
    assert first.returncode == 1
    assert summary(first) == {"Partitions": "4", "Runs": "2", "Completed": "1", "Failed": "1", "Canceled": "2"}
    first_id, _ = outcome(first)

    (tmp_path / "broken-b").unlink()
    planned = rivers(tmp_path, "backfill", "pipeline.py", "--rerun", first_id, "--dry-run")
    assert planned.stdout.strip() == "Dry run: 3 partition(s) in 3 run(s): b, c, d"
    rerun = rivers(tmp_path, "backfill", "pipeline.py", "--rerun", first_id)

    assert rerun.returncode == 0, rerun.stderr
    assert progress(rerun) == [(1, 1, 0, 2, 3), (2, 2, 0, 1, 3), (3, 3, 0, 0, 3)]
    rerun_id, status = outcome(rerun)
    assert status == "CompletedSuccess" and rerun_id != first_id
    stored = {s.backfill_id: s for s in stored_backfills(tmp_path)}
    assert ("rivers/rerun_of", first_id) in stored[rerun_id].tags
    assert {str(k) for k in stored[rerun_id].partition_statuses} == {"b", "c", "d"}

    again = rivers(tmp_path, "backfill", "pipeline.py", "--rerun", rerun_id)  # nothing failed: runs all again
    assert again.returncode == 0, again.stderr
    assert progress(again)[-1] == (3, 3, 0, 0, 3)


def test_single_run_strategy_and_dry_run(tmp_path: Path) -> None:
    project(tmp_path)
    planned = rivers(tmp_path, "backfill", "pipeline.py", "-p", "a", "-p", "b", "-p", "c", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.strip() == "Dry run: 3 partition(s) in 3 run(s): a, b, c"
    batched = rivers(tmp_path, "backfill", "pipeline.py", "-p", "a", "-p", "b", "-p", "c", "--dry-run",
                     "--strategy", "single_run")
    assert batched.stdout.strip() == "Dry run: 3 partition(s) in 1 run(s): a, b, c"
    assert stored_backfills(tmp_path) == []  # the storage is opened, nothing is recorded

    result = rivers(tmp_path, "backfill", "pipeline.py", "--from", "b", "--to", "d", "--strategy", "single_run")
    assert result.returncode == 0, result.stderr
    assert progress(result) == [(1, 3, 0, 0, 3)]
    assert summary(result)["Runs"] == "1" and outcome(result)[1] == "CompletedSuccess"


def test_multi_dimensional_keys(tmp_path: Path) -> None:
    write(tmp_path, "grid.py", GRID)
    result = rivers(tmp_path, "backfill", "grid.py", "-p", "region=eu|size=s", "-p", "region=us|size=l")
    assert result.returncode == 0, result.stderr
    assert summary(result)["Completed"] == "2"
    [stored] = stored_backfills(tmp_path)
    assert sorted(str(k) for k in stored.partition_statuses) == ["region=eu|size=s", "region=us|size=l"]


def test_a_static_key_containing_an_equals_sign(tmp_path: Path) -> None:
    write(tmp_path, "pipeline.py", PIPELINE.replace('["a", "b", "c", "d"]', '["a=1", "b=2"]'))
    result = rivers(tmp_path, "backfill", "pipeline.py", "-p", "a=1", "-p", "b=2")
    assert result.returncode == 0, result.stderr
    assert summary(result)["Completed"] == "2"
    [stored] = stored_backfills(tmp_path)
    assert stored.partition_statuses == {rs.PartitionKey.single("a=1"): "completed",
                                         rs.PartitionKey.single("b=2"): "completed"}


def test_cancel(tmp_path: Path) -> None:
    project(tmp_path)
    assert_user_error(rivers(tmp_path, "backfill", "pipeline.py", "--cancel", "no-such-id"))
    finished_id, _ = outcome(rivers(tmp_path, "backfill", "pipeline.py", "-p", "a"))
    finished = rivers(tmp_path, "backfill", "pipeline.py", "--cancel", finished_id)
    assert finished.returncode == 0
    assert finished.stdout.strip() == f"Backfill {finished_id} already finished: CompletedSuccess; nothing to cancel"

    # a backfill recorded for a daemon (block=False) in this process, canceled from the command line
    repo = pipeline_repository(tmp_path)
    queued_id = repo.backfill(partition_keys=["a", "b"], block=False).backfill_id
    canceled = rivers(tmp_path, "backfill", "pipeline.py", "--cancel", queued_id)
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout.strip() == f"Backfill {queued_id}: cancel requested"
    status = repo.get_backfill(queued_id)
    assert (status.status, status.canceled_partitions) == ("Canceled", 2)


@pytest.mark.parametrize(("args", "message"), [
    ((), "give the partitions: --partition KEY (repeatable) or --from KEY --to KEY"),
    (("--from", "a"), "--from and --to go together"),
    (("-p", "zz"), "Invalid partition_key 'zz' for asset 'numbers'"),
    (("--from", "d", "--to", "a"), "from_key 'd' is after to_key 'a'"),
    (("--rerun", "no-such-id"), "backfill 'no-such-id' not found"),
    (("-p", "a", "--max-concurrency", "0"), "expected a whole number of runs of at least 1, got '0'"),
], ids=["no-partitions", "half-range", "invalid-key", "inverted-range", "unknown-rerun", "no-concurrency"])
def test_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = rivers(project(tmp_path), "backfill", "pipeline.py", *args)
    assert_user_error(result)
    assert message in result.stderr
    assert not PROGRESS.search(result.stdout)


def test_no_block_records_the_backfill_for_the_daemon_and_says_how_to_follow_it(tmp_path: Path) -> None:
    requested = rivers(project(tmp_path), "backfill", "pipeline.py", "-p", "a", "-p", "b", "--no-block")
    assert requested.returncode == 0, requested.stderr
    backfill_id, status = outcome(requested)
    assert status == "Requested"
    assert "2 partition(s) in 2 run(s), executed by the automation daemon: `rivers daemon`" in requested.stdout
    assert f"follow it: rivers backfill --status {backfill_id}" in requested.stdout
    assert f"cancel it: rivers backfill --cancel {backfill_id}" in requested.stdout
    assert not PROGRESS.search(requested.stdout)
    stored = pipeline_repository(tmp_path).get_backfill(backfill_id)
    assert (stored.status, stored.run_ids) == ("Requested", [])

    # one pass of the daemon executes it
    daemon = rivers(tmp_path, "daemon", "pipeline.py", "--once")
    assert daemon.returncode == 0, daemon.stderr
    shown = rivers(tmp_path, "backfill", "pipeline.py", "--status", backfill_id)
    assert row(shown.stdout, "Status") == ["Status", "CompletedSuccess"]
    assert row(shown.stdout, "Completed") == ["Completed", "2"]

    # --rerun --no-block records the rerun the same way
    rerun = rivers(tmp_path, "backfill", "pipeline.py", "--rerun", backfill_id, "--no-block")
    assert rerun.returncode == 0, rerun.stderr
    rerun_id, rerun_status = outcome(rerun)
    assert rerun_status == "Requested" and rerun_id != backfill_id
