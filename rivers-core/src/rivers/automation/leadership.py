"""The storage lease the automation daemon holds while it leads (one leader per storage).

Its own module so that other parts (``BackfillHandle.wait`` asks whether a
daemon is there to pick a requested backfill up) can name it without
importing the daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["LEASE_NAME", "daemon_leads"]

#: The lease of the leading daemon (``storage.get_lease(LEASE_NAME)``).
LEASE_NAME = "rivers/automation/leader"


def daemon_leads(storage: Storage) -> bool | None:
    """Whether a daemon holds the leader lease of ``storage`` now; ``None`` when the storage has no leases."""
    from rivers.storage.contract import Capability

    if not storage.supports(Capability.LEASES):
        return None
    return storage.get_lease(LEASE_NAME) is not None
