"""What happened in a recorded run, rebuilt from its stored events.

``materialize`` prints its summary from here, so ``rivers run RUN_ID`` shows
exactly the same table later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rivers.cli.formatting import format_duration, one_line, plural

if TYPE_CHECKING:
    from rivers.cli.console import Console
    from rivers.storage import RunRecord, Storage, StoredEvent
    from rivers.storage.monitor import RunMonitor

__all__ = ["RunReport", "StepReport", "load_report", "print_summary", "print_tracebacks", "step_table"]

SUCCESS = "success"
FAILURE = "failure"
SKIPPED = "skipped"
RUNNING = "running"
#: a step the run never finished: it was stopped (Ctrl-C, SIGTERM, cancel) or its process died
NOT_RUN = "not run"


@dataclass
class StepReport:
    """One step of a run: status, timing, error or skip cause, retries."""

    key: str
    status: str = RUNNING
    started_ns: int | None = None
    finished_ns: int | None = None
    error: str | None = None
    skipped_because: str | None = None
    not_run_because: str | None = None
    retries: int = 0
    #: one ``(attempt, failure reason, next delay in ms)`` per failed attempt that was retried
    retry_events: list[tuple[int, str, int]] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        """Seconds between the step's start and end events (``None`` if skipped or unfinished)."""
        if self.started_ns is None or self.finished_ns is None:
            return None
        return (self.finished_ns - self.started_ns) / 1e9

    @property
    def detail(self) -> str:
        """The error, the skip cause, or the number of retries."""
        if self.status == SKIPPED:
            return f"upstream failed: {self.skipped_because}" if self.skipped_because else "upstream failed"
        if self.status == NOT_RUN:
            return self.not_run_because or ""
        if self.error:
            if self.retries:
                return f"{one_line(self.error)} (after {self.attempts} attempts)"
            return one_line(self.error)
        return f"{self.retries} retries" if self.retries else ""

    @property
    def attempts(self) -> int:
        """How many times the step ran (1 + retries)."""
        return self.retries + 1


@dataclass
class RunReport:
    """A run record and the steps and materialisations of its events."""

    record: RunRecord
    steps: list[StepReport] = field(default_factory=list)
    materializations: list[StoredEvent] = field(default_factory=list)
    #: owner, end reason and earlier attempts (None for runs that were never monitored)
    monitor: RunMonitor | None = None

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def status(self) -> str:
        """``success``, ``failure``, ``canceled``, ``started``, ... (lower case)."""
        return self.record.status.lower()

    @property
    def job(self) -> str:
        """The job name, ``materialize`` for ad-hoc materialisations."""
        return self.record.job_name or "materialize"

    @property
    def reason(self) -> str | None:
        """Why a run that did not succeed ended: "interrupted", "terminated", "canceled", "process died"."""
        if self.monitor is None or self.record.status in ("Success", "Started", "Queued"):
            return None
        return self.monitor.end_reason

    @property
    def attempts(self) -> int:
        """How many times the run was started (1 + resumes)."""
        return 1 + (len(self.monitor.attempts) if self.monitor is not None else 0)

    @property
    def duration_s(self) -> float | None:
        """Seconds the run spent running, over all its attempts (``None`` while it runs)."""
        if self.record.end_time is None or not self.record.start_time:
            return None
        if self.monitor is not None and self.monitor.attempts:
            return self.monitor.running_ns(self.record.start_time, self.record.end_time, 0) / 1e9
        return (self.record.end_time - self.record.start_time) / 1e9

    @property
    def gap_s(self) -> float | None:
        """Seconds between the attempts of a resumed run (its wall time minus its running time), else None."""
        duration, end_time = self.duration_s, self.record.end_time
        if duration is None or end_time is None or self.monitor is None or not self.monitor.attempts:
            return None
        return max(0.0, (end_time - self.record.start_time) / 1e9 - duration)

    @property
    def status_text(self) -> str:
        """The status with the reason it ended, e.g. ``failure (process died)``."""
        reason = self.reason
        return f"{self.status} ({reason})" if reason else self.status

    def keys(self, status: str) -> list[str]:
        """The keys of the steps with ``status``."""
        return [step.key for step in self.steps if step.status == status]

    def outcome(self) -> str:
        """``success, 12 steps in 0.84s`` or ``failure: 2 failed, 3 skipped (12 steps in 0.84s)``."""
        timing = f"{plural(len(self.steps), 'step')} in {format_duration(self.duration_s)}"
        if self.status == SUCCESS:
            return f"{self.status}, {timing}"
        counts = [f"{len(self.keys(FAILURE))} failed"]
        if self.keys(SKIPPED):
            counts.append(f"{len(self.keys(SKIPPED))} skipped")
        if self.keys(NOT_RUN):
            counts.append(f"{len(self.keys(NOT_RUN))} not run")
        return f"{self.status_text}: {', '.join(counts)} ({timing})"


