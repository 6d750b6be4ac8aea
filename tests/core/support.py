"""Helpers shared by the core test modules."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
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


def write_crash_project(directory: Any, monkeypatch: Any, pipeline: str) -> Any:
    """A project for the crash tests in ``directory``: ``pipeline.py`` (its ``{support}`` filled in) on ``runs.db``.

    ``RIVERS_TEST_MARKS`` points the assets' traces at ``directory/marks``.
    """
    from pathlib import Path

    monkeypatch.setenv("RIVERS_TEST_MARKS", str(directory / "marks"))
    (directory / "pipeline.py").write_text(pipeline.format(support=str(Path(__file__).resolve().parent)))
    (directory / "rivers.toml").write_text('[storage]\nurl = "sqlite:///runs.db"\n')
    return directory


def wait_until_exists(process: subprocess.Popen[Any], *paths: Any, what: str, timeout: float = 30) -> None:
    """Wait until every one of ``paths`` exists (the subprocess got there); fail if it exits first or too late."""
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        if process.poll() is not None:
            raise AssertionError(f"the process exited before {what}: {process.communicate()}")
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def wait_for_run_progress(database: str, steps: set[str], *, monitored: bool = False, timeout: float = 30) -> str:
    """Wait until the only run in the SQLite file ``database`` has completed ``steps`` (and, with
    ``monitored``, recorded its owner) as another process sees it; return its run id."""
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while True:
        if Path(database).exists():
            with rs.Storage.embedded(database) as storage:
                for run in storage.get_runs(limit=1):
                    done = steps <= storage._completed_steps(run.run_id)
                    if done and (not monitored or storage.get_run_monitor(run.run_id) is not None):
                        return run.run_id
        assert time.monotonic() < deadline, f"the run never completed {sorted(steps)} (monitored={monitored})"
        time.sleep(0.05)


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
