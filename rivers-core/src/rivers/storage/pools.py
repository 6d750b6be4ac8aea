"""Concurrency pools: records, durations and the claim rules every storage backend shares.

A pool caps how many slots the steps of *all* runs sharing a storage may
hold at once. A step claims its slots in each of its pools before it runs and
frees them when it finishes; claims are leases that its run renews while the
step runs, so a crashed run's slots come back once its leases expire.

``slot_limit == -1`` means unlimited. A claim is all-or-nothing over the
step's pools and atomic (one SQLite ``BEGIN IMMEDIATE`` transaction in the
embedded store), so two processes can never both take the last slot.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "BlockReason",
    "ConcurrencyClaimStatus",
    "PoolBlockDetail",
    "PoolInfo",
    "PoolLimit",
    "SlotHolder",
    "parse_duration",
]

#: Lease of a claim unless the pool says otherwise ("5m").
DEFAULT_LEASE_SECONDS: Final = 300.0

_UNITS: Final = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}
_PART: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zµ]+)", re.IGNORECASE)


def parse_duration(value: str | float | int, parameter: str) -> float:
    """Seconds of a humantime duration (``"250ms"``, ``"5m"``, ``"1h30m"``); numbers are seconds.

    :raises ValueError: ``invalid duration for '<parameter>': ...``
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration for '{parameter}': {value!r}")
    if isinstance(value, (int, float)):
        if value < 0 or value != value:
            raise ValueError(
                f"invalid duration for '{parameter}': {value!r} (must be a non-negative number of seconds)"
            )
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration for '{parameter}': expected a string like '5m', got {type(value).__name__}")
    text = value.strip()
    position = 0
    total = 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(
                f"invalid duration for '{parameter}': {value!r} (expected e.g. '250ms', '30s', '5m', '1h30m')"
            )
        total += float(match.group(1)) * _UNITS[match.group(2).lower()]
        position = match.end()
    if not text:
        raise ValueError(f"invalid duration for '{parameter}': empty string (expected e.g. '5m')")
    return total


@attrs.frozen
class PoolLimit:
    """A pool's configured cap (``-1``: unlimited) and claim lease."""

    pool_key: str
    slot_limit: int
    lease_duration_secs: int | float = int(DEFAULT_LEASE_SECONDS)


@attrs.frozen
class PoolInfo:
    """A pool's limit plus its live counters: slots held by unexpired claims, steps waiting."""

    pool_key: str
    slot_limit: int
    lease_duration_secs: int | float
    claimed_count: int
    pending_count: int


@attrs.frozen
class SlotHolder:
    """A step holding slots of a pool (times in ns since the epoch)."""

    run_id: str
    step_key: str
    slots_consumed: int
    claimed_at: int
    lease_expires_at: int


@attrs.frozen
class PoolBlockDetail:
    """Why one pool refused a claim."""

    pool_key: str
    slot_limit: int
    claimed: int
    requested: int


@attrs.frozen
class BlockReason:
    """Why a claim is pending: ``kind`` is ``"pool_full"`` (one pool) or ``"pools_full"`` (several)."""

    kind: str
    pools: list[PoolBlockDetail] = attrs.field(factory=list)

    def __str__(self) -> str:
        parts = [f"pool '{p.pool_key}' has {max(p.slot_limit - p.claimed, 0)} of {p.slot_limit} slots free, "
                 f"{p.requested} needed" for p in self.pools]
        return "; ".join(parts)


@attrs.frozen
class ConcurrencyClaimStatus:
    """The result of a claim: ``status`` ``"claimed"`` or ``"pending"`` (with ``position`` and ``reason``)."""

    status: str
    position: int | None = None
    reason: BlockReason | None = None

    @property
    def is_claimed(self) -> bool:
        return self.status == "claimed"


def blocked(limits: dict[str, int], claimed: dict[str, int], wanted: list[tuple[str, int]]) -> BlockReason | None:
    """The reason ``wanted`` slots do not fit (None: they fit)."""
    details = []
    for pool_key, slots in wanted:
        limit = limits.get(pool_key, -1)
        held = claimed.get(pool_key, 0)
        if limit >= 0 and held + slots > limit:
            details.append(PoolBlockDetail(pool_key, limit, held, slots))
    if not details:
        return None
    return BlockReason("pool_full" if len(details) == 1 else "pools_full", details)
