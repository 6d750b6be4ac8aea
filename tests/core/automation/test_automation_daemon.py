"""The daemon in this process: schedule ticks and catch-up, sensors and cursors, exactly-once, leadership,
timeouts, tick retention, conditions launching runs, requested backfills. Clocks are injected."""

from __future__ import annotations

import time

import pytest

import rivers as rs
from rivers.automation.daemon import AutomationDaemon
from rivers.automation.launching import Launcher
from rivers.automation.statuses import set_running
from rivers.automation.triggers import TickLog, tick_schedule

A = rs.AutomationCondition
MINUTE_START = 1_700_000_040.0  # a whole minute


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def build(tmp_path, *, schedules=(), sensors=(), extra_assets=()):
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))

    @rs.Asset(io_handler=fs)
    def feed() -> int:
        return 1

    job = rs.Job("j", assets=[feed], executor=rs.Executor.in_process())
    repo = rs.CodeRepository(assets=[feed, *extra_assets], jobs=[job], schedules=list(schedules),
                             sensors=list(sensors))
    storage = rs.Storage.embedded(str(tmp_path / "store.db"))
    repo.resolve(storage)
    return repo, storage


def runs_of(storage, name):
    return [run for run in storage.get_runs(limit=1000) if run.launched_by.name == name]


def daemon_for(repo, clock, **kwargs):
    return AutomationDaemon(repo, clock=clock, **kwargs)


def test_a_running_schedule_ticks_at_its_cron_times(tmp_path):
    schedule = rs.Schedule(cron_schedule="* * * * *", job_name="j", name="every_minute",
                           default_status=rs.ScheduleStatus.Running, tags={"t": "v"})
    repo, storage = build(tmp_path, schedules=[schedule])
    clock = Clock(MINUTE_START + 10)
    daemon = daemon_for(repo, clock)
    daemon.run_once(wait=True)
    assert runs_of(storage, "every_minute") == []  # the first pass only starts the clock
    clock.now = MINUTE_START + 61
    daemon.run_once(wait=True)
    daemon.run_once(wait=True)  # the same minute again: nothing new
    daemon.wait_for_runs(30)
    runs = runs_of(storage, "every_minute")
    assert len(runs) == 1 and runs[0].status == "Success" and ("t", "v") in runs[0].tags
    assert runs[0].launched_by == rs.LaunchedBy.schedule("every_minute")
    ticks = storage.get_ticks("every_minute")
    assert [t.status for t in ticks] == ["success"] and ticks[0].run_ids == [runs[0].run_id]
    daemon.stop()


def test_a_stopped_schedule_does_not_tick_until_started(tmp_path):
    schedule = rs.Schedule(cron_schedule="* * * * *", job_name="j", name="quiet")
    repo, storage = build(tmp_path, schedules=[schedule])
    clock = Clock(MINUTE_START + 10)
    daemon = daemon_for(repo, clock)
    daemon.run_once(wait=True)
    clock.now += 60
    daemon.run_once(wait=True)
    assert storage.get_ticks("quiet") == []
    set_running(storage, "quiet", True)
    daemon.run_once(wait=True)
    clock.now += 60
    daemon.run_once(wait=True)
    assert len(storage.get_ticks("quiet")) == 1
    daemon.stop()


@pytest.mark.parametrize(("policy", "expected"), [("skip", 0), ("latest", 1), ("all", 10)])
def test_catch_up_policy_after_downtime(tmp_path, policy, expected):
    schedule = rs.Schedule(cron_schedule="* * * * *", job_name="j", name="s", catch_up=policy,
                           max_catch_up_ticks=10, default_status=rs.ScheduleStatus.Running)
    repo, storage = build(tmp_path, schedules=[schedule])
    clock = Clock(MINUTE_START + 30)
    first = daemon_for(repo, clock)
    assert first.run_once(wait=True)
    first.stop()
    clock.now += 3600  # an hour down: 60 ticks missed; then a new daemon starts
    daemon = daemon_for(repo, clock)
    daemon.run_once(wait=True)
    daemon.wait_for_runs(60)
    assert len(runs_of(storage, "s")) == expected
    clock.now += 60  # back to normal: the next tick runs
    daemon.run_once(wait=True)
    daemon.wait_for_runs(30)
    assert len(runs_of(storage, "s")) == expected + 1
    daemon.stop()


