"""Concurrency pools: storage API, leases, and limits honoured across workers, runs and processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import parallel_support as ps
import rivers as rs
from rivers.exceptions import ExecutionError, StorageError


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERS_TEST_MARKS", str(tmp_path / "marks"))
    monkeypatch.setenv("RIVERS_CLAIM_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("RIVERS_CLAIM_POLL_JITTER", "0.02")


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> rs.Storage:
    return rs.Storage.memory() if request.param == "memory" else rs.Storage.embedded(tmp_path / "pools.db")


# ------------------------------------------------------------------ storage
def test_pool_limits_and_infos(storage: rs.Storage) -> None:
    storage.set_pool_limit("warehouse", 4)
    storage.set_pool_limit("api", 1, lease_duration="30s")
    storage.set_pool_limit("warehouse", 3)  # upsert keeps the order
    assert [(p.pool_key, p.slot_limit, p.lease_duration_secs) for p in storage.get_pool_limits()] == [
        ("warehouse", 3, 300), ("api", 1, 30)]
    info = storage.get_pool_info("api")
    assert (info.pool_key, info.slot_limit, info.claimed_count, info.pending_count) == ("api", 1, 0, 0)
    assert [i.pool_key for i in storage.get_all_pool_infos()] == ["warehouse", "api"]
    with pytest.raises(StorageError, match="pool 'nope' not configured"):
        storage.get_pool_info("nope")
    with pytest.raises(ValueError, match="invalid duration for 'lease_duration'"):
        storage.set_pool_limit("api", 1, lease_duration="soon")


def test_claims_are_all_or_nothing_and_pending_claims_are_counted(storage: rs.Storage) -> None:
    storage.set_pool_limit("p", 2)
    storage.set_pool_limit("q", 1)
    assert storage._claim_concurrency_slots("r1", "a", [("p", 2)]).is_claimed
    status = storage._claim_concurrency_slots("r1", "b", [("p", 1), ("q", 1)])
    assert not status.is_claimed and status.status == "pending" and status.position == 1
    assert status.reason.kind == "pool_full" and status.reason.pools[0].pool_key == "p"
    assert storage.get_pool_info("q").claimed_count == 0  # nothing of b was taken
    assert storage.get_pool_info("p").pending_count == 1
    holders = storage.get_pool_slot_holders("p")
    assert [(h.run_id, h.step_key, h.slots_consumed) for h in holders] == [("r1", "a", 2)]
    assert holders[0].lease_expires_at - holders[0].claimed_at == 300 * 10**9
    storage._free_concurrency_slots("r1", "a")
    assert storage._claim_concurrency_slots("r1", "b", [("p", 1), ("q", 1)]).is_claimed
    assert storage.get_pool_info("p").pending_count == 0
    assert storage._claim_concurrency_slots("r2", "c", [("new_pool", 5)]).is_claimed  # unknown: unlimited
    assert storage.get_pool_info("new_pool").slot_limit == -1
    storage._free_concurrency_slots_for_run("r1")
    assert storage.get_pool_info("p").claimed_count == storage.get_pool_info("q").claimed_count == 0


def test_expired_leases_stop_counting_and_renewal_keeps_them(storage: rs.Storage) -> None:
    storage.set_pool_limit("p", 1, lease_duration="600ms")
    started = time.monotonic()
    assert storage._claim_concurrency_slots("dead", "a", [("p", 1)]).is_claimed
    assert storage._claim_concurrency_slots("alive", "b", [("p", 1)]).status == "pending"
    time.sleep(0.35)
    assert storage._renew_slot_lease("dead", "a")  # renewed in time: held until ~0.95 s
    time.sleep(max(0.7 - (time.monotonic() - started), 0))
    if time.monotonic() - started < 0.9:  # (a badly overloaded machine may overshoot the sleeps)
        assert storage._claim_concurrency_slots("alive", "b", [("p", 1)]).status == "pending"
    time.sleep(0.7)  # no renewal: the holder "crashed"
    assert storage.get_pool_info("p").claimed_count == 0
    assert not storage._renew_slot_lease("dead", "a")
    assert storage._claim_concurrency_slots("alive", "b", [("p", 1)]).is_claimed


def test_resolve_writes_configured_limits_and_registers_declared_pools_as_unlimited(storage: rs.Storage) -> None:
    storage.set_pool_limit("solo", 7, lease_duration="1m")  # set by an operator earlier
    repo = rs.CodeRepository(assets=[ps.gate_quick, ps.gate_greedy, *ps.SOLO_POOL], pool_limits={"gate": 2},
                             default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    limits = {p.pool_key: (p.slot_limit, p.lease_duration_secs) for p in storage.get_pool_limits()}
    assert limits == {"solo": (7, 60), "gate": (2, 300)}
    assert repo.storage.get_asset_record("gate_greedy").pool == [("gate", 2)]


# ------------------------------------------------------------------ running
def spans(*names: str) -> list[tuple[float, float]]:
    return sorted((m["start"], m["end"]) for name in names for m in ps.marks(name))


def assert_never_overlap(intervals: list[tuple[float, float]]) -> None:
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        assert start >= end - 0.005, f"two steps of a 1-slot pool ran at once: {intervals}"


def test_a_pool_of_one_serialises_steps_across_workers() -> None:
    repo = rs.CodeRepository(assets=ps.SOLO_POOL, pool_limits={"solo": 1},
                             default_executor=rs.Executor.parallel(max_workers=2))
    repo.resolve(rs.Storage.embedded("runs.db"))
    result = repo.materialize()
    assert result.success
    names = [a.name for a in ps.SOLO_POOL]
    assert len(spans(*names)) == 4
    assert_never_overlap(spans(*names))
    types = [e.event_type for e in repo.storage.get_events_for_run(result.run_id) if e.asset_key == "solo0"]
    assert types[0] == "StepSlotClaimed" and types[-1] == "StepSlotReleased"
    assert repo.storage.get_pool_info("solo").claimed_count == 0


POOLED_RUN = """
import sys
sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps

