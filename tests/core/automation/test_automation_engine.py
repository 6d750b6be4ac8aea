"""Condition evaluation per asset and per partition, against a real storage, with an injected clock."""

from __future__ import annotations

import pytest

import rivers as rs
from rivers.automation.condition_store import ConditionStore
from rivers.automation.why import explain

from condition_support import DAYS, T0, A, Daemonless, daily_chain


def test_eager_fires_only_for_the_partitions_whose_inputs_changed(tmp_path):
    repo = daily_chain(tmp_path)
    daemon = Daemonless(repo)
    assert daemon.tick(T0) == {}  # nothing upstream yet
    repo.materialize(["raw"], partition_key="2024-01-03")
    repo.materialize(["raw"], partition_key="2024-01-05")
    assert daemon.tick(T0 + 1) == {"clean": ["2024-01-03", "2024-01-05"]}
    assert daemon.tick(T0 + 2) == {}  # handled once: not requested again
    repo.materialize(["raw"], partition_key="2024-01-03")
    assert daemon.tick(T0 + 3) == {"clean": ["2024-01-03"]}


def test_eager_waits_while_a_dependency_is_in_progress_then_fires(tmp_path):
    repo = daily_chain(tmp_path)
    daemon = Daemonless(repo)
    daemon.tick(T0)
    repo.materialize(["raw"], partition_key="2024-01-02")
    daemon.world.begin_tick([(["raw"], "2024-01-02")])  # raw's partition is being written again
    fired = daemon.engine.tick(T0 + 1, daemon.world.touched | {"raw"})
    assert fired == {}
    assert daemon.tick(T0 + 2) == {"clean": ["2024-01-02"]}  # the latch kept the update


def test_since_last_handled_survives_a_restart(tmp_path):
    repo = daily_chain(tmp_path)
    first = Daemonless(repo)
    first.tick(T0)
    repo.materialize(["raw"], partition_key="2024-01-04")
    assert first.tick(T0 + 1) == {"clean": ["2024-01-04"]}
    restarted = Daemonless(repo)  # a new daemon process: state and cursor come from storage
    assert restarted.tick(T0 + 2) == {}
    repo.materialize(["raw"], partition_key="2024-01-06")
    assert restarted.tick(T0 + 3) == {"clean": ["2024-01-06"]}


def test_unchanged_assets_are_not_evaluated_again(tmp_path):
    repo = daily_chain(tmp_path)
    daemon = Daemonless(repo)
    daemon.tick(T0)
    daemon.tick(T0 + 1)
    daemon.tick(T0 + 2)  # newly_true() fell back to false: one more evaluation to settle
    daemon.tick(T0 + 3)
    assert daemon.engine.evaluated == []
    repo.materialize(["raw"], partition_key="2024-01-04")
    daemon.tick(T0 + 4)
    assert daemon.engine.evaluated == ["clean"]


def test_in_latest_time_window_with_and_without_lookback(tmp_path):
    repo = daily_chain(tmp_path, A.in_latest_time_window() & A.missing())
    assert Daemonless(repo).tick(T0) == {"clean": ["2024-01-10"]}
    repo2 = daily_chain(tmp_path / "b", A.in_latest_time_window(2 * 86400) & A.missing())
    assert Daemonless(repo2).tick(T0) == {"clean": ["2024-01-08", "2024-01-09", "2024-01-10"]}


def test_cron_tick_passed_follows_the_injected_clock(tmp_path):
    @rs.Asset(automation_condition=A.cron_tick_passed("0 * * * *"))
    def hourly() -> int:
        return 1

    repo = rs.CodeRepository(assets=[hourly])
    repo.resolve(rs.Storage.memory())
    daemon = Daemonless(repo)
    start = 1_700_000_000.0 - 1_700_000_000.0 % 3600 + 60  # one minute past an hour
    assert daemon.tick(start) == {}  # first evaluation: no boundary seen yet
    assert daemon.tick(start + 1800) == {}
    assert daemon.tick(start + 3600) == {"hourly": [None]}
    assert daemon.tick(start + 3700) == {}


def test_on_cron_waits_for_every_dependency_updated_since_the_tick(tmp_path):
    fs = rs.io_handler("fs", base_dir=str(tmp_path))

    @rs.Asset(io_handler=fs)
    def source() -> int:
        return 1

    @rs.Asset(io_handler=fs, automation_condition=A.on_cron("0 * * * *"))
    def report(source: int) -> int:
        return source

    repo = rs.CodeRepository(assets=[source, report])
    repo.resolve(rs.Storage.memory())
    import time as _time

    hour = _time.time() - _time.time() % 3600
    daemon = Daemonless(repo)
    daemon.tick(hour - 60)
    assert daemon.tick(hour + 10) == {}  # the tick passed, but source has not updated since
    repo.materialize(["source"])
    assert daemon.tick(hour + 20) == {"report": [None]}
    assert daemon.tick(hour + 30) == {}  # requested: reset until the next cron tick