def test_a_tick_evaluated_twice_launches_its_runs_once(tmp_path):
    @rs.Schedule(cron_schedule="* * * * *", job_name="j")
    def twice(context: rs.ScheduleEvaluationContext):
        return [rs.RunRequest(), rs.RunRequest(run_key="k")]

    repo, storage = build(tmp_path, schedules=[twice])
    launcher = Launcher(repo)
    log = TickLog(storage, 100)
    first = tick_schedule(twice, MINUTE_START, launcher, log, {})
    second = tick_schedule(twice, MINUTE_START, launcher, log, {})  # e.g. after a crash, or by a new leader
    launcher.wait(30)
    assert first.run_ids == second.run_ids and len(first.run_ids) == 2
    assert len(runs_of(storage, "twice")) == 2
    assert len(storage.get_ticks("twice")) == 1  # same tick id: replaced, not added


def test_sensor_cursor_run_keys_and_last_tick_time(tmp_path):
    seen = []

    @rs.Sensor(job_name="j", minimum_interval="10s", default_status=rs.SensorStatus.Running)
    def inbox(context: rs.SensorEvaluationContext):
        seen.append((context.cursor, context.last_tick_time))
        count = int(context.cursor or 0)
        # the same run key twice: launched once
        return rs.SensorResult([rs.RunRequest(run_key=str(count // 2))], cursor=str(count + 1))

    repo, storage = build(tmp_path, sensors=[inbox])
    clock = Clock(MINUTE_START)
    daemon = daemon_for(repo, clock)
    for step in range(4):
        daemon.run_once(wait=True)
        clock.now += 5  # every other pass is within minimum_interval
    daemon.wait_for_runs(30)
    assert [cursor for cursor, _ in seen] == [None, "1"]
    assert seen[1][1] == pytest.approx(MINUTE_START)
    assert storage.get_automation_cursor("inbox") == "2"
    assert len(runs_of(storage, "inbox")) == 1  # run keys "0" and "0"
    daemon.stop()
    restarted = daemon_for(repo, clock)  # a new daemon continues from the stored cursor and last tick
    clock.now += 10
    assert restarted.run_once(wait=True)
    assert seen[-1][0] == "2"
    restarted.wait_for_runs(30)
    assert len(runs_of(storage, "inbox")) == 2
    restarted.stop()


def test_ticks_are_pruned_to_max_ticks_retained(tmp_path):
    @rs.Sensor(job_name="j", minimum_interval="1s", default_status=rs.SensorStatus.Running)
    def often(context: rs.SensorEvaluationContext):
        return rs.SkipReason("nothing")

    repo, storage = build(tmp_path, sensors=[often])
    clock = Clock(MINUTE_START)
    daemon = daemon_for(repo, clock, max_ticks_retained=3)
    for _ in range(6):
        daemon.run_once(wait=True)
        clock.now += 2
    ticks = storage.get_ticks("often")
    assert len(ticks) == 3 and all(t.status == "skipped" and t.skip_reason == "nothing" for t in ticks)
    daemon.stop()


def test_only_the_lease_holder_ticks(tmp_path):
    schedule = rs.Schedule(cron_schedule="* * * * *", job_name="j", name="s", default_status=rs.ScheduleStatus.Running)
    repo, storage = build(tmp_path, schedules=[schedule])
    clock = Clock(MINUTE_START + 10)
    leader = daemon_for(repo, clock, lease_duration=0.5)
    follower = daemon_for(repo, clock, lease_duration=0.5)
    assert leader.run_once(wait=True) is True
    assert follower.run_once(wait=True) is False
    time.sleep(0.6)  # the leader stopped renewing: its lease expires
    assert follower.run_once(wait=True) is True
    assert leader.run_once(wait=True) is False
    follower.stop()
    assert leader.run_once(wait=True) is True  # released on stop: taken at once
    leader.stop()


def test_a_hanging_subprocess_sensor_is_killed_at_its_timeout(tmp_path):
    @rs.Sensor(job_name="j", eval_mode=rs.EvalMode.Subprocess, eval_timeout=0.5,
               default_status=rs.SensorStatus.Running)
    def hangs(context: rs.SensorEvaluationContext):
        time.sleep(60)

    repo, storage = build(tmp_path, sensors=[hangs])
    daemon = daemon_for(repo, Clock(MINUTE_START))
    started = time.monotonic()
    daemon.run_once(wait=True)
    assert time.monotonic() - started < 10
    tick = storage.get_ticks("hangs")[0]
    assert tick.status == "failure" and "eval_timeout=0.5" in tick.error and "killed" in tick.error
    daemon.stop()


def test_an_in_process_timeout_is_recorded_without_blocking(tmp_path):
    @rs.Schedule(cron_schedule="* * * * *", job_name="j", eval_timeout=0.2)
    def slow(context: rs.ScheduleEvaluationContext):
        time.sleep(2)

    repo, storage = build(tmp_path, schedules=[slow])
    tick = tick_schedule(slow, MINUTE_START, Launcher(repo), TickLog(storage, 10), {})
    assert tick.status == "failure" and "did not finish within eval_timeout=0.2s" in tick.error


def test_eager_downstream_is_launched_when_its_upstream_materializes(tmp_path):
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))

    @rs.Asset(io_handler=fs)
    def source() -> int:
        return 2

    @rs.Asset(io_handler=fs, automation_condition=A.eager())
    def doubled(source: int) -> int:
        return source * 2

    repo, storage = build(tmp_path, extra_assets=[source, doubled])
    daemon = daemon_for(repo, time.time, condition_eval_interval="1h")
    daemon.run_once(wait=True)
    assert daemon.wait_for_runs(5) is None and storage.get_runs(limit=10) == []
    repo.materialize(["source"])
    daemon.run_once(wait=True)
    daemon.wait_for_runs(30)
    launched = [r for r in storage.get_runs(limit=10) if r.launched_by == rs.LaunchedBy.condition()]
    assert len(launched) == 1 and launched[0].node_names == ["doubled"] and launched[0].status == "Success"
    assert repo.load_node("doubled") == 4
    daemon.run_once(wait=True)
    daemon.wait_for_runs(30)
    assert len([r for r in storage.get_runs(limit=10) if r.launched_by == rs.LaunchedBy.condition()]) == 1
    assert [t.run_ids for t in storage.get_ticks("automation_conditions") if t.run_ids] == [[launched[0].run_id]]
    daemon.stop()


def test_requested_backfills_are_picked_up(tmp_path):
    letters = rs.PartitionsDefinition.static_(["a", "b", "c"])
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))

    @rs.Asset(io_handler=fs, partitions_def=letters)
    def part(context: rs.AssetExecutionContext) -> str:
        return str(context.partition_key)

    repo, storage = build(tmp_path, extra_assets=[part])
    requested = repo.backfill(["part"], partition_keys=["a", "c"], block=False)
    assert repo.get_backfill(requested.backfill_id).status == "Requested"
    daemon = daemon_for(repo, time.time)
    daemon.run_once(wait=True)
    deadline = time.monotonic() + 30
    while repo.get_backfill(requested.backfill_id).status in ("Requested", "InProgress"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert repo.get_backfill(requested.backfill_id).completed_partitions == 2
    assert sorted(map(str, storage.get_materialized_partitions("part"))) == ["a", "c"]
    daemon.stop()
