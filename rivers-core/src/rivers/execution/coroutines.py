"""Running coroutines of async assets from synchronous engine code.

``materialize()`` is a plain function, so async steps and observe functions
are driven to completion here. When the caller already runs an event loop
(a notebook, an async web handler), that loop cannot be re-entered: the
coroutine then runs on a private loop in a helper thread instead.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class CoroutineRunner:
    """Runs coroutines to completion, reusing one event loop for a whole run."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: Any) -> Any:
        """Drive ``coroutine`` to completion and return its result (or raise its error)."""
        import asyncio

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            if _loop_running_here():
                self._thread = threading.Thread(target=self._loop.run_forever, name="rivers-async", daemon=True)
                self._thread.start()
        if self._thread is not None:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        """Stop and close the loop (and its thread)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            self._thread = None
        loop.close()


def _loop_running_here() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_coroutine(coroutine: Any) -> Any:
    """Run one coroutine to completion (from sync code, inside or outside a running loop)."""
    runner = CoroutineRunner()
    try:
        return runner.run(coroutine)
    finally:
        runner.close()
