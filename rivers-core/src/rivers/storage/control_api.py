"""The storage's control plane, validated once above every backend: partition status, leases, ticks, cursors.

The backends implement the primitives of :mod:`rivers.storage.contract`
(``_update_partition_status``, ``_acquire_lease``, ``_put_tick``, ...);
these public methods check their arguments first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rivers.exceptions import StorageError

if TYPE_CHECKING:
    from rivers.storage.control_records import Lease, StoredTick
    from rivers.storage.partition_status import PartitionStatusRanges

__all__ = ["ControlApi"]


class ControlApi:
    """Mixin of :class:`rivers.Storage`: partition status, leases, automation ticks and cursors."""

    # -- partition status ---------------------------------------------------------

    def get_partition_status(self, asset_key: str) -> PartitionStatusRanges:
        """The recorded partition statuses of ``asset_key`` as ranges of positions (empty when none).

        Positions index the asset's partition keys in the order of its
        partitions definition's ``get_partition_keys()``.
        """
        from rivers.storage.partition_status import PartitionStatusRanges

        _check_name(asset_key, "asset_key", "get_partition_status")
        found = self._partition_status([asset_key])  # type: ignore[attr-defined]
        ranges: PartitionStatusRanges = found.get(asset_key) or PartitionStatusRanges()
        return ranges

    def set_partition_status(self, asset_key: str, status: str, start: int, stop: int | None = None) -> None:
        """Record ``status`` (``"materialized"``, ``"failed"``, ``"in_progress"``) for positions ``[start, stop)``.

        ``stop`` defaults to ``start + 1``; atomic across processes.
        """
        from rivers.storage.partition_status import PartitionStatusRanges

        _check_name(asset_key, "asset_key", "set_partition_status")
        PartitionStatusRanges().set(status, start, stop)  # validates before the backend is asked
        self._update_partition_status(asset_key, lambda ranges: ranges.set(status, start, stop))  # type: ignore[attr-defined]

    def clear_partition_status(self, asset_key: str, start: int, stop: int | None = None) -> None:
        """Forget the status of positions ``[start, stop)`` of ``asset_key`` (they read as missing)."""
        from rivers.storage.partition_status import PartitionStatusRanges

        _check_name(asset_key, "asset_key", "clear_partition_status")
        PartitionStatusRanges().clear(start, stop)
        self._update_partition_status(asset_key, lambda ranges: ranges.clear(start, stop))  # type: ignore[attr-defined]

    def update_partition_status(
        self, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
    ) -> None:
        """Replace the ranges of ``asset_key`` with ``update(ranges)`` in one atomic step (several changes at once)."""
        _check_name(asset_key, "asset_key", "update_partition_status")
        if not callable(update):
            raise StorageError(f"update_partition_status() update must be callable, got {update!r}")
        self._update_partition_status(asset_key, update)  # type: ignore[attr-defined]

    # -- leases ---------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, duration: str | float = "30s") -> Lease | None:
        """Take (or, for its owner, renew) the lease ``name`` for ``duration``; ``None`` when another owner holds it.

        Two contenders calling this at once: exactly one gets the lease; the
        other gets it only after the holder released it or it expired.
        ``duration`` is seconds or a duration like ``"30s"``.
        """
        from rivers.storage.pools import parse_duration

        _check_name(name, "name", "acquire_lease")
        _check_name(owner, "owner", "acquire_lease")
        seconds = parse_duration(duration, "duration")
        if seconds <= 0:
            raise ValueError(f"invalid duration for 'duration': {duration!r} (must be positive)")
        lease: Lease | None = self._acquire_lease(name, owner, seconds)  # type: ignore[attr-defined]
        return lease

    def release_lease(self, name: str, owner: str) -> bool:
        """Give up lease ``name`` if ``owner`` holds it; whether it did."""
        _check_name(name, "name", "release_lease")
        _check_name(owner, "owner", "release_lease")
        return bool(self._release_lease(name, owner))  # type: ignore[attr-defined]

    def get_lease(self, name: str) -> Lease | None:
        """The unexpired lease ``name`` (who holds it, until when), or ``None``."""
        _check_name(name, "name", "get_lease")
        lease: Lease | None = self._get_lease(name)  # type: ignore[attr-defined]
        return lease

    # -- automation ticks and cursors ------------------------------------------------

    def record_tick(self, tick: StoredTick) -> None:
        """Store (or replace, same ``id``) one tick of a schedule, sensor or automation condition."""
        from rivers.storage.control_records import StoredTick

        if not isinstance(tick, StoredTick):
            raise StorageError(f"record_tick() takes a StoredTick, got {type(tick).__name__}")
        _check_name(tick.id, "tick id", "record_tick")
        _check_name(tick.automation_name, "automation_name", "record_tick")
        self._put_tick(tick)  # type: ignore[attr-defined]

    def get_ticks(self, automation_name: str, limit: int = 100, before: int | None = None) -> list[StoredTick]:
        """The latest ``limit`` ticks of ``automation_name``, newest first (older than ``before`` ns when given)."""
        _check_name(automation_name, "automation_name", "get_ticks")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        if before is not None and (isinstance(before, bool) or not isinstance(before, int)):
            raise StorageError(f"get_ticks() before must be an int timestamp in ns, got {before!r}")
        if limit == 0:
            return []
        ticks: list[StoredTick] = self._ticks(automation_name, limit, before)  # type: ignore[attr-defined]
        return ticks

    def prune_ticks(self, automation_name: str, keep: int) -> int:
        """Delete all but the newest ``keep`` ticks of ``automation_name`` (tick retention); how many went."""
        _check_name(automation_name, "automation_name", "prune_ticks")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ValueError(f"prune_ticks() keep must be a non-negative int, got {keep!r}")
        return int(self._prune_ticks(automation_name, keep))  # type: ignore[attr-defined]

    def set_automation_cursor(self, automation_name: str, cursor: str | None) -> None:
        """Store the cursor of schedule or sensor ``automation_name`` (``None`` deletes it)."""
        _check_name(automation_name, "automation_name", "set_automation_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise StorageError(f"set_automation_cursor() cursor must be a str or None, got {type(cursor).__name__}")
        self._set_automation_cursor(automation_name, cursor)  # type: ignore[attr-defined]

    def get_automation_cursor(self, automation_name: str) -> str | None:
        """The stored cursor of ``automation_name``, or ``None``."""
        _check_name(automation_name, "automation_name", "get_automation_cursor")
        cursor: str | None = self._automation_cursor(automation_name)  # type: ignore[attr-defined]
        return cursor


def _check_name(value: object, label: str, method: str) -> None:
    if not isinstance(value, str) or not value:
        raise StorageError(f"{method}() {label} must be a non-empty str, got {value!r}")
