"""Run monitoring records: who runs a run (host, pid, process start), its heartbeat, why it ended.

Every backend keeps one :class:`RunMonitor` per monitored run next to the
run record. The run launcher writes it (``Storage._put_run_monitor``) once a
run has been going for a moment and renews the heartbeat
(``Storage._heartbeat_runs``) while it runs; readers use it to tell a run
that is really going from one whose process died (:func:`owner_alive`), and
``Storage.reconcile_runs()`` marks the dead ones failed with reason
``"process died"``.

A run is alive when:

* its owner runs on this host: the owner's pid exists and (where the
  operating system says so) that process started when the owner did, so a
  reused pid is no owner;
* its owner runs on another host: its heartbeat is younger than
  :data:`STALE_AFTER_S`;
* it has no monitor record: reads (``get_run``/``get_runs``) leave it
  alone; ``reconcile_runs()`` (``rivers runs``, ``rivers resume``, the
  daemon) finds it dead once it started more than :data:`OWNERLESS_GRACE_S`
  ago. The launcher records the owner of every run still going after a
  fraction of a second; short runs never need one.
"""

from __future__ import annotations

import os
from typing import Final

from rivers._record import Record, factory

__all__ = [
    "OWNERLESS_GRACE_S",
    "PROCESS_DIED",
    "STALE_AFTER_S",
    "RunMonitor",
    "current_owner",
    "host_name",
    "owner_sign",
    "owner_alive",
    "process_start_ns",
    "same_owner_sign",
]

#: ``end_reason`` of a run whose process died (found by a reader or ``reconcile_runs``).
PROCESS_DIED: Final = "process died"
#: A run owned by another host is dead when its heartbeat is older than this (seconds).
STALE_AFTER_S: Final = 60.0
#: A Started run without a monitor record is dead once it started longer ago than this (seconds).
OWNERLESS_GRACE_S: Final = 30.0
#: Two readings of a process's start time closer than this (ns) name the same process.
_START_TOLERANCE_NS: Final = 1_500_000_000


class RunMonitor(Record):
    """The owner, heartbeat, end reason and earlier attempts of one run.

    ``host``/``pid``/``process_start`` identify the process running (or that
    last ran) the run; ``process_start`` is that process's start time in ns
    since the epoch (``None`` where the operating system does not say).
    ``heartbeat`` is the owner's last sign of life (ns). ``attempt_start`` is
    when the current (last) attempt started; ``attempts`` lists the earlier
    attempts as ``(start ns, end ns)`` pairs, so a resumed run's running time
    is the sum of its attempts and the rest of its wall time is the gap
    between them. ``end_reason`` says why a run that did not succeed ended:
    ``"interrupted"``, ``"terminated"``, ``"canceled"`` or ``"process died"``.
    """

    run_id: str
    host: str | None = None
    pid: int | None = None
    process_start: int | None = None
    heartbeat: int | None = None
    attempt_start: int | None = None
    end_reason: str | None = None
    attempts: list[tuple[int, int]] = factory(list)

    def running_ns(self, start_time: int, end_time: int | None, now: int) -> int:
        """Time spent running: the earlier attempts plus the current one (to ``end_time`` or ``now``)."""
        current_start = self.attempt_start or start_time
        earlier = sum(max(0, end - start) for start, end in self.attempts)
        return earlier + max(0, (end_time or now) - current_start)


def process_start_ns(pid: int) -> int | None:
    """When process ``pid`` started (ns since the epoch), or ``None`` when unknown (no /proc, gone)."""
    return _process_info(pid)[1]


def _process_info(pid: int) -> tuple[bytes | None, int | None]:
    """``(state letter, start ns)`` of process ``pid`` from /proc (``(None, None)`` when unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5): starttime, counted after the "(comm)" field
        boot = _boot_time_s()
    except (OSError, ValueError, IndexError):
        return None, None
    if boot is None:
        return fields[0], None
    return fields[0], boot * 1_000_000_000 + ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


_boot_time_cache: list[int] = []


def _boot_time_s() -> int | None:
    if not _boot_time_cache:
        with open("/proc/stat", "rb") as stat:
            for line in stat:
                if line.startswith(b"btime "):
                    _boot_time_cache.append(int(line.split()[1]))
                    break
            else:
                return None
    return _boot_time_cache[0]


_owner_cache: dict[int, tuple[str, int, int | None]] = {}


def current_owner() -> tuple[str, int, int | None]:
    """``(host, pid, process start ns)`` of this process (computed once per process)."""
    pid = os.getpid()
    owner = _owner_cache.get(pid)
    if owner is None:
        owner = _owner_cache[pid] = (host_name(), pid, process_start_ns(pid))
    return owner


def host_name() -> str:
    """This machine's host name (``socket.gethostname()``, without importing ``socket`` where ``os.uname`` has it)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def owner_alive(start_time: int, monitor: RunMonitor | None, now: int) -> bool:
    """Whether the run started at ``start_time`` and monitored by ``monitor`` is still being run."""
    if monitor is None or monitor.pid is None:
        return now - start_time < OWNERLESS_GRACE_S * 1e9
    host, pid, started = current_owner()
    if monitor.host != host:
        last_sign = monitor.heartbeat or monitor.attempt_start or start_time
        return now - last_sign < STALE_AFTER_S * 1e9
    if monitor.pid == pid:
        return started is None or monitor.process_start is None or \
            abs(started - monitor.process_start) < _START_TOLERANCE_NS
    try:
        os.kill(monitor.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    state, other_start = _process_info(monitor.pid)
    if state in (b"Z", b"X"):  # exited, not yet reaped by its parent
        return False
    if monitor.process_start is None or other_start is None:
        return True
    return abs(other_start - monitor.process_start) < _START_TOLERANCE_NS


def owner_sign(monitor: RunMonitor | None) -> tuple[int | None, int | None]:
    """``(pid, heartbeat)`` of ``monitor`` (``(None, None)`` without one): what a reconciling reader compares."""
    return (None, None) if monitor is None else (monitor.pid, monitor.heartbeat)


def same_owner_sign(stored: RunMonitor | None, judged: RunMonitor | None) -> bool:
    """Whether the ``stored`` monitor record still has the pid and heartbeat of the ``judged`` one."""
    return owner_sign(stored) == owner_sign(judged)
