"""Helpers shared by the tests split out of ``test_contexts_hooks.py``."""

from __future__ import annotations

import json
from typing import Any
import rivers as rs


def materialization(repo: rs.CodeRepository, run_id: str, asset: str) -> Any:
    found = [e for e in repo.storage.get_events_for_run(run_id)
             if e.asset_key == asset and e.event_type == "Materialization"]
    assert len(found) == 1, found
    return found[0]


def meta(event: Any) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in event.metadata}
