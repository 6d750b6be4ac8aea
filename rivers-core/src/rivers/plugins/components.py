"""The kinds of named components plugins contribute, and the lookup errors.

Each kind is fed by one component hook of :mod:`rivers.hookspecs`. This module
knows how to validate what a hook returned and how to explain a failed lookup;
:mod:`rivers.plugins.manager` owns the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rivers._record import Record

from rivers.exceptions import PluginConflictError, PluginError, PluginNotFoundError
from rivers.plugins.records import BrokenPlugin

__all__ = [
    "CLI_COMMAND",
    "EXECUTOR",
    "FIRST_PARTY_DISTRIBUTIONS",
    "IO_HANDLER",
    "KINDS",
    "PARTITION_TYPE",
    "STORAGE_BACKEND",
    "ComponentKind",
    "Provider",
    "conflict_error",
    "not_found_error",
]


def _check_io_handler(value: object) -> str | None:
    from rivers.io_handlers.base import BaseIOHandler

    if isinstance(value, type) and issubclass(value, BaseIOHandler):
        return None
    return "must be a BaseIOHandler subclass"


def _check_callable(value: object) -> str | None:
    return None if callable(value) else "must be callable (a factory)"


def _check_class(value: object) -> str | None:
    return None if isinstance(value, type) else "must be a class"


class ComponentKind(Record):
    """One kind of component: its key, hook, wording and value check."""

    key: str
    hook: str
    label: str
    plural: str
    check: Callable[[object], str | None]

    _hidden = frozenset({"check"})

    def validate(self, contributed: object) -> dict[str, Any]:
        """Return ``contributed`` if it is a valid ``{name: component}`` dict.

        :raises PluginError: naming the hook, the entry and what is wrong.
        """
        if not isinstance(contributed, Mapping):
            raise PluginError(
                f"{self.hook}() must return a dict of {{name: component}}, got {type(contributed).__name__}"
            )
        for name, value in contributed.items():
            if not isinstance(name, str) or not name:
                raise PluginError(f"{self.hook}() returned the invalid name {name!r}; names are non-empty strings")
            problem = self.check(value)
            if problem is not None:
                raise PluginError(f"{self.hook}() entry {name!r} {problem}, got {value!r}")
        return dict(contributed)


IO_HANDLER = ComponentKind("io_handler", "rivers_io_handlers", "IO handler", "IO handlers", _check_io_handler)
EXECUTOR = ComponentKind("executor", "rivers_executors", "executor", "executors", _check_callable)
STORAGE_BACKEND = ComponentKind(
    "storage_backend", "rivers_storage_backends", "storage URL scheme", "storage URL schemes", _check_callable
)
PARTITION_TYPE = ComponentKind(
    "partition_type", "rivers_partition_types", "partition type", "partition types", _check_class
)
CLI_COMMAND = ComponentKind("cli_command", "rivers_cli_commands", "CLI command", "CLI commands", _check_callable)

#: Every component kind, by key.
KINDS: dict[str, ComponentKind] = {
    kind.key: kind for kind in (IO_HANDLER, EXECUTOR, STORAGE_BACKEND, PARTITION_TYPE, CLI_COMMAND)
}

#: Components published by this project in their own distribution, so a
#: missing one can be answered with the command that installs it.
FIRST_PARTY_DISTRIBUTIONS: dict[tuple[str, str], str] = {
    ("io_handler", "fs"): "rivers-io-fs",
    ("io_handler", "s3"): "rivers-io-s3",
    ("executor", "kubernetes"): "rivers-executor-k8s",
    ("executor", "k8s"): "rivers-executor-k8s",
}


class Provider(Record):
    """A component and the plugin that contributed it."""

    value: Any
    plugin: str
    label: str


def not_found_error(
    kind: ComponentKind,
    name: str,
    available: Iterable[str],
    broken: Iterable[BrokenPlugin],
) -> PluginNotFoundError:
    """The error for a ``name`` no plugin provides.

    It names the kind, the name, the distribution to install when the name is
    one of ours, the names available, close matches, and the broken plugins
    that might have provided it.
    """
    available = sorted(available)
    broken = list(broken)
    distribution = FIRST_PARTY_DISTRIBUTIONS.get((kind.key, name))
    if distribution and any(plugin.distribution == distribution for plugin in broken):
        parts = [f"{kind.label} {name!r} is not available: {distribution} is installed but failed to load."]
    elif distribution:
        parts = [f"{kind.label} {name!r} is not available (plugin may not be installed): pip install {distribution}."]
    else:
        parts = [f"{kind.label} {name!r} is not available (plugin may not be installed)."]
    import difflib

    matches = difflib.get_close_matches(name, available, n=3)
    if matches:
        parts.append("Did you mean " + " or ".join(repr(m) for m in matches) + "?")
    if available:
        parts.append(f"Available {kind.plural}: " + ", ".join(repr(a) for a in available) + ".")
    else:
        parts.append(f"No {kind.plural} are available.")
    parts.extend(
        f"Plugin {plugin.label} is broken and might provide it ({plugin.stage}: {plugin.cause})." for plugin in broken
    )
    if not distribution:
        parts.append(
            "Install the distribution that provides it, or register a plugin in code with rivers.plugins.register()."
        )
    return PluginNotFoundError(" ".join(parts))


def conflict_error(kind: ComponentKind, name: str, providers: Iterable[Provider]) -> PluginConflictError:
    """The error for a ``name`` claimed by several plugins, naming all of them."""
    providers = list(providers)
    claimants = ", ".join(p.label for p in providers[:-1]) + f" and {providers[-1].label}"
    return PluginConflictError(
        f"{kind.label} {name!r} is provided by more than one plugin: {claimants}. "
        "Uninstall all but one of them, or unregister one with "
        f"rivers.plugins.unregister({providers[-1].plugin!r})."
    )