def load_report(storage: Storage, record: RunRecord) -> RunReport:
    """Rebuild the report of ``record`` from the run's events in ``storage``."""
    report = RunReport(record)
    steps: dict[str, StepReport] = {}
    for event in storage.get_events_for_run(record.run_id):
        if event.event_type == "Materialization":
            report.materializations.append(event)
            continue
        if not event.event_type.startswith("Step") or event.asset_key is None:
            continue
        step = steps.setdefault(event.asset_key, StepReport(event.asset_key))
        _apply(step, event)
    report.steps = list(steps.values())
    if record.status not in ("Started", "Queued"):
        report.monitor = storage.get_run_monitor(record.run_id)
        for step in report.steps:
            if step.status == RUNNING:  # started, never ended: the run stopped or its process died
                step.status = NOT_RUN
                step.not_run_because = report.reason
        if record.status != "Success":  # planned, never recorded (e.g. the process died in it)
            seen = set(steps) | {event.asset_key for event in report.materializations}
            report.steps.extend(StepReport(name, NOT_RUN, not_run_because=report.reason)
                                for name in record.node_names if name not in seen)
    return report


def _apply(step: StepReport, event: StoredEvent) -> None:
    metadata = dict(event.metadata)
    if event.event_type == "StepStart":
        step.started_ns, step.finished_ns = event.timestamp, None
        step.status = RUNNING
    elif event.event_type == "StepRetry":
        step.retries += 1
        step.retry_events.append((_int(metadata.get("rivers/attempt"), step.retries),
                                  metadata.get("rivers/failure_reason", "error"),
                                  _int(metadata.get("rivers/next_delay_ms"), 0)))
    elif event.event_type == "StepSuccess":  # also after a failed earlier attempt: its error is history
        step.status, step.finished_ns = SUCCESS, event.timestamp
        step.error = step.skipped_because = step.not_run_because = None
    elif event.event_type == "StepNotRun":
        step.status, step.finished_ns = NOT_RUN, None
        step.not_run_because = metadata.get("rivers/reason")
    elif event.event_type == "StepFailure":
        step.finished_ns = event.timestamp
        step.skipped_because = metadata.get("rivers/skipped_because")
        step.status = SKIPPED if step.skipped_because is not None else FAILURE
        step.error = metadata.get("error")


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def step_table(report: RunReport) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the per-step table: step, status, duration, detail."""
    rows: list[list[object]] = [
        [step.key, step.status, format_duration(step.duration_s), step.detail] for step in report.steps
    ]
    return ["STEP", "STATUS", "DURATION", "DETAIL"], rows


def print_summary(console: Console, report: RunReport) -> None:
    """The step table (not in quiet mode) and the final ``Run <id>: ...`` line (``materialize``, ``resume``)."""
    from rivers.cli.table import format_table

    headers, rows = step_table(report)
    if rows:
        console.info()
        for line in format_table(headers, rows, align="llr"):
            console.info(line)
        console.info()
    outcome = report.outcome()
    coloured = console.status(report.status) + outcome[len(report.status) :]
    console.print(f"Run {report.run_id}: {coloured}")


def print_tracebacks(console: Console, storage: Storage, report: RunReport) -> None:
    """Write the traceback of every failed step of the run to stderr."""
    failed = set(report.keys(FAILURE))
    if not failed:
        return
    for log in storage.get_run_logs(report.run_id):
        if log.step_key in failed and log.stderr:
            console.error(f"--- traceback of {log.step_key} ---")
            console.error(log.stderr.rstrip())
