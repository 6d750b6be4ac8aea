"""The background event writer stores everything by flush() and surfaces storage errors."""

from __future__ import annotations

import threading

import pytest

from rivers.execution.event_writer import EventWriter
from rivers.storage.records import StoredEvent, StoredLog


class RecordingStorage:
    """Stands in for the two engine-facing Storage methods the writer calls."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list = []
        self.logs: list = []
        self.threads: set[str] = set()
        self.fail = fail

    def append_events(self, events):
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise OSError("disk full")
        self.events.extend(events)

    def append_logs(self, logs):
        self.logs.extend(logs)


def _event(i: int) -> StoredEvent:
    return StoredEvent(f"r:{i}", "StepStart", f"a{i}", "r")


def test_flush_waits_until_every_event_is_stored_in_order():
    storage = RecordingStorage()
    writer = EventWriter(storage)
    for i in range(5000):
        writer.add([_event(i)], [StoredLog(f"l{i}", "r", f"a{i}", 0)] if i % 1000 == 0 else [])
    writer.flush()
    assert [e.id for e in storage.events] == [f"r:{i}" for i in range(5000)]
    assert len(storage.logs) == 5
    writer.close()
    assert "rivers-event-writer" in storage.threads


def test_storage_errors_are_raised_to_the_run():
    writer = EventWriter(RecordingStorage(fail=True))
    writer.add([_event(1)], [])
    with pytest.raises(OSError, match="disk full"):
        writer.close()


def test_unthreaded_writer_stores_on_flush():
    storage = RecordingStorage()
    writer = EventWriter(storage)
    writer.threaded = False
    writer.add([_event(1)], [])
    assert storage.events == []
    writer.flush()
    assert [e.id for e in storage.events] == ["r:1"]
