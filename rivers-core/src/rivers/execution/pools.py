"""Claiming concurrency-pool slots for a run's steps (see ``rivers.storage.pools``).

A step with ``pool=``/``pool_slots=`` claims its slots in storage before it
runs and frees them when it ends (and during a retry's backoff). A step that
finds no room waits, polling every ``RIVERS_CLAIM_POLL_INTERVAL`` seconds
(default 1) plus up to ``RIVERS_CLAIM_POLL_JITTER`` (default 0.5), for at most
``RIVERS_CLAIM_TIMEOUT`` seconds (default 600) and then fails. While a step
holds slots, a background thread renews its leases every third of the
lease, so a crashed process's slots free themselves when the lease expires.

Steps without pools never reach this module: the scheduler only claims for
steps whose ``PlannedStep.pools`` (computed at planning) is not empty.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import TYPE_CHECKING

from rivers.exceptions import ExecutionError

if TYPE_CHECKING:
    from rivers.execution.event_writer import EventWriter
    from rivers.storage import Storage
    from rivers.storage.pools import BlockReason, ConcurrencyClaimStatus

def register_pools(storage: Storage, limits: dict[str, int], declared: set[str]) -> None:
    """At resolve: write ``CodeRepository(pool_limits=...)`` and register other declared pools as unlimited.

    Configured limits replace stored ones (their leases are kept); pools only
    declared by assets keep whatever limit storage already has.
    """
    from rivers.exceptions import ConfigurationError

    rows = []
    for pool_key, limit in limits.items():
        if not isinstance(pool_key, str) or not pool_key:
            raise ConfigurationError(f"pool_limits keys must be non-empty pool names, got {pool_key!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < -1:
            raise ConfigurationError(
                f"pool_limits[{pool_key!r}] must be an int >= -1 (-1: unlimited), got {limit!r}"
            )
        rows.append((pool_key, limit, None))
    if rows:
        storage.set_pool_limits(rows)
    missing = sorted(declared - set(limits))
    if missing:
        storage.set_pool_limits([(pool_key, -1, None) for pool_key in missing], only_missing=True)


def poll_interval() -> float:
    """Seconds until the next claim attempt of a waiting step (interval plus jitter)."""
    interval = _env_float("RIVERS_CLAIM_POLL_INTERVAL", 1.0)
    jitter = _env_float("RIVERS_CLAIM_POLL_JITTER", 0.5)
    return interval + (random.uniform(0, jitter) if jitter > 0 else 0.0)


def claim_timeout() -> float:
    return _env_float("RIVERS_CLAIM_TIMEOUT", 600.0)


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        from rivers.storage.pools import parse_duration

        value = parse_duration(text, name)
    return max(value, 0.0)


def claim_timed_out(key: str, pools: list[tuple[str, int]], waited: float,
                    reason: BlockReason | None) -> ExecutionError:
    listed = ", ".join(f"'{pool}' ({slots} slot{'s' if slots != 1 else ''})" for pool, slots in pools)
    detail = f": {reason}" if reason else ""
    return ExecutionError(
        f"Step '{key}' could not claim its pool slots {listed} within {waited:.0f}s{detail}. "
        "Raise the pool's limit with storage.set_pool_limit(), lower pool_slots, or set RIVERS_CLAIM_TIMEOUT"
    )


class RunPoolClaims:
    """The pool claims of one run: claim, release, renew (thread-safe)."""

    def __init__(self, storage: Storage, run_id: str, writer: EventWriter) -> None:
        self.storage = storage
        self.run_id = run_id
        self._writer = writer
        self._lock = threading.Lock()
        self._held: dict[str, list[tuple[str, int]]] = {}
        self._waiting_since: dict[str, float] = {}
        self._keeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._sequence = 0

    # ------------------------------------------------------------- claiming
    def try_claim(self, key: str, pools: list[tuple[str, int]]) -> ConcurrencyClaimStatus:
        """One claim attempt; returns the storage's :class:`ConcurrencyClaimStatus`."""
        status = self.storage.claim_concurrency_slots(self.run_id, key, pools)
        if status.is_claimed:
            with self._lock:
                self._held[key] = pools
                self._waiting_since.pop(key, None)
            self._event("StepSlotClaimed", key, pools)
            self._start_keeper()
        else:
            with self._lock:
                first = key not in self._waiting_since
                if first:
                    self._waiting_since[key] = time.monotonic()
            if first:
                self._event("StepSlotWaiting", key, pools, str(status.reason or ""))
        return status

    def waited(self, key: str) -> float:
        """Seconds ``key`` has been waiting for slots (0 when it is not waiting)."""
        with self._lock:
            since = self._waiting_since.get(key)
        return 0.0 if since is None else time.monotonic() - since

    def abandon(self, key: str) -> None:
        """Stop waiting for ``key`` (drops its pending entry)."""
        with self._lock:
            self._waiting_since.pop(key, None)
        self.storage.free_concurrency_slots(self.run_id, key)

    def holds(self, key: str) -> bool:
        with self._lock:
            return key in self._held

    def release(self, key: str) -> None:
        """Give back the slots of ``key`` (no-op when it holds none)."""
        with self._lock:
            pools = self._held.pop(key, None)
            self._waiting_since.pop(key, None)
        if pools is None:
            return
        self.storage.free_concurrency_slots(self.run_id, key)
        self._event("StepSlotReleased", key, pools)

    def close(self) -> None:
        """Release everything the run still holds or waits for and stop renewing."""
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()
        with self._lock:
            keys = list(self._held) + list(self._waiting_since)
        for key in keys:
            self.release(key)
        if keys:
            self.storage.free_concurrency_slots_for_run(self.run_id)

    # ------------------------------------------------------------- renewing
    def _start_keeper(self) -> None:
        if self._keeper is not None:
            return
        with self._lock:
            if self._keeper is not None:
                return
            leases = [limit.lease_duration_secs for limit in self.storage.get_pool_limits()]
            interval = max(min(leases or [300.0]) / 3.0, 0.05)
            self._keeper = threading.Thread(target=self._renew_loop, args=(interval,), daemon=True,
                                            name="rivers-pool-leases")
            self._keeper.start()

    def _renew_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                keys = list(self._held)
            for key in keys:
                try:
                    self.storage.renew_slot_lease(self.run_id, key)
                except Exception:  # noqa: BLE001 - a failed renewal is retried next time
                    pass

    # --------------------------------------------------------------- events
    def _event(self, event_type: str, key: str, pools: list[tuple[str, int]], reason: str = "") -> None:
        from rivers.storage.records import StoredEvent

        with self._lock:
            self._sequence += 1
            number = self._sequence
        metadata = [("pool", pool) for pool, _ in pools] + [("slots", str(sum(s for _, s in pools)))]
        if reason:
            metadata.append(("reason", reason))
        event = StoredEvent(f"{self.run_id}:pool:{number}:{time.time_ns()}", event_type, key, self.run_id, None,
                            time.time_ns(), metadata)
        self._writer.add([event], [])


__all__ = [
    "RunPoolClaims",
    "claim_timeout",
    "poll_interval",
    "register_pools",
]
