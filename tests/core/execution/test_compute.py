"""Compute requests: ``rs.Compute`` / ``rs.ComputeEscalation`` on assets, multi-assets and retry policies."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import rivers as rs
from rivers.definitions.compute import compute_for_attempt, escalate
from rivers.exceptions import ConfigurationError
from rivers.execution.local_launchers import InlineLauncher

OOM = rs.FailureReason.OUT_OF_MEMORY


def test_compute_keeps_its_fields_and_shows_the_ones_set() -> None:
    compute = rs.Compute(cpu="500m", memory="2Gi", gpu="1")
    assert (compute.cpu, compute.memory, compute.gpu) == ("500m", "2Gi", "1")
    assert repr(rs.Compute(cpu="500m")) == "Compute(cpu='500m')"
    assert repr(compute) == "Compute(cpu='500m', memory='2Gi', gpu='1')"
    assert repr(rs.Compute()) == "Compute()"
    assert compute == rs.Compute(gpu="1", memory="2Gi", cpu="500m") and len({compute, rs.Compute(cpu="500m",
                                                                                   memory="2Gi", gpu="1")}) == 1
    assert rs.Compute(gpu=1).gpu == "1"  # a whole number is written as text
    assert compute.as_dict() == {"cpu": "500m", "memory": "2Gi", "gpu": "1"}


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"cpu": "lots"}, ConfigurationError, "cpu='lots' is not a Kubernetes quantity"),
    ({"memory": "2 GB"}, ConfigurationError, "memory='2 GB' is not a Kubernetes quantity"),
    ({"cpu": 1.5}, TypeError, "cpu must be a quantity string"),
    ({"gpu": True}, TypeError, "gpu must be a quantity string"),
])
def test_compute_rejects_what_is_not_a_quantity(kwargs: dict[str, Any], error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        rs.Compute(**kwargs)
    with pytest.raises(TypeError):
        rs.Compute("1")  # type: ignore[misc]  # keyword-only


def test_compute_escalation_defaults_repr_and_validation() -> None:
    escalation = rs.ComputeEscalation(max_memory="64Gi")
    assert repr(escalation) == "ComputeEscalation(factor=2, max_memory='64Gi')"
    assert (escalation.factor, escalation.max_memory, escalation.cpu_factor, escalation.max_cpu) == (
        2.0, "64Gi", None, None)
    assert escalation.on == [OOM]
    custom = rs.ComputeEscalation(max_memory="8Gi", factor=1.5, cpu_factor=2, max_cpu="4",
                                  on=[rs.FailureReason.TIMEOUT])
    assert repr(custom) == ("ComputeEscalation(factor=1.5, max_memory='8Gi', cpu_factor=2, max_cpu='4', "
                            "on=[FailureReason.TIMEOUT])")
    with pytest.raises(TypeError, match="max_memory"):
        rs.ComputeEscalation()  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="factor must be at least 1.0"):
        rs.ComputeEscalation(max_memory="8Gi", factor=0.5)
    with pytest.raises(ConfigurationError, match="CANCELLED"):
        rs.ComputeEscalation(max_memory="8Gi", on=[rs.FailureReason.CANCELLED])
    with pytest.raises(TypeError, match="FailureReason"):
        rs.ComputeEscalation(max_memory="8Gi", on=["oom"])


def test_retry_policies_take_an_escalation_and_retry_its_reasons() -> None:
    policy = rs.RetryPolicy(2, retry_on=[ValueError], escalate=rs.ComputeEscalation(max_memory="8Gi"))
    assert repr(policy) == "RetryPolicy(max_retries=2, escalate=ComputeEscalation(factor=2, max_memory='8Gi'))"
    assert policy.admits(MemoryError(), OOM)  # escalated reasons are retried even outside retry_on
    assert not policy.admits(TimeoutError(), rs.FailureReason.TIMEOUT)
    with pytest.raises(TypeError, match="escalate must be an rs.ComputeEscalation"):
        rs.RetryPolicy(1, escalate=3)


def test_assets_and_multi_assets_take_compute_and_asset_def_rejects_it() -> None:
    compute = rs.Compute(memory="1Gi")

    @rs.Asset(compute=compute)
    def single() -> int:
        return 1

    multi = rs.Asset.from_multi(lambda: {"x": 1}, output_defs=[rs.AssetDef("x")], name="m", compute=compute)
    assert single.compute is compute and multi.compute is compute
    with pytest.raises(TypeError, match="compute"):
        rs.AssetDef("x", compute=compute)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="compute must be an rs.Compute"):
        rs.Asset(compute={"cpu": "1"})(lambda: 1)


@pytest.mark.parametrize("executor", [rs.Executor.in_process(), rs.Executor.parallel(max_workers=1)])
def test_compute_is_inert_on_local_executors_with_a_warning(executor: Any, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    files = rs.io_handler("fs", base_dir=str(tmp_path))  # steps run in worker processes on the parallel executor

    @rs.Asset(compute=rs.Compute(cpu="64", memory="1Ti"), io_handler=files)
    def heavy() -> int:
        return 41

    @rs.Asset(io_handler=files)
    def light(heavy: int) -> int:
        return heavy + 1

    repo = rs.CodeRepository(assets=[heavy, light], default_executor=executor)
    with caplog.at_level(logging.WARNING, logger="rivers.executor"):
        assert repo.materialize().success
    assert repo.load_node("light") == 42
    warnings = [r.getMessage() for r in caplog.records if "compute=" in r.getMessage()]
    assert len(warnings) == 1 and "assets: heavy" in warnings[0]


def test_escalation_grows_memory_and_cpu_up_to_their_caps() -> None:
    escalation = rs.ComputeEscalation(max_memory="6Gi", cpu_factor=2, max_cpu="3")
    base = rs.Compute(cpu="1", memory="2Gi", gpu="1")
    assert escalate(base, escalation, []) == base
    assert escalate(base, escalation, [OOM]) == rs.Compute(cpu="2", memory="4Gi", gpu="1")
    assert escalate(base, escalation, [OOM, OOM, OOM]) == rs.Compute(cpu="3", memory="6Gi", gpu="1")
    assert escalate(base, escalation, [rs.FailureReason.ERROR]) == base  # not an escalating reason
    assert escalate(rs.Compute(memory="600Mi"), rs.ComputeEscalation(max_memory="1G", factor=1.5),
                    [OOM]) == rs.Compute(memory="900Mi")
    assert escalate(rs.Compute(cpu="250m"), rs.ComputeEscalation(max_memory="1Gi", cpu_factor=1.5),
                    [OOM]) == rs.Compute(cpu="375m")
    assert escalate(rs.Compute(memory="100Gi"), escalation, [OOM]) == rs.Compute(memory="100Gi")  # never lowered
    assert escalate(rs.Compute(cpu="1"), rs.ComputeEscalation(max_memory="1Gi"), [OOM]) == rs.Compute(cpu="1")
    assert escalate(None, escalation, [OOM]) is None


class _PlacingLauncher(InlineLauncher):
    """Reads each step's compute for its next attempts before running it here (as a pod launcher would)."""

    def __init__(self, requests: dict[str, list[Any]]) -> None:
        self.requests = requests

    def launch(self, attempt: Any) -> None:
        planned = attempt.planned
        self.requests[planned.key] = [compute_for_attempt(planned, [OOM] * failures, self.context.state.retry_default)
                                      for failures in range(3)]
        super().launch(attempt)


