"""Leadership between processes (leases and advisory locks) and readers woken by LISTEN/NOTIFY."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rivers.exceptions import StorageError
from rivers.storage import StoredEvent
from rivers_storage_postgres.storage import PostgresStorage

CONTENDER = textwrap.dedent(
    """
    import sys
    import time

    import rivers as rs

    url, schema, owner, mode = sys.argv[1:5]
    storage = rs.Storage.connect(url, schema=schema)
    if mode == "advisory":
        leadership = storage.advisory_leadership("daemon")
        while not leadership.try_acquire():
            time.sleep(0.05)
    else:
        while storage.acquire_lease("daemon", owner, 1.0) is None:
            time.sleep(0.05)
    print("leader", flush=True)
    while True:  # lead until killed, renewing the lease
        if mode != "advisory":
            assert storage.acquire_lease("daemon", owner, 1.0) is not None
        time.sleep(0.1)
    """
)


class _Contender:
    """A contender process; a thread reads its output lines into a queue."""

    def __init__(self, script: Path, url: str, schema: str, owner: str, mode: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(script), url, schema, owner, mode],
                                        stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def leads_within(self, seconds: float) -> bool:
        try:
            return self.lines.get(timeout=seconds) == "leader"
        except queue.Empty:
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.mark.parametrize("mode", ["advisory", "lease"])
def test_two_daemons_one_leader_and_failover(pg_storage: PostgresStorage, pg_url: str, pg_schema: str,
                                             tmp_path: Path, mode: str) -> None:
    script = tmp_path / "contender.py"
    script.write_text(CONTENDER)
    first = _Contender(script, pg_url, pg_schema, "first", mode)
    second: _Contender | None = None
    try:
        assert first.leads_within(30)
        second = _Contender(script, pg_url, pg_schema, "second", mode)
        assert not second.leads_within(2.0)  # the first one leads: the second waits
        first.kill()  # the leader dies without releasing anything
        # advisory: the server releases the lock with the session at once; lease: after its 1 s expiry
        assert second.leads_within(15)
        if mode == "lease":
            lease = pg_storage.get_lease("daemon")
            assert lease is not None and lease.owner == "second"
    finally:
        first.kill()
        if second is not None:
            second.kill()

def test_advisory_leadership_in_one_process(pg_storage: PostgresStorage, pg_url: str, pg_schema: str) -> None:
    other = PostgresStorage(pg_url, schema=pg_schema)
    mine, theirs = pg_storage.advisory_leadership("x"), other.advisory_leadership("x")
    assert mine.try_acquire() and mine.held and mine.try_acquire()  # re-entrant for its holder
    assert not theirs.try_acquire() and not theirs.held
    assert other.advisory_leadership("y").try_acquire()  # another name is independent
    mine.release()
    assert not mine.held and theirs.try_acquire()
    theirs.release()
    other.close()
    with pytest.raises(StorageError, match="advisory leadership needs a session of its own"):
        PostgresStorage(pg_url, schema=pg_schema, pool="off").advisory_leadership("x")


@pytest.mark.parametrize("pool", ["on", "off"])
def test_a_reader_waiting_for_events_wakes_when_a_writer_commits(pg_url: str, pg_schema: str, pool: str) -> None:
    reader = PostgresStorage(pg_url, schema=pg_schema, pool=pool)
    writer = PostgresStorage(pg_url, schema=pg_schema)
    cursor = reader.get_events_after(0).cursor
    assert reader.wait_for_events(cursor, timeout=0.3) is False  # nothing new: waits out the timeout
    woke: list[float] = []

    def wait() -> None:
        assert reader.wait_for_events(cursor, timeout=20)
        woke.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)
    written = time.monotonic()
    writer._append_events([StoredEvent("e1", "StepStart", "a", "r", None, 1)])
    waiter.join(30)
    assert woke and woke[0] - written < (5 if pool == "off" else 2)
    page = reader.get_events_after(cursor)
    assert [event.id for event in page.events] == ["e1"] and page.cursor > cursor
    assert reader.wait_for_events(page.cursor, timeout=0) is False
    assert reader.wait_for_events(cursor, timeout=0) is True
    reader.close()
    writer.close()
