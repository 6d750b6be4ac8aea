"""``rivers._core.storage``: the storage record types, where the published package keeps them.

A thin compatibility module: ``Storage``, ``StorageType``, ``StoredEvent``,
``StoredLog``, ``AssetRecord``, ``RunRecord``, ``StaleCause``,
``LaunchedBy`` (from :mod:`rivers.storage`), the pool records ``PoolLimit``,
``PoolInfo``, ``SlotHolder``, ``PoolBlockDetail``, ``BlockReason``,
``ConcurrencyClaimStatus`` (from :mod:`rivers.storage.pools`) and
:class:`UserRef`. New code should import them from :mod:`rivers.storage`.
"""

from __future__ import annotations

from rivers._record import Record
from rivers.storage import (
    AssetRecord,
    LaunchedBy,
    RunRecord,
    StaleCause,
    Storage,
    StorageType,
    StoredEvent,
    StoredLog,
)
from rivers.storage.pools import BlockReason, ConcurrencyClaimStatus, PoolBlockDetail, PoolInfo, PoolLimit, SlotHolder

__all__ = [
    "AssetRecord",
    "BlockReason",
    "ConcurrencyClaimStatus",
    "LaunchedBy",
    "PoolBlockDetail",
    "PoolInfo",
    "PoolLimit",
    "RunRecord",
    "SlotHolder",
    "StaleCause",
    "Storage",
    "StorageType",
    "StoredEvent",
    "StoredLog",
    "UserRef",
]


class UserRef(Record):
    """Who launched something, as the published package's UI records it (``LaunchedBy.user``).

    Runs launched from Python have no user (``LaunchedBy(...).user`` is
    ``None``); the type exists for code that imports or builds it.
    """

    subject: str
    email: str | None = None
    name: str | None = None

    @property
    def display(self) -> str:
        """The name, else the email, else the subject."""
        return self.name or self.email or self.subject
