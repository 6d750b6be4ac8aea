"""What schedule and sensor functions return: run and backfill requests, skip reasons, results."""

from __future__ import annotations

import enum
from typing import Any, Sequence

from rivers.exceptions import ResultDefinitionError

__all__ = ["BackfillRequest", "EvalMode", "RunRequest", "SensorResult", "SkipReason"]


class EvalMode(enum.IntEnum):
    """Where the daemon runs an evaluation function.

    ``Auto`` and ``InProcess``: in the daemon process (async functions are
    awaited); ``Subprocess``: in a worker process, killed past its
    ``eval_timeout`` (resources and config are not injected there).
    """

    Auto = 0
    InProcess = 1
    Subprocess = 2


def _str_dict(value: Any, owner: str, name: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError(f"{owner} {name} must be a dict of str to str, got {value!r}")
    return dict(value)


class RunRequest:
    """A request to run a job (or a sensor's asset selection), optionally for one partition.

    ``run_key`` de-duplicates launches: the daemon launches at most one run
    per run key of an automation. ``partition_key`` is the key's text.
    """

    __slots__ = ("run_key", "tags", "partition_key", "job_name")

    def __init__(self, run_key: str | None = None, tags: dict[str, str] | None = None,
                 partition_key: str | None = None, job_name: str | None = None) -> None:
        if run_key is not None and not isinstance(run_key, str):
            raise TypeError(f"RunRequest run_key must be a str, got {type(run_key).__name__}")
        if partition_key is not None and not isinstance(partition_key, str):
            raise TypeError(
                f"RunRequest partition_key must be the key's text (str), got {type(partition_key).__name__}; "
                "pass str(key) for a PartitionKey"
            )
        if job_name is not None and not isinstance(job_name, str):
            raise TypeError(f"RunRequest job_name must be a str, got {type(job_name).__name__}")
        self.run_key = run_key
        self.tags = _str_dict(tags, "RunRequest", "tags")
        self.partition_key = partition_key
        self.job_name = job_name

    def with_defaults(self, job_name: str | None, tags: dict[str, str] | None) -> RunRequest:
        return RunRequest(self.run_key, self.tags if self.tags is not None else (dict(tags) if tags else tags),
                          self.partition_key, self.job_name or job_name)

    def __repr__(self) -> str:
        return (f"RunRequest(run_key={self.run_key!r}, job_name={self.job_name!r}, "
                f"partition_key={self.partition_key!r}, tags={self.tags!r})")


class BackfillRequest:
    """A request to start a backfill (the arguments of ``repo.backfill``); validated when launched."""

    __slots__ = ("selection", "partition_keys", "partition_range", "strategy", "failure_policy",
                 "max_concurrency", "tags")

    def __init__(self, selection: Any, partition_keys: Sequence[str] | None = None, partition_range: Any = None,
                 strategy: Any = None, failure_policy: str | None = None, max_concurrency: int = 4,
                 tags: dict[str, str] | None = None) -> None:
        self.selection = selection
        self.partition_keys = None if partition_keys is None else list(partition_keys)
        self.partition_range = partition_range
        self.strategy = strategy
        self.failure_policy = failure_policy
        self.max_concurrency = max_concurrency
        self.tags = _str_dict(tags, "BackfillRequest", "tags")

    def __repr__(self) -> str:
        return f"BackfillRequest(selection={self.selection!r}, partition_keys={self.partition_keys!r})"


class SkipReason:
    """Why an evaluation requested nothing."""

    __slots__ = ("message",)

    def __init__(self, message: str = "") -> None:
        self.message = str(message)

    def __repr__(self) -> str:
        return f"SkipReason({self.message!r})"


class SensorResult:
    """What a sensor returns: run requests or a skip reason, and its new cursor."""

    __slots__ = ("run_requests", "skip_reason", "cursor")

    def __init__(self, run_requests: Sequence[RunRequest | BackfillRequest] | None = None,
                 skip_reason: SkipReason | str | None = None, cursor: str | None = None) -> None:
        requests = list(run_requests or [])
        if isinstance(skip_reason, str):
            skip_reason = SkipReason(skip_reason)
        if requests and skip_reason is not None:
            raise ResultDefinitionError("SensorResult cannot have both run_requests and skip_reason")
        if cursor is not None and not isinstance(cursor, str):
            raise TypeError(f"SensorResult cursor must be a str, got {type(cursor).__name__}")
        self.run_requests = requests
        self.skip_reason = skip_reason
        self.cursor = cursor

    def __repr__(self) -> str:
        shown = "skipped" if self.skip_reason is not None else f"run_requests={len(self.run_requests)}"
        return f"SensorResult({shown}, cursor={self.cursor!r})"
