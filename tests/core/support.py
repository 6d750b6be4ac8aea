"""Helpers shared by the core test modules."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Callable

import rivers as rs


class Recorder(rs.BaseIOHandler):
    """An IO handler that keeps values in a dict and remembers every call."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []
        self.loads: list[rs.InputContext] = []
        self.output_contexts: list[rs.OutputContext] = []

    @property
    def written_names(self) -> list[str]:
        """Names of the nodes written, in order."""
        return [name for name, _ in self.writes]

    def handle_output(self, context, obj):
        self.values[context.asset_name] = obj
        self.writes.append((context.asset_name, obj))
        self.output_contexts.append(context)

    def load_input(self, context):
        self.loads.append(context)
        return self.values[context.asset_name]


def make_repo(*assets: Any, **kwargs: Any) -> rs.CodeRepository:
    """A repository of ``assets`` resolved against a fresh in-memory storage."""
    repo = rs.CodeRepository(assets=list(assets), **kwargs)
    repo.resolve(rs.Storage.memory())
    return repo


def in_threads(work: Callable[[int], None], count: int = 4) -> None:
    """Run ``work(0..count-1)`` in ``count`` threads at once; re-raise the first error any of them raised."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as error:  # pragma: no cover - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def run_python(code: str, *args: str, timeout: float = 120, **env: str) -> str:
    """Run python ``code`` (dedented) with ``args`` in a fresh interpreter; its stdout (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env}, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def hide_installed_plugins(monkeypatch: Any, request: Any) -> None:
    """Make entry-point plugins (rivers-io-fs, rivers-io-s3, ...) invisible for one test.

    For tests of what happens when a first-party component is *not*
    installed: the test environment installs every one of them.
    """
    import rivers.plugins

    monkeypatch.setenv(rivers.plugins.DISABLE_AUTOLOAD_ENV, "1")
    rivers.plugins.reset()
    request.addfinalizer(rivers.plugins.reset)
