"""The real daemon in its own processes: `rivers daemon TARGET` against one SQLite store.

One-second schedules (six-field cron) run for a few seconds; processes are
SIGKILLed mid-tick and restarted; two daemons share a store; a sensor keeps
its cursor across restarts; an eager() chain reacts to a materialization
made by another process; a hanging sensor is killed by its timeout while a
schedule keeps ticking.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

import rivers as rs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PIPELINE = '''
import os, time
import rivers as rs

fs = rs.io_handler("fs", base_dir="data")

@rs.Asset(io_handler=fs)
def up() -> int:
    return 1

@rs.Asset(io_handler=fs, automation_condition=rs.AutomationCondition.eager())
def middle(up: int) -> int:
    return up + 1

@rs.Asset(io_handler=fs, automation_condition=rs.AutomationCondition.eager())
def last(middle: int) -> int:
    return middle + 1

@rs.Asset(io_handler=fs)
def ticked() -> int:
    return 1

job = rs.Job("j", assets=[ticked])

@rs.Schedule(cron_schedule="* * * * * *", job_name="j", default_status=rs.ScheduleStatus.{schedule_status},
             catch_up="all")
def every_second(context: rs.ScheduleEvaluationContext):
    if os.environ.get("SLOW_TICK"):
        open("in_tick", "w").close()
        time.sleep(float(os.environ["SLOW_TICK"]))
    return rs.RunRequest(run_key=context.scheduled_execution_time)

@rs.Sensor(job_name="j", minimum_interval="1s", default_status=rs.SensorStatus.{sensor_status})
def counter(context: rs.SensorEvaluationContext):
    seen = int(context.cursor or 0)
    return rs.SensorResult([rs.RunRequest(run_key=f"n{{seen + 1}}")], cursor=str(seen + 1))

@rs.Sensor(job_name="j", minimum_interval="1s", eval_mode=rs.EvalMode.Subprocess, eval_timeout=1,
           default_status=rs.SensorStatus.{hang_status})
def hangs(context: rs.SensorEvaluationContext):
    time.sleep(3600)

repo = rs.CodeRepository(assets=[up, middle, last, ticked], jobs=[job], schedules=[every_second],
                         sensors=[counter, hangs])
'''


def write_pipeline(tmp_path: Path, schedule: bool = True, sensor: bool = False, hang: bool = False) -> Path:
    def status(on: bool) -> str:
        return "Running" if on else "Stopped"

    (tmp_path / "pipeline.py").write_text(PIPELINE.format(schedule_status=status(schedule),
                                                          sensor_status=status(sensor), hang_status=status(hang)))
    return tmp_path


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RIVERS_STORAGE_URL", "NO_COLOR", "SLOW_TICK")}
    env.update({"PYTHONIOENCODING": "utf-8", **extra})
    return env


def start_daemon(cwd: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rivers.cli", "daemon", "pipeline.py", "--lease", "1s", *args],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment(**env), start_new_session=True)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    return out, err


def storage(cwd: Path) -> rs.Storage:
    return rs.Storage.embedded(str(cwd / ".rivers" / "rivers.db"))


def schedule_runs(cwd: Path) -> list:
    store = storage(cwd)
    try:
        return [r for r in store.get_runs(limit=10_000) if r.launched_by == rs.LaunchedBy.schedule("every_second")]
    finally:
        store.close()


def run_keys(runs) -> list[str]:
    return [dict(r.tags)["rivers/run_key"] for r in runs]


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def assert_consecutive_once(keys: list[str]) -> None:
    counts = Counter(int(k) for k in keys)
    assert all(n == 1 for n in counts.values()), f"duplicated ticks: {counts}"
    seconds = sorted(counts)
    assert seconds == list(range(seconds[0], seconds[-1] + 1)), f"lost ticks: {seconds}"


def test_a_one_second_schedule_ticks_every_second_and_stops_cleanly(tmp_path):
    cwd = write_pipeline(tmp_path)
    daemon = start_daemon(cwd)
    wait_until(lambda: len(schedule_runs(cwd)) >= 4, timeout=40)
    out, err = stop(daemon, signal.SIGTERM)
    assert daemon.returncode == 0, err
    assert "tick schedule every_second: success" in out and "automation daemon stopped" in out
    runs = schedule_runs(cwd)
    assert_consecutive_once(run_keys(runs))
    assert all(r.status == "Success" for r in runs)


def test_sigkill_mid_tick_then_restart_loses_and_duplicates_no_tick(tmp_path):
    cwd = write_pipeline(tmp_path)
    first = start_daemon(cwd, SLOW_TICK="0.6")
    wait_until(lambda: len(schedule_runs(cwd)) >= 2, timeout=40)
    marker = cwd / "in_tick"
    marker.unlink(missing_ok=True)
    wait_until(marker.exists, timeout=10, step=0.01)  # the daemon is inside a tick's evaluation now
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    before = run_keys(schedule_runs(cwd))
    time.sleep(1.2)  # the lease (1 s) expires; ticks come due meanwhile
    second = start_daemon(cwd)
    wait_until(lambda: len(schedule_runs(cwd)) >= len(before) + 4, timeout=40)
    stop(second)
    keys = run_keys(schedule_runs(cwd))
    assert set(before) <= set(keys)
    assert_consecutive_once(keys)


def test_two_daemons_on_one_store_have_one_leader_and_the_second_takes_over(tmp_path):
    cwd = write_pipeline(tmp_path)
    a = start_daemon(cwd)
    wait_until(lambda: len(schedule_runs(cwd)) >= 1, timeout=40)
    b = start_daemon(cwd)
    time.sleep(3)
    assert_consecutive_once(run_keys(schedule_runs(cwd)))
    os.killpg(a.pid, signal.SIGKILL)
    out_a, _ = a.communicate(timeout=30)
    killed_at = time.time()
    count = len(schedule_runs(cwd))
    wait_until(lambda: len(schedule_runs(cwd)) >= count + 3, timeout=40)
    out_b, err_b = stop(b)
    assert "tick schedule" in out_a and "tick schedule" in out_b, err_b
    keys = run_keys(schedule_runs(cwd))
    assert_consecutive_once(keys)
    store = storage(cwd)
    try:
        first_by_b = min(r.start_time for r in store.get_runs(limit=10_000) if r.start_time > killed_at * 1e9)
    finally:
        store.close()
    assert first_by_b / 1e9 - killed_at < 1.0 + 2.5  # within a lease period (1 s) plus scheduling slack


def test_a_sensor_keeps_its_cursor_across_restarts(tmp_path):
    cwd = write_pipeline(tmp_path, schedule=False, sensor=True)
    for _ in range(3):
        done = subprocess.run([sys.executable, "-m", "rivers.cli", "daemon", "pipeline.py", "--once"], cwd=cwd,
                              capture_output=True, text=True, env=environment(), timeout=120)
        assert done.returncode == 0, done.stderr
        time.sleep(1.05)  # minimum_interval
    store = storage(cwd)
    try:
        assert store.get_automation_cursor("counter") == "3"
        runs = [r for r in store.get_runs(limit=100) if r.launched_by == rs.LaunchedBy.sensor("counter")]
        assert sorted(dict(r.tags)["rivers/run_key"] for r in runs) == ["n1", "n2", "n3"]
        assert [t.cursor for t in store.get_ticks("counter")] == ["3", "2", "1"]
    finally:
        store.close()


def test_an_eager_chain_reacts_to_a_materialization_from_another_process(tmp_path):
    cwd = write_pipeline(tmp_path, schedule=False)
    daemon = start_daemon(cwd, "--condition-eval-interval", "1h")
    time.sleep(1.5)  # the daemon has evaluated once: nothing to do yet
    done = subprocess.run([sys.executable, "-m", "rivers.cli", "materialize", "pipeline.py", "--select", "up"],
                          cwd=cwd, capture_output=True, text=True, env=environment(), timeout=120)
    assert done.returncode == 0, done.stderr
    finished = time.time()

    def chain_done():
        store = storage(cwd)
        try:
            runs = [r for r in store.get_runs(limit=100) if r.launched_by == rs.LaunchedBy.condition()]
            done_names = {n for r in runs if r.status == "Success" for n in r.node_names}
            return runs if {"middle", "last"} <= done_names else None
        finally:
            store.close()

    runs = wait_until(chain_done, timeout=30)
    stop(daemon)
    first = min(r.start_time for r in runs) / 1e9
    assert first - finished < 3.0  # reacted to the new event, not to the 1 h fallback interval
    assert sorted(n for r in runs for n in r.node_names) == ["last", "middle"]


def test_a_hanging_sensor_is_killed_by_its_timeout_while_the_schedule_keeps_ticking(tmp_path):
    cwd = write_pipeline(tmp_path, schedule=True, hang=True)
    daemon = start_daemon(cwd)

    def hang_failed():
        store = storage(cwd)
        try:
            return [t for t in store.get_ticks("hangs") if t.status == "failure"]
        finally:
            store.close()

    failures = wait_until(hang_failed, timeout=40)
    wait_until(lambda: len(schedule_runs(cwd)) >= 4, timeout=40)
    stop(daemon)
    assert "eval_timeout=1" in failures[0].error and "killed" in failures[0].error
    assert_consecutive_once(run_keys(schedule_runs(cwd)))
