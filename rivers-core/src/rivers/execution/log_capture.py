"""Keeping each step's output with its run: ``context.log`` records, stdout, stderr.

While steps run, ``sys.stdout`` and ``sys.stderr`` are replaced by tees
that still write through to the original streams (so a terminal or notebook
shows the output as usual) and also keep a copy for the run's StoredLog row.
The copy goes to the buffer of the step whose code writes — tracked in a
context variable, so it follows a step into the coroutines it awaits on an
event loop in another thread — and steps running at the same time (the
parallel executor's async and controller steps) keep their output apart. The
tees are installed while a run holds them (:func:`hold_streams`, from its
start to its end, so steps pay nothing for them) or, outside runs, while a
step is captured.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from rivers.storage.records import StoredLog

if TYPE_CHECKING:
    from typing import Protocol

    class CapturedRun(Protocol):
        """The run a step's output belongs to (a :class:`~rivers.execution.step_runner.RunState`)."""

        @property
        def run_id(self) -> str:
            """The run's id."""

_LOGGER_NAME = "code-repo"


class _Captured:
    """What one running step has produced so far."""

    __slots__ = ("step", "lines", "stdout", "stderr", "holds")

    def __init__(self, step: str) -> None:
        self.step = step
        self.lines: list[str] = []
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.holds = False  # this step installed the tees and removes them when it ends


#: the step being captured in this thread / asyncio task (tasks inherit it from the code that starts them)
_current: contextvars.ContextVar[_Captured | None] = contextvars.ContextVar("rivers_step_capture", default=None)


class StepLogCapture(logging.Handler):
    """Collects records of the ``code-repo.*`` loggers emitted while a step runs.

    One instance per process; the step being captured is tracked per thread
    (and per asyncio task), so concurrent steps do not mix their logs.
    """

    _installed: StepLogCapture | None = None

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s - %(message)s"))

    @classmethod
    def install(cls) -> StepLogCapture:
        """The process-wide capture, attached to the ``code-repo`` logger on first use."""
        if cls._installed is None:
            capture = cls()
            logger = logging.getLogger(_LOGGER_NAME)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(capture)
            cls._installed = capture
        return cls._installed

    def begin(self, step_key: str) -> None:
        """Start collecting records and output for ``step_key`` on this thread."""
        captured = _Captured(step_key)
        _current.set(captured)
        if sys.stdout is not _tees.get("stdout") or sys.stderr is not _tees.get("stderr"):
            captured.holds = True
            hold_streams()

    def end(self, run: CapturedRun) -> list[StoredLog]:
        """Stop collecting; the step's output as a StoredLog row (none if there was nothing)."""
        captured = _current.get()
        _current.set(None)
        if captured is None:
            return []
        if captured.holds:
            release_streams()
        step, lines = captured.step, captured.lines
        stdout = "".join(captured.stdout)
        stderr = "".join(captured.stderr)
        if not lines and not stdout and not stderr:
            return []
        return [StoredLog(f"{run.run_id}:{step}:output", run.run_id, step, time.time_ns(), stdout=stdout or None,
                          stderr=stderr or None, logs="\n".join(lines) if lines else None)]

    def emit(self, record: logging.LogRecord) -> None:
        captured = _current.get()
        if captured is not None:
            captured.lines.append(self.format(record))


class _Tee:
    """A text stream writing through to ``target`` while keeping a copy for the step that writes."""

    def __init__(self, target: TextIO, buffer: str) -> None:
        self.target = target
        self._buffer = buffer

    def write(self, text: str) -> int:
        captured = _current.get()
        if captured is not None:
            getattr(captured, self._buffer).append(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


_tee_lock = threading.Lock()
_holders = 0
_tees: dict[str, _Tee] = {}
#: the last tee made for each stream name, put back while it wraps the same stream (runs hold the streams
#: one after another: each would otherwise make two tees)
_made: dict[str, _Tee] = {}


def hold_streams() -> None:
    """Put the tees on ``sys.stdout``/``sys.stderr`` (if they are not there) until :func:`release_streams`.

    Runs hold them from start to end; holds nest (concurrent runs, steps).
    """
    global _holders
    with _tee_lock:
        _holders += 1
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if current is not None and current is not _tees.get(name):
                tee = _made.get(name)
                if tee is None or tee.target is not current:
                    tee = _made[name] = _Tee(current, name)
                _tees[name] = tee
                setattr(sys, name, tee)


def release_streams() -> None:
    """End one hold; the last one puts the original streams back (where ours are still installed)."""
    global _holders
    with _tee_lock:
        _holders = max(_holders - 1, 0)
        if _holders:
            return
        for name, tee in list(_tees.items()):
            if getattr(sys, name) is tee:
                setattr(sys, name, tee.target)
            del _tees[name]
