"""Live updates: one watcher of the storage's event cursor per process, and server-sent event streams.

:class:`EventHub` runs one thread while browsers listen. It blocks in the
storage's ``wait_for_events`` (LISTEN/NOTIFY on PostgreSQL, a cheap cursor
poll elsewhere) and wakes every stream when new events are stored. Each
stream then reads its own events with ``get_events_after(cursor, run_id=...)``
and sends them with the cursor as the SSE ``id``, so a reconnecting browser
(``Last-Event-ID``) resumes exactly after the last event it received.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from rivers.storage import Storage, StoredEvent

__all__ = ["EventHub", "event_document", "latest_cursor", "sse", "stream_events"]

#: Seconds between keep-alive comments (and run-status checks) on an idle stream.
KEEPALIVE_S = 1.0
#: Events sent per SSE message at most.
PAGE = 5000


def latest_cursor(storage: Storage) -> int:
    """The cursor after the newest stored event, found with O(log n) one-event reads of ``get_events_after``."""
    def first_after(cursor: int) -> int | None:
        page = storage.get_events_after(cursor, limit=1)
        return page.cursor if page.events else None

    found = first_after(0)
    if found is None:
        return 0
    low, step = found, 1  # an event is stored at cursor ``low``
    while (probe := first_after(low + step)) is not None:
        low, step = probe, step * 2
    high = low + step  # no event is stored after ``high``
    while (probe := first_after(low)) is not None:
        middle = (low + high) // 2
        above = first_after(middle) if middle > low else probe
        if above is None:
            high = middle
        else:
            low = above
    return low


class EventHub:
    """Wakes the streams of this process when the storage has new events (one watcher thread)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._listeners = 0
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self.cursor = 0

    async def changes(self, timeout: float) -> bool:
        """Wait until new events are stored (``True``) or ``timeout`` seconds pass (``False``)."""
        changed = self._changed
        if changed is None:
            return False
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def listen(self) -> None:
        """A stream starts listening (starts the watcher thread on first use)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is None:
                self._loop = loop
                self._changed = asyncio.Event()
            self._listeners += 1
            self._wanted.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="rivers-ui-events", daemon=True)
                self._thread.start()

    def unlisten(self) -> None:
        """A stream stopped listening; the watcher idles once none is left."""
        with self._lock:
            self._listeners -= 1
            if self._listeners <= 0:
                self._listeners = 0
                self._wanted.clear()

    def stop(self) -> None:
        """Stop the watcher thread (at application shutdown)."""
        self._stopped.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        self.cursor = latest_cursor(self.storage)
        while not self._stopped.is_set():
            if not self._wanted.is_set():
                self._wanted.wait()
                self.cursor = max(self.cursor, latest_cursor(self.storage))
                continue
            try:
                arrived = self.storage.wait_for_events(self.cursor, timeout=KEEPALIVE_S)
            except Exception:  # noqa: BLE001 - a storage hiccup: try again shortly
                self._stopped.wait(0.5)
                continue
            if not arrived:
                continue
            while True:
                page = self.storage.get_events_after(self.cursor, limit=10_000)
                self.cursor = page.cursor
                if len(page.events) < 10_000:
                    break
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        changed = self._changed
        self._changed = asyncio.Event()
        if changed is not None:
            changed.set()


def event_document(event: StoredEvent) -> dict[str, Any]:
    """What a browser gets of one event: type, step, time, partition and metadata values."""
    from rivers_ui.metadata import display_metadata

    return {"type": event.event_type, "step": event.asset_key, "ts": event.timestamp,
            "partition": None if event.partition_key is None else str(event.partition_key),
            "metadata": display_metadata(event.metadata)}


def sse(name: str, data: object, event_id: int | None = None) -> str:
    """One server-sent event."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream_events(hub: EventHub, cursor: int, *, run_id: str | None,
                        extra: Callable[[], dict[str, Any] | None] | None = None) -> AsyncIterator[str]:
    """SSE text: the events after ``cursor`` (of ``run_id``), then new ones as they are stored.

    ``extra`` is called (in a worker thread) after each batch and on every
    keep-alive; a changed non-``None`` result is sent as a ``state`` event
    (the run page's run status).
    """
    storage = hub.storage
    hub.listen()
    last_extra: dict[str, Any] | None = None
    try:
        yield "retry: 1000\n\n"
        while True:
            page = await run_in_threadpool(storage.get_events_after, cursor, limit=PAGE, run_id=run_id)
            if page.events:
                cursor = page.cursor
                yield sse("events", [event_document(event) for event in page.events], cursor)
            if extra is not None:
                state = await run_in_threadpool(extra)
                if state is not None and state != last_extra:
                    last_extra = state
                    yield sse("state", state)
            if len(page.events) == PAGE:
                continue
            if not await hub.changes(KEEPALIVE_S):
                yield ": keep-alive\n\n"
    finally:
        hub.unlisten()
