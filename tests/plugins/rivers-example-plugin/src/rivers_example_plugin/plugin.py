"""The hook implementations rivers finds through the ``rivers`` entry point."""

from __future__ import annotations

import json
import os
from typing import Any

from rivers.plugins import hookimpl

#: Environment variable naming the JSON-lines file observed events go to.
LOG_ENV = "RIVERS_EXAMPLE_OBSERVER_LOG"


@hookimpl
def rivers_io_handlers() -> dict[str, type]:
    """Contribute the ``example-json`` handler."""
    from rivers_example_plugin.io import JsonFileIOHandler

    return {"example-json": JsonFileIOHandler}


@hookimpl
def rivers_partition_types() -> dict[str, type]:
    """Contribute the ``fiscal_quarter`` partition type."""
    from rivers_example_plugin.partitions import FiscalQuarters

    return {"fiscal_quarter": FiscalQuarters}


def _log(event: Any) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(event.to_dict()) + "\n")


@hookimpl
def rivers_run_started(event: Any) -> None:
    """Log the event."""
    _log(event)


@hookimpl
def rivers_step_started(event: Any) -> None:
    """Log the event."""
    _log(event)


@hookimpl
def rivers_step_finished(event: Any) -> None:
    """Log the event."""
    _log(event)


@hookimpl
def rivers_run_finished(event: Any) -> None:
    """Log the event."""
    _log(event)
