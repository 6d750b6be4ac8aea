"""How the daemon launches runs: the one place that talks to the run layer.

Every run the daemon starts goes through :class:`Launcher`: job runs for
schedule and sensor requests, asset materializations for fired conditions,
backfills for :class:`~rivers.BackfillRequest`. Runs get deterministic ids
(:func:`run_id_for`) so a tick evaluated twice (after a crash, or by a new
leader) finds the run it already launched instead of starting another.
Runs are submitted to the repository's :class:`~rivers.runs.RunLauncher`
(the same path as ``materialize``), so the repository's ``run_queue``
(``RunQueueConfig``: ``max_concurrent_runs``, tag limits, priorities)
applies to them; ``launch_*`` return once the run's record exists in
storage (``Queued`` while it waits). Backfills run on a helper thread.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from rivers.repository import CodeRepository
    from rivers.storage.records import LaunchedBy

__all__ = ["Launcher", "run_id_for"]

_NAMESPACE = uuid.UUID("5b0c2d0e-7a59-4c55-9d8e-6f3f0d1b2a11")
_LOG = logging.getLogger("rivers.automation")


def run_id_for(automation: str, key: str) -> str:
    """The run id of request ``key`` of ``automation``: the same on every evaluation of the same tick."""
    return str(uuid.uuid5(_NAMESPACE, f"{automation}\x00{key}"))


class Launcher:
    """Starts runs in background threads and knows which of them are still going."""

    def __init__(self, repo: CodeRepository, max_workers: int = 16) -> None:
        self.repo = repo
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rivers-automation-backfill")
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Sequence[str], Any]] = {}
        self._futures: dict[str, Future[Any]] = {}
        self._backfills: set[str] = set()

    @property
    def storage(self) -> Any:
        return self.repo.storage

    def in_flight(self) -> list[tuple[Sequence[str], Any]]:
        """``(asset names, partition key)`` of the runs this launcher started that have not finished."""
        with self._lock:
            return list(self._running.values())

    def exists(self, run_id: str) -> bool:
        """Whether run ``run_id`` was launched already (by this process or any other)."""
        with self._lock:
            if run_id in self._running:
                return True
        return self.storage.get_run(run_id) is not None

    def launch_job(self, job_name: str, *, run_id: str, partition_key: str | None, tags: dict[str, str] | None,
                   launched_by: LaunchedBy) -> str:
        """Start a run of job ``job_name``; returns its run id once the run is recorded."""
        from rivers.execution.partition_requests import coerce_key

        state = self.repo.resolved
        job = self.repo.get_job(job_name)
        plan = state.job_plan(job)
        key = coerce_key(partition_key)
        request = state.run_request(
            plan, executor=job.executor or self.repo.default_executor, partition_key=key, tags=_tag_list(tags),
            config=None, run_id=run_id, raise_on_error=False, resume=False, retry=job.retry, job_name=job.name,
            launched_by=launched_by)
        return self._start(run_id, list(plan.node_names), partition_key, request)

    def launch_assets(self, names: Sequence[str], *, run_id: str, partition_key: str | None,
                      tags: dict[str, str] | None, launched_by: LaunchedBy) -> str:
        """Start a run materializing ``names`` (for one partition key); returns its run id once recorded."""
        state = self.repo.resolved
        plan, key = state.materialize_plan(list(names), partition_key)
        request = state.run_request(
            plan, executor=self.repo.default_executor, partition_key=key, partition_checked=True,
            tags=_tag_list(tags), config=None, run_id=run_id, raise_on_error=False, resume=False, retry=None,
            launched_by=launched_by)
        return self._start(run_id, list(names), partition_key, request)

    def launch_backfill(self, request: Any, tags: dict[str, str] | None) -> str:
        """Record the backfill of ``request`` (status ``Requested``) and run it in the background; its id."""
        merged = {**(request.tags or {}), **(tags or {})}
        result = self.repo.backfill(
            request.selection, partition_keys=request.partition_keys, partition_range=request.partition_range,
            strategy=request.strategy, failure_policy=request.failure_policy or "continue",
            max_concurrency=request.max_concurrency, tags=_tag_list(merged), block=False)
        self.run_backfill(str(result.backfill_id))
        return str(result.backfill_id)

    def run_backfill(self, backfill_id: str) -> None:
        """Run the ``Requested`` backfill ``backfill_id`` in the background (once per process)."""
        from rivers.backfills.service import run_requested_backfill

        with self._lock:
            if backfill_id in self._backfills:
                return
            self._backfills.add(backfill_id)
        state = self.repo.resolved
        key = f"backfill:{backfill_id}"
        future = self._pool.submit(self._execute, key, lambda: run_requested_backfill(
            state, backfill_id, executor=self.repo.default_executor))
        with self._lock:
            if not future.done():
                self._futures[key] = future

    def _start(self, run_id: str, names: Sequence[str], partition_key: str | None, request: Any) -> str:
        with self._lock:
            self._running[run_id] = (names, partition_key)
        handle = self.repo.resolved.launcher.submit(request)
        future = handle.future
        with self._lock:
            self._futures[run_id] = future
        future.add_done_callback(lambda _: self._finished(run_id))
        deadline = time.monotonic() + 10.0
        while self.storage.get_run(run_id) is None and not future.done() and time.monotonic() < deadline:
            time.sleep(0.002)
        return run_id

    def _finished(self, run_id: str) -> None:
        with self._lock:
            self._running.pop(run_id, None)
            self._futures.pop(run_id, None)

    def _execute(self, run_id: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception:  # noqa: BLE001 - a failed backfill is recorded by the backfill layer; the daemon goes on
            _LOG.exception("%s launched by the automation daemon failed", run_id)
        finally:
            self._finished(run_id)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the runs and backfills this launcher started (at most ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [future for future in self._futures.values() if not future.done()]
            if not pending:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                pending[0].exception(timeout=remaining)
            except Exception:  # noqa: BLE001 - a timeout or a canceled run: look again
                pass

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting launches; with ``wait``, let the started runs finish."""
        self._pool.shutdown(wait=wait)


def _tag_list(tags: dict[str, str] | None) -> list[tuple[str, str]] | None:
    return None if not tags else sorted(tags.items())
