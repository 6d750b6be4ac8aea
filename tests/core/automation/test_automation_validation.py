"""Definition errors of schedules and sensors that name the automation and the parameter at fault."""

from __future__ import annotations

import pytest

import rivers as rs
from rivers.exceptions import ScheduleDefinitionError, SensorDefinitionError


@rs.Asset
def feed() -> int:
    return 1


JOB = rs.Job("j", assets=[feed], executor=rs.Executor.in_process())


def _repo(schedules=(), sensors=()):
    return rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=list(schedules), sensors=list(sensors))


def test_bad_statuses_and_eval_modes_name_the_parameter():
    with pytest.raises(ScheduleDefinitionError, match=r"Schedule 'nightly': invalid default_status 'running'; "
                                                      r"use one of ScheduleStatus.Running, ScheduleStatus.Stopped"):
        rs.Schedule(cron_schedule="0 0 * * *", job_name="j", name="nightly", default_status="running")
    with pytest.raises(SensorDefinitionError, match=r"Sensor 'inbox': invalid eval_mode 7; use one of EvalMode.Auto"):
        rs.Sensor(name="inbox", job_name="j", eval_mode=7)
    with pytest.raises(SensorDefinitionError, match="invalid default_status True"):
        rs.Sensor(name="inbox", job_name="j", default_status=True)
    # ints and the other kind's members still work (both enums are int-convertible)
    assert rs.Schedule(cron_schedule="0 0 * * *", job_name="j", default_status=0).default_status is \
        rs.ScheduleStatus.Running
    assert rs.Sensor(job_name="j", eval_mode=2).eval_mode is rs.EvalMode.Subprocess


def test_eval_timeout_is_checked_at_validate_not_at_construction():
    schedule = rs.Schedule(cron_schedule="0 0 * * *", job_name="j", name="nightly", eval_timeout="5s")
    with pytest.raises(ScheduleDefinitionError,
                       match="Schedule 'nightly': eval_timeout must be a positive number of seconds or None, got '5s'"):
        _repo(schedules=[schedule]).validate()
    sensor = rs.Sensor(lambda: None, name="inbox", job_name="j", eval_timeout=0)
    with pytest.raises(SensorDefinitionError, match="Sensor 'inbox': eval_timeout must be a positive number"):
        _repo(sensors=[sensor]).validate()
    _repo(schedules=[rs.Schedule(cron_schedule="0 0 * * *", job_name="j", eval_timeout=2.5)]).validate()


def test_minimum_interval_is_checked_at_validate():
    sensor = rs.Sensor(lambda: None, name="inbox", job_name="j", minimum_interval="soon")
    with pytest.raises(SensorDefinitionError, match=r"Sensor 'inbox': invalid duration for 'minimum_interval': "
                                                    r"'soon' \(expected e.g."):
        _repo(sensors=[sensor]).validate()
    zero = rs.Sensor(lambda: None, name="inbox", job_name="j", minimum_interval="0s")
    with pytest.raises(SensorDefinitionError, match="minimum_interval must be longer than 0s"):
        _repo(sensors=[zero]).validate()
    _repo(sensors=[rs.Sensor(lambda: None, name="inbox", job_name="j", minimum_interval="1m30s")]).validate()
