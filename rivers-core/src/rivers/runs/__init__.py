"""Runs: the one launcher every run goes through, run handles, the run queue and run monitoring.

* :class:`RunLauncher` / :class:`RunRequest`: request, (queue,) launch,
  monitor and finish a run. ``CodeRepository.materialize``, ``Job.execute``,
  resuming, backfills and the CLI all use it (``CodeRepository.launcher``);
  the automation daemon and the UI will too.
* :class:`RunHandle`: what ``materialize(block=False)`` and
  :meth:`RunLauncher.submit` return.
* :class:`RunQueueConfig` / :class:`TagConcurrencyLimit`: how many submitted
  runs go at once.
* :class:`RunInterrupted` / :class:`RunTerminated`: raised after a run
  stopped by SIGINT / SIGTERM was recorded as canceled.

Run monitoring records live in storage (:mod:`rivers.storage.monitor`);
``Storage.reconcile_runs()`` marks runs whose process died as failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.runs.handle import RunHandle
    from rivers.runs.launcher import RunLauncher, RunRequest
    from rivers.runs.queue import RunQueueConfig, TagConcurrencyLimit
    from rivers.runs.stopping import RunInterrupted, RunTerminated

#: where each public name lives: modules load on first use (a blocking run needs no handle or queue code)
_EXPORTS = {
    "RunHandle": "rivers.runs.handle",
    "RunInterrupted": "rivers.runs.stopping",
    "RunLauncher": "rivers.runs.launcher",
    "RunQueueConfig": "rivers.runs.queue",
    "RunRequest": "rivers.runs.launcher",
    "RunTerminated": "rivers.runs.stopping",
    "TagConcurrencyLimit": "rivers.runs.queue",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rivers.runs' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "RunHandle",
    "RunInterrupted",
    "RunLauncher",
    "RunQueueConfig",
    "RunRequest",
    "RunTerminated",
    "TagConcurrencyLimit",
]