repo = rs.CodeRepository(assets=ps.SOLO_POOL, pool_limits={{"solo": 1}},
                         default_executor=rs.Executor.parallel(max_workers=2))
repo.resolve(rs.Storage.embedded("shared.db"))
print(repo.materialize().success)
"""


def test_a_pool_of_one_never_runs_two_steps_at_once_across_processes(tmp_path: Path) -> None:
    script = tmp_path / "pooled_run.py"
    script.write_text(POOLED_RUN.format(support=str(Path(ps.__file__).parent)))
    processes = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [out.strip() for out, _ in outputs] == ["True", "True"], outputs
    intervals = spans(*[a.name for a in ps.SOLO_POOL])
    assert len(intervals) == 8
    assert len({m["pid"] for a in ps.SOLO_POOL for m in ps.marks(a.name)}) >= 2
    assert_never_overlap(intervals)
    storage = rs.Storage.embedded("shared.db")
    assert storage.get_pool_info("solo").claimed_count == 0
    assert len(storage.get_runs()) == 2


@pytest.mark.parametrize("executor", [rs.Executor.in_process(), rs.Executor.parallel(max_workers=2)],
                         ids=["in_process", "parallel"])
def test_slots_are_released_when_a_step_fails_or_its_worker_dies(executor: rs.Executor) -> None:
    assets = [ps.gate_fails, ps.gate_quick]
    if isinstance(executor, rs.Executor.Parallel):
        assets.append(ps.gate_dies)
    repo = rs.CodeRepository(assets=assets, pool_limits={"gate": 1}, default_executor=executor)
    repo.resolve(rs.Storage.embedded("runs.db"))
    result = repo.materialize(raise_on_error=False)
    failed = dict(result.failed_assets)
    assert failed["gate_fails"] == "ValueError: pooled failure"
    if "gate_dies" in failed:
        assert failed["gate_dies"].startswith("WorkerLostError")
    assert repo.load_node("gate_quick") == "quick"  # the pool was not left full
    assert repo.storage.get_pool_info("gate").claimed_count == 0
    assert repo.storage.get_pool_slot_holders("gate") == []


def test_slots_held_by_a_crashed_run_come_back_when_its_lease_expires() -> None:
    storage = rs.Storage.embedded("runs.db")
    storage.set_pool_limit("gate", 1, lease_duration="500ms")
    assert storage._claim_concurrency_slots("crashed-run", "x", [("gate", 1)]).is_claimed
    repo = rs.CodeRepository(assets=[ps.gate_quick], default_executor=rs.Executor.parallel(max_workers=1))
    repo.resolve(storage)
    started = time.monotonic()
    assert repo.materialize().success
    assert time.monotonic() - started >= 0.4  # it had to wait for the lease to expire
    waiting = [e for e in storage.get_events_for_run(storage.get_runs()[0].run_id) if e.event_type == "StepSlotWaiting"]
    assert len(waiting) == 1 and "pool 'gate' has 0 of 1 slots free" in dict(waiting[0].metadata)["reason"]


def test_a_step_that_can_never_claim_fails_after_the_claim_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERS_CLAIM_TIMEOUT", "0.3")
    for executor in (rs.Executor.in_process(), rs.Executor.parallel(max_workers=1)):
        repo = rs.CodeRepository(assets=[ps.gate_greedy, ps.independent], pool_limits={"gate": 1},
                                 default_executor=executor)
        repo.resolve(rs.Storage.memory())
        expected = r"Step 'gate_greedy' could not claim its pool slots 'gate' \(2 slots\)"
        with pytest.raises(ExecutionError, match=expected):
            repo.materialize()
        assert repo.storage.get_pool_info("gate").pending_count == 0


def test_a_retry_backoff_gives_the_slot_to_another_step() -> None:
    repo = rs.CodeRepository(assets=[ps.gate_flaky, ps.gate_quick], pool_limits={"gate": 1},
                             default_executor=rs.Executor.parallel(max_workers=2))
    repo.resolve(rs.Storage.embedded("runs.db"))
    assert repo.materialize().success
    first, second = sorted(ps.marks("gate_flaky"), key=lambda m: m["attempt"])
    (quick,) = ps.marks("gate_quick")
    assert first["start"] < quick["start"] and quick["end"] < second["start"]


def test_pools_work_with_in_process_runs_too() -> None:
    repo = rs.CodeRepository(assets=ps.SOLO_POOL[:2], pool_limits={"solo": 1},
                             default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.embedded("runs.db"))
    result = repo.materialize()
    assert result.success
    events = [(e.event_type, e.asset_key) for e in repo.storage.get_events_for_run(result.run_id)]
    assert events[:2] == [("StepSlotClaimed", "solo0"), ("StepStart", "solo0")]
    assert ("StepSlotReleased", "solo0") in events
    assert os.getpid() in {m["pid"] for m in ps.marks("solo0")}
