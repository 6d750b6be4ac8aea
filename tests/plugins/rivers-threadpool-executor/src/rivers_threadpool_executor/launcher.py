"""A thread-pool step launcher and the executor that configures it.

The scheduler decides when each attempt runs (ready set, pools, retries,
stop requests); this launcher only starts attempts on a thread pool and
reports each outcome once, from the future's done-callback (callback style:
``LaunchContext.report`` may be called from any thread).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import rivers as rs
from rivers.execution.launcher import LaunchContext, LauncherCapabilities, StepAttempt, StepLauncher
from rivers.execution.outcome import StepOutcome


class ThreadPoolLauncher(StepLauncher):
    """Runs up to ``max_threads`` attempts at once on threads of this process."""

    name = "threadpool"
    # steps run in this process: in-memory values are fine, nothing needs to be importable elsewhere
    capabilities = LauncherCapabilities(process_local_values=True, needs_importable=False)

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._pool: ThreadPoolExecutor | None = None
        self._running = 0
        self._lock = threading.Lock()

    def open(self, context: LaunchContext, expected: int = 0) -> None:
        super().open(context, expected)  # keeps the context as self.context
        self._pool = ThreadPoolExecutor(max(1, min(self.max_threads, expected or 1)),
                                        thread_name_prefix="rivers-threadpool")

    def has_room(self) -> bool:
        with self._lock:
            return self._running < self.max_threads

    def launch(self, attempt: StepAttempt) -> None:
        assert self._pool is not None, "open() is called before the first launch"
        state = self.context.concurrent_state()  # own event ids: attempts run side by side
        with self._lock:
            self._running += 1
        future = self._pool.submit(self.context.run_in_this_process, attempt, state)
        attempt.handle = future
        future.add_done_callback(lambda done: self._finished(attempt, state, done))

    def _finished(self, attempt: StepAttempt, state: object, future: Future[StepOutcome]) -> None:
        with self._lock:
            self._running -= 1
        state.close()  # type: ignore[attr-defined]
        if not future.cancelled():
            self.context.report(attempt, future.result())

    def terminate(self, attempt: StepAttempt) -> None:
        # a thread cannot be killed: a queued attempt is dropped, a running one ends on its own
        attempt.handle.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class ThreadPoolStepExecutor(rs.Executor):
    """``Executor.from_plugin("threadpool", max_threads=4)``: steps on a pool of threads."""

    plugin_name = "threadpool"

    def __init__(self, max_threads: int = 4) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise rs.exceptions.ConfigurationError(
                f"threadpool executor: max_threads must be an int >= 1, got {max_threads!r}"
            )
        self.max_threads = max_threads

    def launcher(self) -> StepLauncher:
        return ThreadPoolLauncher(self.max_threads)

    def __repr__(self) -> str:
        return f"Executor.from_plugin('threadpool', max_threads={self.max_threads})"