def test_code_version_changed_reads_the_recorded_code_version(tmp_path):
    storage = rs.Storage.embedded(str(tmp_path / "s.db"))
    fs = rs.io_handler("fs", base_dir=str(tmp_path))

    def build(version):
        @rs.Asset(io_handler=fs, code_version=version, automation_condition=A.code_version_changed())
        def model() -> int:
            return 1
        repo = rs.CodeRepository(assets=[model])
        repo.resolve(storage)
        return repo

    old = build("1")
    old.materialize()
    assert Daemonless(old).tick(T0) == {}
    new = build("2")
    daemon = Daemonless(new)
    assert daemon.tick(T0 + 1) == {"model": [None]}
    assert daemon.tick(T0 + 2) == {"model": [None]}  # a level: true until re-materialized
    new.materialize()
    assert daemon.tick(T0 + 3) == {}


def test_data_version_changed_and_newly_updated(tmp_path):
    @rs.Asset(automation_condition=A.data_version_changed() & A.newly_updated())
    def value() -> int:
        return 1

    repo = rs.CodeRepository(assets=[value])
    repo.resolve(rs.Storage.memory())
    daemon = Daemonless(repo)
    assert daemon.tick(T0) == {}
    repo.materialize()
    assert daemon.tick(T0 + 1) == {"value": [None]}
    assert daemon.tick(T0 + 2) == {}


def test_execution_failed_blocks_eager_until_a_success(tmp_path):
    fs = rs.io_handler("fs", base_dir=str(tmp_path))
    state = {"fail": True}

    @rs.Asset(io_handler=fs)
    def up() -> int:
        return 1

    @rs.Asset(io_handler=fs, automation_condition=A.eager())
    def down(up: int) -> int:
        if state["fail"]:
            raise RuntimeError("boom")
        return up

    repo = rs.CodeRepository(assets=[up, down])
    repo.resolve(rs.Storage.memory())
    daemon = Daemonless(repo)
    daemon.tick(T0)
    repo.materialize(["up"])
    assert daemon.tick(T0 + 1) == {"down": [None]}
    repo.materialize(["down"], raise_on_error=False)
    repo.materialize(["up"])
    assert daemon.tick(T0 + 2) == {}  # the last execution failed
    assert daemon.world.views["down"].failed == 1


def test_any_deps_updated_ignores_a_joint_run(tmp_path):
    fs = rs.io_handler("fs", base_dir=str(tmp_path))

    @rs.Asset(io_handler=fs)
    def a() -> int:
        return 1

    @rs.Asset(io_handler=fs, automation_condition=A.any_deps_updated())
    def b(a: int) -> int:
        return a

    repo = rs.CodeRepository(assets=[a, b])
    repo.resolve(rs.Storage.memory())
    daemon = Daemonless(repo)
    daemon.tick(T0)
    repo.materialize()  # a and b in one run
    assert daemon.tick(T0 + 1) == {}
    repo.materialize(["a"])
    assert daemon.tick(T0 + 2) == {"b": [None]}


def test_tag_conditions_and_dependency_aggregates(tmp_path):
    fs = rs.io_handler("fs", base_dir=str(tmp_path))

    @rs.Asset(io_handler=fs)
    def a() -> int:
        return 1

    condition = A.any_deps_match(A.has_run_with_tags(tag_values={"team": "x"})) & \
        A.all_deps_match(A.last_executed_with_tags(tag_keys=["team"]))

    @rs.Asset(io_handler=fs, automation_condition=condition)
    def b(a: int) -> int:
        return a

    repo = rs.CodeRepository(assets=[a, b])
    repo.resolve(rs.Storage.memory())
    daemon = Daemonless(repo)
    daemon.tick(T0)
    repo.materialize(["a"], tags=[("team", "y")])
    assert daemon.tick(T0 + 1) == {}
    repo.materialize(["a"], tags=[("team", "x")])
    assert daemon.tick(T0 + 2) == {"b": [None]}


def test_will_be_requested_and_on_selected(tmp_path):
    @rs.Asset(automation_condition=A.missing())
    def first() -> int:
        return 1

    @rs.Asset(automation_condition=A.any_deps_match(A.will_be_requested()) | A.missing().on_selected("third"))
    def second(first: int) -> int:
        return first

    @rs.Asset(automation_condition=A.missing().on_selected("third"))
    def third() -> int:
        return 3

    repo = rs.CodeRepository(assets=[first, second, third])
    repo.resolve(rs.Storage.memory())
    assert Daemonless(repo).tick(T0) == {"first": [None], "second": [None], "third": [None]}


