"""The run queue settings (``RunQueueConfig``, ``TagConcurrencyLimit``) and the admission rule they define.

Runs submitted to a :class:`~rivers.runs.RunLauncher` (``materialize(block=False)``,
``Job.execute(block=False)``, backfills, later the automation daemon and the
UI) wait as ``Queued`` until :func:`admissible` lets them start: highest
``priority`` first (oldest first among equals), while fewer than
``max_concurrent_runs`` runs are going and every tag limit has room.
Blocking calls (``materialize()``, ``Job.execute()``) start at once and are
not counted against the queue (spec/execution.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rivers._record import Record, factory

__all__ = ["RunQueueConfig", "TagConcurrencyLimit", "admissible"]


class TagConcurrencyLimit(Record):
    """At most ``limit`` running runs carrying tag ``key`` (any value, or exactly ``value``).

    With ``per_unique_value=True`` the limit applies separately to each
    distinct value of the tag.
    """

    key: str
    limit: int
    value: str | None = None
    per_unique_value: bool = False

    def _prepare(self, values: dict[str, Any]) -> None:
        if not isinstance(values["key"], str) or not values["key"]:
            raise ValueError(f"TagConcurrencyLimit key must be a non-empty str, got {values['key']!r}")
        limit = values["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"TagConcurrencyLimit '{values['key']}': limit must be an int >= 0, got {limit!r}")

    def counts(self, tags: Sequence[tuple[str, str]]) -> str | None:
        """The bucket a run with ``tags`` takes in this limit (``None``: the limit does not apply to it)."""
        for key, value in tags:
            if key == self.key and (self.value is None or value == self.value):
                return value if self.per_unique_value else ""
        return None

    def __repr__(self) -> str:
        value = f", value={self.value!r}" if self.value is not None else ""
        unique = ", per_unique_value=True" if self.per_unique_value else ""
        return f"TagConcurrencyLimit(key={self.key!r}{value}{unique}, limit={self.limit})"


class RunQueueConfig(Record):
    """How many submitted runs may go at once: ``max_concurrent_runs`` and per-tag limits.

    ``dequeue_interval`` is how often a waiting queue is looked at again and
    ``start_timeout`` how long an admitted run may take to start (durations
    such as ``"250ms"``, ``"3m"``): one that records its start later fails
    without running, with a ``RunLaunchFailed`` event and
    :class:`~rivers.exceptions.RunStartTimeoutError`.
    """

    max_concurrent_runs: int = 10
    tag_concurrency_limits: list[TagConcurrencyLimit] = factory(list)
    dequeue_interval: str = "250ms"
    start_timeout: str = "180s"

    def _prepare(self, values: dict[str, Any]) -> None:
        from rivers.storage.pools import parse_duration

        limit = values["max_concurrent_runs"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"RunQueueConfig max_concurrent_runs must be an int >= 1, got {limit!r}")
        values["tag_concurrency_limits"] = list(values["tag_concurrency_limits"])
        for item in values["tag_concurrency_limits"]:
            if not isinstance(item, TagConcurrencyLimit):
                raise ValueError(
                    f"RunQueueConfig tag_concurrency_limits takes TagConcurrencyLimit objects, got {item!r}"
                )
        for name in ("dequeue_interval", "start_timeout"):
            parse_duration(values[name], name)

    @property
    def start_timeout_s(self) -> float:
        """``start_timeout`` in seconds."""
        from rivers.storage.pools import parse_duration

        return parse_duration(self.start_timeout, "start_timeout")

    @property
    def dequeue_interval_s(self) -> float:
        """``dequeue_interval`` in seconds."""
        from rivers.storage.pools import parse_duration

        return parse_duration(self.dequeue_interval, "dequeue_interval")

    def __repr__(self) -> str:
        return (f"RunQueueConfig(max_concurrent_runs={self.max_concurrent_runs}, "
                f"tag_concurrency_limits=[...{len(self.tag_concurrency_limits)}], "
                f"dequeue_interval={self.dequeue_interval!r}, start_timeout={self.start_timeout!r})")


def admissible(config: RunQueueConfig | None, running: Iterable[Sequence[tuple[str, str]]],
               queued: Sequence[tuple[int, Sequence[tuple[str, str]]]]) -> list[int]:
    """Indexes into ``queued`` (``(priority, tags)`` in submission order) of the runs that may start now.

    ``running`` gives the tags of every run going. Without a config every
    queued run may start.
    """
    order = sorted(range(len(queued)), key=lambda index: (-queued[index][0], index))
    if config is None:
        return order
    running = list(running)
    room = config.max_concurrent_runs - len(running)
    used: dict[tuple[int, str], int] = {}
    limits = config.tag_concurrency_limits
    for tags in running:
        for number, limit in enumerate(limits):
            bucket = limit.counts(tags)
            if bucket is not None:
                used[(number, bucket)] = used.get((number, bucket), 0) + 1
    chosen = []
    for index in order:
        if room <= 0:
            break
        tags = queued[index][1]
        counted = [(number, limit.counts(tags)) for number, limit in enumerate(limits)]
        buckets = [(number, bucket) for number, bucket in counted if bucket is not None]
        if any(used.get(key, 0) >= limits[key[0]].limit for key in buckets):
            continue
        for key in buckets:
            used[key] = used.get(key, 0) + 1
        chosen.append(index)
        room -= 1
    return chosen
