"""Persisting the condition engine's state: per-asset memory, the event cursor and failures.

Kept in the storage's key-value area: the asset states in 64 shards (a tick
rewrites only the shards of the assets whose state changed) and one small
``meta`` entry (event cursor, failed partitions), written together in one
transaction (``kv_set_many``), so the states and the cursor they were
computed at never disagree after a crash. A state names its tree by a short
fingerprint, not by its whole description. ``since_last_handled`` and
the other latches therefore survive restarts, and ``rivers automation why``
can read the evaluated tree from any process.
"""

from __future__ import annotations

import functools
import json
import zlib
from typing import TYPE_CHECKING, Any, Iterable

from rivers.automation.engine import AssetState

if TYPE_CHECKING:
    from rivers.automation.world import World

__all__ = ["ConditionStore"]

_PREFIX = "rivers/automation/conditions/"
_SHARDS = 64


@functools.lru_cache(maxsize=65536)
def _shard(name: str) -> int:
    return zlib.crc32(name.encode()) % _SHARDS


class ConditionStore:
    """Reads and writes the engine's persisted state."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._shards: dict[int, dict[str, Any]] = {}

    def load(self) -> tuple[dict[str, AssetState], int | None, dict[str, int]]:
        """``(states, event cursor or None, failed masks)`` as last saved."""
        states: dict[str, AssetState] = {}
        for shard in range(_SHARDS):
            raw = self.storage.kv_get(f"{_PREFIX}{shard}")
            data = json.loads(raw) if raw else {}
            self._shards[shard] = data
            for name, value in data.items():
                states[name] = AssetState.from_json(value)
        raw = self.storage.kv_get(_PREFIX + "meta")
        meta = json.loads(raw) if raw else {}
        failed = {name: int(mask) for name, mask in meta.get("failed", {}).items()}
        return states, meta.get("cursor"), failed

    def state_of(self, name: str) -> AssetState | None:
        """The saved state of one asset (for ``rivers automation why``)."""
        raw = self.storage.kv_get(f"{_PREFIX}{_shard(name)}")
        value = (json.loads(raw) if raw else {}).get(name)
        return None if value is None else AssetState.from_json(value)

    def save(self, states: dict[str, AssetState], changed: Iterable[str], world: World) -> None:
        """Write the shards holding ``changed`` assets and the cursor and failures, in one transaction."""
        dirty: set[int] = set()
        for name in changed:
            shard = _shard(name)
            self._shards.setdefault(shard, {})[name] = states[name].to_json()
            dirty.add(shard)
        items = {f"{_PREFIX}{shard}": _dumps(self._shards[shard]) for shard in sorted(dirty)}
        failed = {name: view.failed for name, view in world.views.items() if view.failed}
        items[_PREFIX + "meta"] = _dumps({"cursor": world.cursor, "failed": failed})
        self.storage.kv_set_many(items)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
