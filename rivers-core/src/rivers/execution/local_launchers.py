"""Launchers that run step attempts in this process: inline, on threads, and async steps on one event loop.

* :class:`InlineLauncher` runs the attempt in the scheduler's own thread,
  before :meth:`launch` returns: the cheapest launcher there is (the
  in-process executor's).
* :class:`ThreadLauncher` runs attempts on up to ``threads`` controller
  threads, so that a slow in-process step does not hold up the scheduler
  while other launchers' steps run (the parallel executor's launcher for
  steps that must stay in the controller).
* :class:`AsyncLauncher` runs ``async def`` steps concurrently: each
  attempt's coroutines are awaited on one shared event loop (its synchronous
  parts — loading inputs, writing outputs — on a thread of their own), at
  most ``max_concurrent`` at a time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rivers.execution.launcher import LaunchContext, LauncherCapabilities, StepAttempt, StepLauncher, run_here
from rivers.execution.step_runner import run_attempt

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from concurrent.futures import ThreadPoolExecutor

    from rivers.execution.step_runner import RunState


class InlineLauncher(StepLauncher):
    """Runs each attempt in the scheduler's thread, one at a time."""

    name = "inline"
    capabilities = LauncherCapabilities(process_local_values=True, needs_importable=False, blocking=True)

    def launch(self, attempt: StepAttempt) -> None:
        planned = attempt.planned
        context = self.context
        # KeyboardInterrupt & co. propagate: the caller's stop handling sees them
        context.report(attempt, run_attempt(planned.runtime, context.state, planned.selected, attempt.attempt,
                                            attempt.announce))


class ThreadLauncher(StepLauncher):
    """Runs attempts on up to ``threads`` threads of this process."""

    name = "threads"
    capabilities = LauncherCapabilities(process_local_values=True, needs_importable=False)

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._busy = 0
        self._lock = threading.Lock()

    def open(self, context: LaunchContext, expected: int = 0) -> None:
        super().open(context, expected)
        self._busy = 0

    def has_room(self) -> bool:
        return self._busy < self.threads

    def launch(self, attempt: StepAttempt) -> None:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="rivers-steps")
        with self._lock:
            self._busy += 1
        self._pool.submit(self._run, attempt, self.context.concurrent_state())

    def _run(self, attempt: StepAttempt, state: RunState) -> None:
        try:
            outcome = run_here(attempt, state)
        finally:
            state.close()
            with self._lock:
                self._busy -= 1
        self.context.report(attempt, outcome)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class _LoopThread:
    """An event loop on its own thread; steps' coroutines are submitted to it from step threads."""

    def __init__(self) -> None:
        import asyncio

        self._asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="rivers-async-steps", daemon=True)
        self._thread.start()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Called by :meth:`RunState.run_coroutine` on a step thread: await on the shared loop."""

        async def wrapper() -> Any:
            return await awaitable

        return self._asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result()

    def close(self) -> None:
        """Per-attempt states call this; the loop itself is stopped by :meth:`stop`."""

    def stop(self) -> None:
        # async generators are finalised on the loop's own thread: the caller may run a loop of its own
        self._asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class AsyncLauncher(StepLauncher):
    """Runs async steps concurrently on one event loop of this process (at most ``max_concurrent``)."""

    name = "asyncio"
    capabilities = LauncherCapabilities(process_local_values=True, needs_importable=False, runs_async=True)

    def __init__(self, max_concurrent: int | None = None) -> None:
        self.max_concurrent = max_concurrent
        self._loop: _LoopThread | None = None
        self._busy = 0
        self._lock = threading.Lock()

    def has_room(self) -> bool:
        return self.max_concurrent is None or self._busy < self.max_concurrent

    def launch(self, attempt: StepAttempt) -> None:
        if self._loop is None:
            self._loop = _LoopThread()
        state = self.context.concurrent_state()
        state.loop = self._loop
        with self._lock:
            self._busy += 1
        threading.Thread(target=self._run, args=(attempt, state), daemon=True,
                         name=f"rivers-async-{attempt.key}").start()

    def _run(self, attempt: StepAttempt, state: RunState) -> None:
        try:
            outcome = run_here(attempt, state)
        finally:
            with self._lock:
                self._busy -= 1
        self.context.report(attempt, outcome)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None


__all__ = ["AsyncLauncher", "InlineLauncher", "ThreadLauncher"]
