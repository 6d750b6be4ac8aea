"""Keeping each step's output with its run: ``context.log`` records, stdout, stderr.

While a step runs, ``sys.stdout`` and ``sys.stderr`` are replaced by tees
that still write through to the original streams (so a terminal or notebook
shows the output as usual) and also keep a copy for the run's StoredLog row.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, TextIO

from rivers.storage.records import StoredLog

_LOGGER_NAME = "code-repo"


class StepLogCapture(logging.Handler):
    """Collects records of the ``code-repo.*`` loggers emitted while a step runs.

    One instance per process; the step being captured is tracked per thread,
    so concurrent steps in threads do not mix their logs.
    """

    _installed: StepLogCapture | None = None

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._local = threading.local()
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
        local = self._local
        local.step = step_key
        local.lines = []
        local.stdout = sys.stdout = _Tee(sys.stdout)
        local.stderr = sys.stderr = _Tee(sys.stderr)

    def end(self, run: Any) -> list[StoredLog]:
        """Stop collecting; the step's output as a StoredLog row (none if there was nothing)."""
        local = self._local
        lines = getattr(local, "lines", None)
        step = getattr(local, "step", None)
        stdout = _restore("stdout", getattr(local, "stdout", None))
        stderr = _restore("stderr", getattr(local, "stderr", None))
        local.step = local.lines = local.stdout = local.stderr = None
        if not lines and not stdout and not stderr:
            return []
        return [StoredLog(f"{run.run_id}:{step}:output", run.run_id, step, time.time_ns(), stdout=stdout or None,
                          stderr=stderr or None, logs="\n".join(lines) if lines else None)]

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.append(self.format(record))


class _Tee:
    """A text stream writing through to ``target`` while keeping a copy."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def _restore(name: str, tee: _Tee | None) -> str:
    """Put the original stream back (if ours is still installed) and return what was captured."""
    if tee is None:
        return ""
    if getattr(sys, name) is tee:
        setattr(sys, name, tee.target)
    return "".join(tee.parts)
