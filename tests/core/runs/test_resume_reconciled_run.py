"""Resuming a run whose record disappears while its dead process is reconciled starts it afresh."""

from __future__ import annotations

from typing import Any

from rivers.runs.launcher import RunLauncher, RunRequest
from rivers.storage.records import RunRecord


class VanishingRunStorage:
    """A storage whose one run was ``Started`` by a dead process and is gone once reconciled."""

    def __init__(self, run_id: str) -> None:
        self.record: RunRecord | None = RunRecord(run_id=run_id, job_name="job", status="Started")
        self.reconciled: list[Any] = []

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.record

    def reconcile_runs(self, limit: int = 1000, run_ids: Any = None) -> list[str]:
        self.reconciled.append(run_ids)
        self.record = None  # e.g. removed from the database meanwhile
        return list(run_ids)


def test_a_run_gone_after_reconciling_is_resumed_as_a_new_run() -> None:
    storage = VanishingRunStorage("r1")
    launcher = RunLauncher(storage)  # type: ignore[arg-type]  # a stand-in with the two methods used
    request = RunRequest(plan=None, run_id="r1", resume=True)
    assert launcher._resumed_from(request) == (None, [])  # no earlier attempt, the request's launcher
    assert storage.reconciled == [["r1"]]