def test_why_prints_the_evaluated_tree_for_a_partition(tmp_path):
    repo = daily_chain(tmp_path)
    daemon = Daemonless(repo)
    daemon.tick(T0)
    repo.materialize(["raw"], partition_key="2024-01-03")
    daemon.tick(T0 + 1)
    condition = A.eager()
    state = ConditionStore(repo.storage).state_of("clean")
    keys = [str(k) for k in DAYS.get_partition_keys()]
    lines = explain(condition, state, keys, "2024-01-03")
    assert lines[0].split() == ["true", "eager"]
    assert any(line.split()[0] == "false" and line.endswith("  any_deps_missing") for line in lines)
    other = explain(condition, state, keys, "2024-01-04")
    assert other[0].split() == ["false", "eager"]
    assert explain(condition, state, keys, None)[0].split()[:2] == ["1/10", "partitions"]
    assert explain(condition, None, keys, None)[0].startswith("not evaluated yet")
    with pytest.raises(rs.exceptions.NodeNotFoundError):
        explain(condition, state, keys, "1999-01-01")


def _lagged_chain(tmp_path, deps):
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))

    @rs.Asset(partitions_def=DAYS, io_handler=fs)
    def raw(context: rs.AssetExecutionContext) -> str:
        return str(context.partition_key)

    @rs.Asset(partitions_def=DAYS, io_handler=fs, deps=deps, automation_condition=A.eager())
    def report() -> int:
        return 1

    repo = rs.CodeRepository(assets=[raw, report])
    repo.resolve(rs.Storage.embedded(str(tmp_path / "store.db")))
    return repo


def test_a_lineage_only_dep_translates_partitions_through_its_mapping(tmp_path):
    repo = _lagged_chain(tmp_path, [rs.AssetDef.dep("raw", partition_mapping=rs.PartitionMapping.time_window(-1))])
    daemon = Daemonless(repo)
    # the first day's report depends on no partition (nothing before the first window); the others miss theirs
    assert daemon.tick(T0) == {"report": ["2024-01-01"]}
    repo.materialize(["raw"], partition_key="2024-01-03")
    assert daemon.tick(T0 + 1) == {"report": ["2024-01-04"]}  # the day after the updated one, not the same day
    repo.materialize(["raw"], partition_key="2024-01-10")  # the last day: no report depends on it
    assert daemon.tick(T0 + 2) == {}


def test_a_lineage_only_dep_with_all_partitions_of_an_unpartitioned_asset(tmp_path):
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))

    @rs.Asset(partitions_def=DAYS, io_handler=fs)
    def raw(context: rs.AssetExecutionContext) -> str:
        return str(context.partition_key)

    @rs.Asset(io_handler=fs, automation_condition=A.eager(),
              deps=[rs.AssetDef.dep("raw", partition_mapping=rs.PartitionMapping.all_partitions())])
    def summary() -> int:
        return 1

    repo = rs.CodeRepository(assets=[raw, summary])
    repo.resolve(rs.Storage.embedded(str(tmp_path / "store.db")))
    daemon = Daemonless(repo)
    daemon.tick(T0)
    repo.materialize(["raw"], partition_key="2024-01-03")
    assert daemon.tick(T0 + 1) == {}  # nine of raw's partitions are still missing
    for day in range(1, 11):
        if day != 3:
            repo.materialize(["raw"], partition_key=f"2024-01-{day:02d}")
    assert daemon.tick(T0 + 2) == {"summary": [None]}


def test_code_version_changed_per_partition_reads_what_each_partition_recorded(tmp_path):
    storage = rs.Storage.embedded(str(tmp_path / "s.db"))
    fs = rs.io_handler("fs", base_dir=str(tmp_path))

    def build(version):
        @rs.Asset(io_handler=fs, partitions_def=DAYS, code_version=version,
                  automation_condition=A.code_version_changed())
        def model() -> int:
            return 1
        repo = rs.CodeRepository(assets=[model])
        repo.resolve(storage)
        return repo

    old = build("1")
    for day in ("2024-01-02", "2024-01-03", "2024-01-05"):
        old.materialize(partition_key=day)
    assert Daemonless(old).tick(T0) == {}
    new = build("2")
    new.materialize(partition_key="2024-01-03")  # already on the new code
    daemon = Daemonless(new)
    assert daemon.tick(T0 + 1) == {"model": ["2024-01-02", "2024-01-05"]}  # not 01-03, not the unmaterialized days
    new.materialize(partition_key="2024-01-05")
    assert daemon.tick(T0 + 2) == {"model": ["2024-01-02"]}  # kept current from the event log
    old.materialize(partition_key="2024-01-03")  # an old deployment writes 01-03 again
    assert daemon.tick(T0 + 3) == {"model": ["2024-01-02", "2024-01-03"]}
    restarted = Daemonless(new)  # a new daemon reads each partition's recorded version from storage
    assert restarted.tick(T0 + 4) == {"model": ["2024-01-02", "2024-01-03"]}
