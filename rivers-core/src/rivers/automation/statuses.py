"""Running/Stopped status of schedules and sensors, persisted in storage.

A schedule or sensor follows its ``default_status`` until someone starts or
stops it (``rivers schedules start NAME``); from then on the stored status
wins, across daemon restarts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_running", "set_running", "stored_status"]

_PREFIX = "rivers/automation/status/"


def stored_status(storage: Any, name: str) -> str | None:
    """``"Running"``, ``"Stopped"`` or ``None`` when nobody changed the status of ``name``."""
    value = storage.kv_get(_PREFIX + name)
    return None if value is None else value.decode()


def set_running(storage: Any, name: str, running: bool) -> None:
    """Start (``running=True``) or stop automation ``name``."""
    storage.kv_set(_PREFIX + name, b"Running" if running else b"Stopped")


def is_running(storage: Any, automation: Any) -> bool:
    """Whether the daemon ticks ``automation`` (a Schedule or Sensor)."""
    stored = stored_status(storage, automation.name)
    if stored is not None:
        return stored == "Running"
    return int(automation.default_status) == 0