class _PlacingExecutor(rs.Executor):
    """An executor that places work: its launcher reads each step's compute."""

    plugin_name = "placing"
    places_work = True

    def __init__(self) -> None:
        self.requests: dict[str, list[Any]] = {}

    def launcher(self) -> _PlacingLauncher:
        return _PlacingLauncher(self.requests)


def test_executors_that_place_work_read_the_effective_compute_of_each_attempt(
        caplog: pytest.LogCaptureFixture) -> None:
    policy = rs.RetryPolicy(3, escalate=rs.ComputeEscalation(max_memory="3Gi"))

    @rs.Asset(compute=rs.Compute(cpu="1", memory="1Gi"), retry=policy)
    def sized() -> int:
        return 1

    @rs.Asset(compute=rs.Compute(memory="1Gi"))
    def from_default(sized: int) -> int:
        return sized

    @rs.Asset
    def unsized(sized: int) -> int:
        return sized

    def multi_fn() -> dict[str, int]:
        return {"o1": 1, "o2": 2}

    multi = rs.Asset.from_multi(multi_fn, output_defs=[rs.AssetDef("o1"), rs.AssetDef("o2")], name="pair",
                                compute=rs.Compute(gpu="1"))
    executor = _PlacingExecutor()
    repo = rs.CodeRepository(assets=[sized, from_default, unsized, multi], default_executor=executor,
                             default_retry_policy=rs.RetryPolicy(1, escalate=rs.ComputeEscalation(max_memory="8Gi",
                                                                                                 factor=4)))
    with caplog.at_level(logging.WARNING, logger="rivers.executor"):
        assert repo.materialize().success
    assert not [r for r in caplog.records if "compute=" in r.getMessage()]  # no warning: the executor uses it
    assert executor.requests["sized"] == [rs.Compute(cpu="1", memory="1Gi"), rs.Compute(cpu="1", memory="2Gi"),
                                          rs.Compute(cpu="1", memory="3Gi")]
    # no policy of its own: the repository default escalates it
    assert executor.requests["from_default"] == [rs.Compute(memory="1Gi"), rs.Compute(memory="4Gi"),
                                                 rs.Compute(memory="8Gi")]
    assert executor.requests["unsized"] == [None, None, None]
    assert executor.requests["pair"] == [rs.Compute(gpu="1")] * 3
