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


class SlowStorage(RecordingStorage):
    """Its first append_events call blocks until released (the writer thread is then storing a batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.storing = threading.Event()
        self.release = threading.Event()

    def append_events(self, events):
        if threading.current_thread().name == "rivers-event-writer" and not self.storing.is_set():
            self.storing.set()
            self.release.wait(10)
        super().append_events(events)


def test_flush_during_a_threaded_write_takes_what_came_meanwhile_without_waiting_an_interval(monkeypatch):
    # the writer thread sleeps this long between batches: flush() must wake it, not wait it out
    import rivers.execution.event_writer as event_writer

    monkeypatch.setattr(event_writer, "_INTERVAL_S", 60.0)
    monkeypatch.setattr(event_writer, "_MAX_PENDING", 10)
    storage = SlowStorage()
    writer = EventWriter(storage)
    writer.add([_event(0)], [])  # the first batch is written in the caller
    writer.add([_event(i) for i in range(1, 20)], [])  # the thread starts and takes these
    assert storage.storing.wait(10)
    writer.add([_event(i) for i in range(20, 25)], [])  # arrive while the thread stores: left for the next batch
    flushed = threading.Event()
    flusher = threading.Thread(target=lambda: (writer.flush(), flushed.set()))
    flusher.start()
    storage.release.set()  # the thread finishes its batch while flush() waits
    assert flushed.wait(10), "flush() waited for the writer's interval instead of waking it"
    flusher.join()
    assert [e.id for e in storage.events] == [f"r:{i}" for i in range(25)]
    writer.close()
