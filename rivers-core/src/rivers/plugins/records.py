"""What the plugin manager reports about plugins: listings and failures."""

from __future__ import annotations

import traceback
from typing import Any

from rivers._record import Record

__all__ = ["BrokenPlugin", "PluginInfo", "PluginSource"]


class PluginSource:
    """How a plugin came to be registered (values of :attr:`PluginInfo.source`)."""

    BUILTIN = "builtin"
    ENTRY_POINT = "entry point"
    REGISTERED = "registered"


class PluginInfo(Record):
    """One registered plugin, as listed by ``rivers plugins``.

    ``name`` is the entry-point name for installed plugins (the name given to
    :func:`rivers.plugins.register` otherwise); ``distribution`` and
    ``version`` are ``None`` for plugins registered in code. ``components``
    maps a component kind (``"io_handler"``, ``"executor"``,
    ``"storage_backend"``, ``"partition_type"``) to the names the plugin
    provides; ``hooks`` lists every hook it implements.
    """

    name: str
    distribution: str | None
    version: str | None
    source: str
    components: dict[str, tuple[str, ...]]
    hooks: tuple[str, ...]

    @property
    def builtin(self) -> bool:
        """Whether the plugin is part of ``rivers-core``."""
        return self.source == PluginSource.BUILTIN

    @property
    def label(self) -> str:
        """``name (distribution version)``, or the bare name without a distribution."""
        return describe_plugin(self.name, self.distribution, self.version)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by ``rivers plugins --json``)."""
        return {**self.to_plain(), "builtin": self.builtin}


class BrokenPlugin(Record):
    """A plugin that failed to load or whose hook failed, isolated from the rest.

    ``stage`` says where it failed: ``"import"`` (loading the entry point),
    ``"register"`` (invalid hook implementations, name clash) or the name of
    the component hook that raised or returned something invalid.
    ``traceback`` holds the last frames as ``"file:line in function"``.
    """

    name: str
    distribution: str | None
    version: str | None
    stage: str
    error_type: str
    message: str
    traceback: tuple[str, ...] = ()

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        *,
        name: str,
        distribution: str | None,
        version: str | None,
        stage: str,
        frames: int = 3,
    ) -> BrokenPlugin:
        """Record ``exc`` with a summary of its innermost ``frames`` frames."""
        summary = [
            f"{frame.filename}:{frame.lineno} in {frame.name}"
            for frame in traceback.extract_tb(exc.__traceback__)
            if not frame.filename.startswith("<frozen ")
        ]
        return cls(
            name=name,
            distribution=distribution,
            version=version,
            stage=stage,
            error_type=type(exc).__name__,
            message=str(exc),
            traceback=tuple(summary[-frames:]),
        )

    @property
    def cause(self) -> str:
        """``"ErrorType: message"``."""
        return f"{self.error_type}: {self.message}" if self.message else self.error_type

    @property
    def label(self) -> str:
        """``name (distribution version)``, or the bare name without a distribution."""
        return describe_plugin(self.name, self.distribution, self.version)

    def describe(self) -> str:
        """A few lines for humans: who failed, where, why, and the last frames."""
        lines = [f"plugin {self.label} failed ({self.stage}): {self.cause}"]
        lines.extend(f"  at {frame}" for frame in self.traceback)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**self.to_plain(), "cause": self.cause}


def describe_plugin(name: str, distribution: str | None, version: str | None) -> str:
    """``'name' (distribution version)`` for messages; just ``'name'`` without one."""
    if distribution is None:
        return repr(name)
    return f"{name!r} ({distribution} {version})" if version else f"{name!r} ({distribution})"
