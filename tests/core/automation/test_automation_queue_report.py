"""`rivers queue` reads the run launcher's queue back from storage: order and why a run waits."""

from __future__ import annotations

import threading
import time

import rivers as rs
from rivers.automation.queue_report import queued_runs, why_queued


def test_a_run_waiting_for_max_concurrent_runs_and_a_tag_limit_says_so():
    release = threading.Event()

    @rs.Asset
    def slow() -> int:
        release.wait(30)
        return 1

    @rs.Asset
    def quick() -> int:
        return 2

    config = rs.RunQueueConfig(max_concurrent_runs=1,
                               tag_concurrency_limits=[rs.TagConcurrencyLimit("team", 1, per_unique_value=True)])
    repo = rs.CodeRepository(assets=[slow, quick], run_queue=config)
    repo.resolve(rs.Storage.memory())
    going = repo.materialize(["slow"], tags=[("team", "a")], block=False)
    waiting = repo.materialize(["quick"], tags=[("team", "a")], block=False)
    try:
        deadline = time.monotonic() + 30
        while getattr(repo.storage.get_run(going.run_id), "status", None) != "Started":  # admitted, recorded soon
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert [run.run_id for run in queued_runs(repo.storage)] == [waiting.run_id]
        lines = why_queued(repo.storage, config, waiting.run_id)
        assert lines[0].startswith(f"run {waiting.run_id} is queued: position 1 of 1")
        assert any(line.startswith("max_concurrent_runs: 1 of 1") for line in lines)
        assert any(line.startswith("tag limit team=a: 1 of 1") for line in lines)
        assert why_queued(repo.storage, config, going.run_id) == [f"run {going.run_id} is not queued (status Started)"]
        assert why_queued(repo.storage, config, "nope") == ["run nope not found"]
    finally:
        release.set()
        going.wait(30)
        waiting.wait(30)
