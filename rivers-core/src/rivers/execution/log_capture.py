"""Keeping each step's ``context.log`` records with its run (as StoredLog rows)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

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
        """Start collecting records for ``step_key`` on this thread."""
        self._local.step = step_key
        self._local.lines = []

    def end(self, run: Any) -> list[StoredLog]:
        """Stop collecting; the step's records as StoredLog rows (none if nothing was logged)."""
        lines = getattr(self._local, "lines", None)
        step = getattr(self._local, "step", None)
        self._local.step = None
        self._local.lines = None
        if not lines:
            return []
        return [StoredLog(f"{run.run_id}:{step}:logs", run.run_id, step, time.time_ns(), logs="\n".join(lines))]

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.append(self.format(record))
