"""The observer facade: notifies plugins of run events without ever failing.

The engine asks :func:`rivers.plugins.get_observers` once per run and, when
``observers.active`` is false, does not even build the events. Each
implementation is called on its own, with keywords, inside ``try``: an
exception is logged on the ``rivers.plugins`` logger and the run (and the
other observers) carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy

    from rivers.plugins.events import RunFinished, RunStarted, StepFinished, StepStarted

__all__ = ["OBSERVER_HOOKS", "Observers"]

logger = logging.getLogger("rivers.plugins")

#: The observer hooks of :mod:`rivers.hookspecs`.
OBSERVER_HOOKS = ("rivers_run_started", "rivers_step_started", "rivers_step_finished", "rivers_run_finished")

#: ``(plugin name, function, whether it takes the event)`` of one implementation.
_Callback = tuple[str, Callable[..., object], bool]


class Observers:
    """A snapshot of the observer implementations registered when it was made.

    ``active`` is a plain attribute: ``False`` when no plugin implements any
    observer hook.
    """

    __slots__ = ("_callbacks", "active")

    def __init__(self, callbacks: Mapping[str, Iterable[_Callback]] | None = None) -> None:
        self._callbacks: dict[str, tuple[_Callback, ...]] = {
            hook: tuple((callbacks or {}).get(hook, ())) for hook in OBSERVER_HOOKS
        }
        self.active: bool = any(self._callbacks.values())

    @classmethod
    def from_hooks(cls, hooks: pluggy.HookRelay) -> Observers:
        """Collect the implementations of every observer hook, in pluggy's call order."""
        callbacks: dict[str, list[_Callback]] = {}
        for name in OBSERVER_HOOKS:
            caller = getattr(hooks, name, None)
            if caller is None:
                continue
            callbacks[name] = [
                (impl.plugin_name, impl.function, "event" in impl.argnames) for impl in reversed(caller.get_hookimpls())
            ]
        return cls(callbacks)

    def run_started(self, event: RunStarted) -> None:
        """Call ``rivers_run_started(event=event)`` on every observer."""
        self._notify("rivers_run_started", event)

    def step_started(self, event: StepStarted) -> None:
        """Call ``rivers_step_started(event=event)`` on every observer."""
        self._notify("rivers_step_started", event)

    def step_finished(self, event: StepFinished) -> None:
        """Call ``rivers_step_finished(event=event)`` on every observer."""
        self._notify("rivers_step_finished", event)

    def run_finished(self, event: RunFinished) -> None:
        """Call ``rivers_run_finished(event=event)`` on every observer."""
        self._notify("rivers_run_finished", event)

    def _notify(self, hook: str, event: object) -> None:
        for plugin, function, takes_event in self._callbacks[hook]:
            try:
                if takes_event:
                    function(event=event)
                else:
                    function()
            except Exception:
                logger.exception("observer %s of plugin %r raised; the run continues", hook, plugin)

    def __repr__(self) -> str:
        counts = ", ".join(f"{hook}={len(callbacks)}" for hook, callbacks in self._callbacks.items() if callbacks)
        return f"Observers({counts or 'inactive'})"
