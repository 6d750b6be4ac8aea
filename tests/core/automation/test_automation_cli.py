"""`rivers schedules|sensors|ticks|automation why|daemon --once` on a pipeline file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PIPELINE = textwrap.dedent('''
    import rivers as rs

    fs = rs.io_handler("fs", base_dir="data")

    @rs.Asset(io_handler=fs)
    def up() -> int:
        return 1

    @rs.Asset(io_handler=fs, automation_condition=rs.AutomationCondition.eager())
    def down(up: int) -> int:
        return up + 1

    job = rs.Job("j", assets=[up])
    nightly = rs.Schedule(cron_schedule="0 2 * * *", job_name="j", name="nightly", timezone="UTC")

    @rs.Sensor(job_name="j", default_status=rs.SensorStatus.Running)
    def files(context: rs.SensorEvaluationContext):
        return rs.SensorResult([rs.RunRequest(run_key="f1")], cursor=(context.cursor or "") + "x")

    repo = rs.CodeRepository(assets=[up, down], jobs=[job], schedules=[nightly], sensors=[files])
''')


def rivers(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RIVERS_STORAGE_URL", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "rivers.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PYTHONIOENCODING": "utf-8"}, timeout=120, check=False)


def test_schedule_and_sensor_commands(tmp_path):
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    listed = rivers(tmp_path, "schedules", "list", "pipeline.py")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["nightly", "Stopped", "0", "2", "*", "*", "*", "j"]
    assert rivers(tmp_path, "schedules", "start", "pipeline.py", "nightly").returncode == 0
    assert "Running" in rivers(tmp_path, "schedules", "list", "pipeline.py").stdout  # stored, wins over default
    preview = rivers(tmp_path, "schedules", "preview", "pipeline.py", "nightly", "--next", "2").stdout.split()
    assert len(preview) == 2 and all(line.endswith("T02:00:00+00:00") for line in preview)
    missing = rivers(tmp_path, "schedules", "stop", "pipeline.py", "nope")
    assert missing.returncode != 0 and "no schedule named 'nope'; schedules: nightly" in missing.stderr
    tick = rivers(tmp_path, "sensors", "tick", "pipeline.py", "files", "--cursor", "ab")
    assert "run_key='f1'" in tick.stdout and "cursor: abx" in tick.stdout
    assert "files  Running" in rivers(tmp_path, "sensors", "list", "pipeline.py").stdout
    unknown = rivers(tmp_path, "ticks", "pipeline.py", "nope")
    assert unknown.returncode != 0
    assert "no schedule or sensor named 'nope'; automations: nightly, files, automation_conditions" in unknown.stderr
    none_yet = rivers(tmp_path, "ticks", "pipeline.py", "nightly")
    assert none_yet.returncode == 0 and none_yet.stdout.startswith("no ticks recorded for nightly")


def test_daemon_once_ticks_and_why_explains(tmp_path):
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    assert rivers(tmp_path, "materialize", "pipeline.py", "--select", "up").returncode == 0
    once = rivers(tmp_path, "daemon", "pipeline.py", "--once")
    assert once.returncode == 0, once.stderr
    assert "tick sensor files: success" in once.stdout
    ticks = rivers(tmp_path, "ticks", "pipeline.py", "files")
    assert ticks.returncode == 0 and "success" in ticks.stdout
    # That pass ticked the sensor in a worker thread while it evaluated the conditions, so whether its run
    # of `up` was already requested then (and `down` waited) or not yet (and `down` fired at once) is timing.
    # A new materialization of `up` makes the next pass deterministic: `down` fires on it whatever that was.
    assert rivers(tmp_path, "sensors", "stop", "pipeline.py", "files").returncode == 0
    assert rivers(tmp_path, "materialize", "pipeline.py", "--select", "up").returncode == 0
    again = rivers(tmp_path, "daemon", "pipeline.py", "--once")
    assert "tick condition automation_conditions: success" in again.stdout, again.stdout + again.stderr
    why = rivers(tmp_path, "automation", "why", "pipeline.py", "down")
    assert why.returncode == 0, why.stderr
    lines = why.stdout.splitlines()
    assert lines[0].split() == ["true", "eager"]
    assert any(line.split() == ["false", "any_deps_missing"] for line in lines)
    no_condition = rivers(tmp_path, "automation", "why", "pipeline.py", "up")
    assert no_condition.returncode != 0 and "has no automation condition" in no_condition.stderr


def test_daemon_once_and_lists_say_when_there_is_nothing_to_do(tmp_path):
    (tmp_path / "plain.py").write_text("import rivers as rs\n\n@rs.Asset\ndef a() -> int:\n    return 1\n\n"
                                       "repo = rs.CodeRepository(assets=[a])\n")
    once = rivers(tmp_path, "daemon", "plain.py", "--once")
    assert once.returncode == 0, once.stderr
    assert "nothing ticked: 0 schedules, 0 sensors, 0 assets with an automation condition" in once.stdout
    assert rivers(tmp_path, "schedules", "list", "plain.py").stdout.strip() == "no schedules in plain.py"
    assert rivers(tmp_path, "sensors", "list", "plain.py").stdout.strip() == "no sensors in plain.py"
    # a repository with a stopped schedule, a running sensor and one conditioned asset is counted as such
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    assert rivers(tmp_path, "sensors", "stop", "pipeline.py", "files").returncode == 0
    (tmp_path / "quiet.py").write_text(PIPELINE.replace(
        "automation_condition=rs.AutomationCondition.eager()", "automation_condition=None"))
    quiet = rivers(tmp_path, "daemon", "quiet.py", "--once")
    assert "nothing ticked: 1 schedule, 1 sensor, 0 assets with an automation condition" in quiet.stdout, quiet.stdout
