"""A small IO handler persisting values as JSON files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rivers.io_handlers.base import BaseIOHandler


class JsonFileIOHandler(BaseIOHandler):
    """Stores each value as ``<root>/<asset>.json`` (``<root>/<asset>/<partition>.json``).

    Values must be JSON-serialisable. The path written is added to the
    output's metadata under ``"path"``.
    """

    root: str = "rivers-json"

    def path_for(self, asset_name: str, partition: Any) -> Path:
        """The file holding ``asset_name`` (and ``partition``, if any)."""
        if partition is None:
            return Path(self.root) / f"{asset_name}.json"
        key = getattr(partition, "key", partition)
        return Path(self.root) / asset_name / f"{key}.json"

    def handle_output(self, context: Any, obj: Any) -> None:
        path = self.path_for(context.asset_name, context.partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj), encoding="utf-8")
        context.add_output_metadata({"path": str(path)})

    def load_input(self, context: Any) -> Any:
        path = self.path_for(context.asset_name, context.partition)
        return json.loads(path.read_text(encoding="utf-8"))
