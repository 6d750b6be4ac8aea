"""Hook specifications: everything a rivers plugin can contribute.

A plugin is any object (usually a module) whose functions are marked with
:data:`rivers.plugins.hookimpl` and named after one of the hooks below. Core
registers its own built-ins through the same hooks, so a built-in and a
third-party component are indistinguishable to the rest of the code.

Rules that hold for every hook:

* rivers always calls hooks with keyword arguments; an implementation may
  accept fewer arguments than the specification (specifications can gain
  arguments without breaking plugins).
* Every implementation is called on its own: one plugin raising does not stop
  the others. Wrapper implementations (``wrapper=True``/``hookwrapper=True``)
  are rejected when the plugin is registered.
* Component hooks are called once per process, lazily, on the first lookup of
  their kind; their results are cached until a plugin is registered or
  unregistered. They should be cheap and import heavy client libraries inside
  the factories they return, not at module import.

``docs/plugins.md`` documents each hook with the exact signature declared
here (a test keeps the two in sync).
"""

# Specifications are never called, only their signatures and docstrings matter.
# mypy: disable-error-code="empty-body"
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from argparse import ArgumentParser
    from collections.abc import Callable
    from typing import Any

    from rivers.execution.executors import Executor
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.plugins.events import RunFinished, RunStarted, StepFinished, StepStarted
    from rivers.storage import Storage

__all__ = [
    "hookspec",
    "rivers_cli_commands",
    "rivers_executors",
    "rivers_io_handlers",
    "rivers_partition_types",
    "rivers_run_finished",
    "rivers_run_started",
    "rivers_step_finished",
    "rivers_step_started",
    "rivers_storage_backends",
]

#: Marks the hook specifications of the ``rivers`` project.
hookspec = pluggy.HookspecMarker("rivers")


# -------------------------------------------------------------------------
# Components: named building blocks selected by name in code or rivers.toml
# -------------------------------------------------------------------------


@hookspec
def rivers_io_handlers() -> dict[str, type[BaseIOHandler]]:
    """Contribute IO handler classes, by name.

    :returns: A mapping from handler name (``"memory"``, ``"s3"``) to a
        :class:`~rivers.io_handlers.base.BaseIOHandler` subclass. The class is
        instantiated with the user's settings as keyword arguments:
        ``rivers.plugins.create_io_handler("s3", bucket="b")`` calls
        ``cls(bucket="b")``. A name claimed by two plugins is a
        :class:`~rivers.exceptions.PluginConflictError` on lookup.
    """


@hookspec
def rivers_executors() -> dict[str, Callable[..., Executor]]:
    """Contribute executor factories, by name.

    :returns: A mapping from executor name (``"in_process"``,
        ``"kubernetes"``) to a factory called with the user's settings as
        keyword arguments, ``factory(**config)``, returning an
        :class:`~rivers.execution.executors.Executor`.
        ``Executor.from_plugin("kubernetes", namespace="jobs")`` calls
        ``factory(namespace="jobs")``.
    """


@hookspec
def rivers_partition_types() -> dict[str, type]:
    """Contribute partition definition types, by name.

    :returns: A mapping from partition type name (``"static"``,
        ``"time_window"``) to a ``PartitionsDefinition`` subclass, looked up
        with ``rivers.plugins.partition_type(name)``.
    """


@hookspec
def rivers_storage_backends() -> dict[str, Callable[..., Storage]]:
    """Contribute storage backends, by URL scheme.

    :returns: A mapping from URL scheme (the part of a storage URL before
        ``://``: ``"sqlite"``, ``"memory"``, ``"postgresql"``) to a factory
        called as ``factory(url, **config)`` with the complete URL and the
        user's settings, returning a :class:`~rivers.storage.Storage`.
        ``Storage.connect("sqlite:///.rivers/rivers.db")`` calls the
        ``sqlite`` factory with that URL.
    """


@hookspec
def rivers_cli_commands() -> dict[str, Callable[[Any, list[ArgumentParser]], None]]:
    """Contribute sub-commands of the ``rivers`` command line, by name.

    :returns: A mapping from a top-level command name (``"k8s"`` for
        ``rivers k8s ...``) to an ``add_parser(subparsers, parents)``
        function, the same as core's own command modules: it calls
        ``subparsers.add_parser(name, parents=parents, ...)`` (``parents``
        carry the global options) and sets ``handler`` on the parser to a
        function ``(args, context) -> exit code`` (``context`` is a
        ``rivers.cli.context.CommandContext``: the console and the project).
        Import heavy modules inside the handler: every ``rivers`` invocation
        builds every parser. A name core already uses is left out, as is a
        command whose ``add_parser`` raises (``rivers`` warns on stderr).
    """


# -------------------------------------------------------------------------
# Observers: watch runs; called with plain event objects, never break a run
# -------------------------------------------------------------------------
#
# The engine skips building events entirely when no plugin implements any
# observer hook. An exception raised by an observer is logged on the
# ``rivers.plugins`` logger and swallowed; the return value is ignored.
# Observers run synchronously in the process that drives the run (not in
# worker processes or pods), so they should be quick.


@hookspec
def rivers_run_started(event: RunStarted) -> None:
    """Called when a run starts, before its first step.

    :param event: The run id, job name (``None`` for an ad-hoc
        materialisation), the names of the selected nodes and the run tags.
    """


@hookspec
def rivers_step_started(event: StepStarted) -> None:
    """Called when a step starts executing.

    :param event: The run id and the step key.
    """


@hookspec
def rivers_step_finished(event: StepFinished) -> None:
    """Called when a step has finished, failed or been skipped.

    :param event: The run id, the step key, the status (``"success"``,
        ``"failure"`` or ``"skipped"``), the duration in seconds and, for a
        failure, the error message.
    """


@hookspec
def rivers_run_finished(event: RunFinished) -> None:
    """Called when a run has finished, after its last step.

    :param event: The run id, the status (``"success"``, ``"failure"`` or
        ``"canceled"``), the duration in seconds and the keys of the steps
        that failed.
    """
