"""The wire protocol between a controller and whatever runs its steps (worker process, pod, remote worker).

Every message is a named, versioned record: encoded as the pickled tuple
``(WIRE_VERSION, record name, field values...)``. Two records travel:

* :class:`StepRequest` (controller → runner): which step to run (the step
  key, the selected outputs, the attempt number), the data versions of its
  inputs, the prefix for its event ids, and — unless the runner said it has
  them cached — the step's runtime (:mod:`rivers.execution.runtime_transport`)
  and the run's :class:`RunHeader` as bytes;
* :class:`StepReport` (runner → controller): the attempt's status, its
  events, captured logs, output data versions, errors (pickled when they
  survive a round trip, always with type name, message and traceback) and
  the runner's process id. :func:`report_to_json` gives the same record as
  JSON for runners in other languages or behind text-only channels.

A runner that receives a record of another version, and a controller that
receives one, fail with :class:`WireVersionError` naming both versions. The
pickling of functions is not part of this module: see
:mod:`rivers.execution.pickling`.
"""

from __future__ import annotations

import base64
import importlib
import os
import pickle
import sys
import traceback
from typing import TYPE_CHECKING, Any, ClassVar

from rivers.exceptions import ExecutionError
from rivers.execution.outcome import StepOutcome
from rivers.execution.pickling import PROTOCOL, dumps
from rivers.storage.records import StoredEvent, StoredLog

if TYPE_CHECKING:
    from typing import TypeVar

    from rivers.definitions.retry import RetryPolicy
    from rivers.execution.plan import PlannedStep
    from rivers.execution.step_runner import RunState
    from rivers.partitions.keys import PartitionKey

    _R = TypeVar("_R", bound="_Record")

#: Version of the records below. Bump it whenever a record's fields change.
WIRE_VERSION = 2


class WireVersionError(ExecutionError):
    """A record was written by a rivers speaking another wire protocol version."""


class _Record:
    """A named wire record: ``NAME`` plus the fields in ``__slots__`` order."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    NAME: ClassVar[str] = ""

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def encode(self) -> bytes:
        """``(WIRE_VERSION, NAME, *fields)`` pickled."""
        return pickle.dumps((WIRE_VERSION, self.NAME, *(getattr(self, n) for n in self.__slots__)), PROTOCOL)

    def __repr__(self) -> str:
        key = getattr(self, "key", None)
        return f"{type(self).__name__}(key={key!r})"


class RunHeader(_Record):
    """Facts of the run shared by all its steps, and the controller's process environment.

    Workers outlive runs, so each run tells them the controller's working
    directory, environment variables and ``sys.path``: relative paths of IO
    handlers and modules added to the path later resolve the same way there.
    """

    __slots__ = ("run_id", "config", "retry_default", "partition", "cwd", "environ", "sys_path")
    NAME = "run_header"

    # the fields, for type checkers only (no values: ``__slots__`` above makes them)
    run_id: str
    config: dict[str, Any]
    retry_default: RetryPolicy | None
    partition: PartitionKey | None
    cwd: str
    environ: dict[str, str]
    sys_path: list[str]

    @classmethod
    def of(cls, state: RunState) -> RunHeader:
        """The header of the run ``state`` belongs to, with this process's environment."""
        return cls(run_id=state.run_id, config=state.config, retry_default=state.retry_default,
                   partition=state.partition, cwd=os.getcwd(), environ=dict(os.environ), sys_path=list(sys.path))

    def apply(self) -> None:
        """Make this process's working directory, environment and path match the controller's."""
        if os.getcwd() != self.cwd and os.path.isdir(self.cwd):
            os.chdir(self.cwd)
        if os.environ != self.environ:
            for name in [name for name in os.environ if name not in self.environ]:
                del os.environ[name]
            os.environ.update(self.environ)
        if sys.path != self.sys_path:
            missing = [entry for entry in self.sys_path if entry not in sys.path]
            if missing:
                sys.path[:0] = missing
                importlib.invalidate_caches()

    def to_bytes(self) -> bytes:
        """The header pickled with :func:`rivers.execution.pickling.dumps` (its retry policy may hold functions)."""
        return dumps(tuple(getattr(self, n) for n in self.__slots__))

    @classmethod
    def from_bytes(cls, blob: bytes) -> RunHeader:
        return cls(**dict(zip(cls.__slots__, pickle.loads(blob))))


class StepRequest(_Record):
    """One attempt of one step, for a runner.

    ``attempt`` is 1-based; ``announce``: whether the runner records the
    step's ``StepStart`` (first attempts, unless a crashed controller's run
    already did).

    ``runtime`` / ``run`` are bytes, or None when the runner already cached
    the ones numbered ``runtime_token`` / ``run_token`` (0: not cacheable).
    """

    __slots__ = ("key", "selected", "attempt", "announce", "event_prefix", "data_versions", "self_persisted",
                 "runtime_token", "runtime", "run_token", "run")
    NAME = "step_request"

    # the fields, for type checkers only (no values: ``__slots__`` above makes them)
    key: str
    selected: frozenset[str] | None
    attempt: int
    announce: bool
    event_prefix: str
    data_versions: dict[str, str]
    self_persisted: list[str]
    runtime_token: int
    runtime: bytes | None
    run_token: int
    run: bytes | None


class StepReport(_Record):
    """What one attempt of a step produced.

    ``status``: ``success``, ``failure``, ``retry`` (failed, and its policy
    admits another attempt) or ``load_error`` (the request could not be
    decoded: ``error`` describes why). ``error`` and ``failed_nodes`` are
    indexes into ``errors`` (see :func:`error_info`).
    """

    __slots__ = ("key", "status", "events", "logs", "duration_s", "data_versions", "self_persisted", "error",
                 "failed_nodes", "errors", "reason", "pid")
    NAME = "step_outcome"

    # the fields, for type checkers only (no values: ``__slots__`` above makes them)
    key: str
    status: str
    events: list[StoredEvent]
    logs: list[StoredLog]
    duration_s: float
    data_versions: dict[str, str]
    self_persisted: list[str]
    error: int | None
    failed_nodes: dict[str, int]
    errors: list[dict[str, Any]]
    reason: str | None
    pid: int


def step_request(planned: PlannedStep, state: RunState, attempt: int = 1, announce: bool = True, *,
                 runtime_token: int = 0, runtime_blob: bytes | None = None, run_token: int = 0,
                 run_blob: bytes | None = None) -> StepRequest:
    """The request for one attempt of ``planned`` in the run of ``state``.

    Without tokens the runtime and run header are encoded into the request
    (self-contained, e.g. for ``python -m rivers.worker`` or a pod); with a
    token and a None blob the runner is expected to have it cached.
    """
    from rivers.execution.step_runner import new_event_prefix

    runtime = planned.runtime
    if runtime_blob is None and not runtime_token:
        from rivers.execution.runtime_transport import dumps_runtime

        runtime_blob = dumps_runtime(runtime)
    if run_blob is None and not run_token:
        run_blob = RunHeader.of(state).to_bytes()
    versions = {load.upstream: state.input_data_version(load.upstream) or "" for load in runtime.inputs}
    persisted = state.self_persisted
    return StepRequest(
        key=runtime.key, selected=planned.selected, attempt=attempt, announce=announce,
        event_prefix=new_event_prefix(state.run_id), data_versions=versions,
        self_persisted=[load.upstream for load in runtime.inputs if load.upstream in persisted] if persisted else [],
        runtime_token=runtime_token, runtime=runtime_blob, run_token=run_token, run=run_blob,
    )


_RECORDS: dict[str, type[_Record]] = {StepRequest.NAME: StepRequest, StepReport.NAME: StepReport}


def decode(data: bytes, expected: type[_R]) -> _R:
    """The record in ``data`` (a :class:`WireVersionError` names both versions when they differ)."""
    message = pickle.loads(data)
    if not isinstance(message, tuple) or len(message) < 2:
        raise ExecutionError(f"not a rivers wire record (expected a {expected.NAME!r} record)")
    version, name = message[0], message[1]
    if version != WIRE_VERSION:
        raise WireVersionError(
            f"wire protocol version mismatch: this process speaks version {WIRE_VERSION}, the {expected.NAME} "
            f"record was written with version {version}. Install the same rivers version on the controller "
            "and the workers"
        )
    cls = _RECORDS.get(name)
    if cls is not expected:
        raise ExecutionError(f"expected a {expected.NAME!r} wire record, got {name!r}")
    record = cls.__new__(cls)
    for slot, value in zip(cls.__slots__, message[2:]):
        setattr(record, slot, value)
    return record


# --------------------------------------------------------------------------
# Errors as data
# --------------------------------------------------------------------------


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (attached as ``__cause__``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\"\"\"\n" + self.text.rstrip() + "\n\"\"\""


def error_info(error: BaseException) -> dict[str, Any]:
    """An exception as data: pickled when it survives a round trip, plus its description and traceback."""
    text = "".join(traceback.format_exception(error))
    blob: bytes | None
    try:
        blob = dumps(error)
        pickle.loads(blob)
    except Exception:  # noqa: BLE001 - unpicklable: the controller gets type name, message and traceback
        blob = None
    cls = type(error)
    return {
        "pickle": blob,
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "name": cls.__name__,
        "message": str(error),
        "traceback": text,
    }


def error_from_info(info: dict[str, Any]) -> BaseException:
    """The exception described by :func:`error_info`, with the remote traceback as its cause."""
    error: BaseException | None = None
    if info.get("pickle") is not None:
        try:
            error = pickle.loads(info["pickle"])
        except Exception:  # noqa: BLE001 - e.g. the exception's class does not import here
            error = None
    if not isinstance(error, BaseException):
        return ExecutionError(
            f"{info['name']}: {info['message']} (raised in a worker process; the exception could not be "
            f"pickled back, remote traceback follows)\n{info['traceback']}"
        )
    error.__cause__ = RemoteTraceback(info["traceback"])
    return error


# --------------------------------------------------------------------------
# Outcomes <-> reports
# --------------------------------------------------------------------------


def report_of(outcome: StepOutcome, self_persisted: list[str]) -> StepReport:
    """The report of an attempt's outcome, to send back to the controller."""
    errors: list[dict[str, Any]] = []
    seen: dict[int, int] = {}

    def index(error: BaseException) -> int:
        position = seen.get(id(error))
        if position is None:
            position = seen[id(error)] = len(errors)
            errors.append(error_info(error))
        return position

    return StepReport(
        key=outcome.key, status=outcome.status, events=outcome.events, logs=outcome.logs,
        duration_s=outcome.duration_s, data_versions=outcome.data_versions, self_persisted=self_persisted,
        error=None if outcome.error is None else index(outcome.error),
        failed_nodes={name: index(error) for name, error in outcome.failed_nodes.items()}, errors=errors,
        reason=None if outcome.reason is None else outcome.reason.value, pid=os.getpid(),
    )


def load_error_report(key: str, error: BaseException, duration_s: float = 0.0) -> StepReport:
    """The report of a request that could not be decoded or run at all."""
    return StepReport(key=key, status="load_error", events=[], logs=[], duration_s=duration_s, data_versions={},
                      self_persisted=[], error=0, failed_nodes={}, errors=[error_info(error)], reason=None,
                      pid=os.getpid())


def outcome_of(report: StepReport) -> StepOutcome:
    """The :class:`StepOutcome` a report describes (``load_error`` reports: see :func:`report_error`)."""
    from rivers.definitions.failures import FailureReason

    outcome = StepOutcome(report.key)
    outcome.status = report.status
    outcome.events = list(report.events)
    outcome.logs = list(report.logs)
    outcome.duration_s = report.duration_s
    outcome.data_versions = dict(report.data_versions)
    errors = [error_from_info(info) for info in report.errors]
    if report.error is not None:
        outcome.error = errors[report.error]
    outcome.failed_nodes = {name: errors[i] for name, i in report.failed_nodes.items()}
    outcome.reason = None if report.reason is None else FailureReason(report.reason)
    return outcome


def report_error(report: StepReport) -> BaseException:
    """The error of a ``load_error`` report."""
    return error_from_info(report.errors[0])


# -- JSON form (for pods and other languages) -----------------------------------


def _b64(blob: bytes | None) -> str | None:
    return None if blob is None else base64.b64encode(blob).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def report_to_json(report: StepReport) -> dict[str, Any]:
    """A report as JSON-compatible data (``wire_version`` and ``record`` included; pickles base64-encoded)."""

    def event(e: StoredEvent) -> dict[str, Any]:
        data = e._asdict()
        if data["partition_key"] is not None:
            data["partition_key"] = {"pickle": _b64(pickle.dumps(data["partition_key"], PROTOCOL))}
        return data

    data: dict[str, Any] = {"wire_version": WIRE_VERSION, "record": report.NAME}
    for name in report.__slots__:
        data[name] = getattr(report, name)
    data["events"] = [event(e) for e in report.events]
    data["logs"] = [log._asdict() for log in report.logs]
    data["errors"] = [{**info, "pickle": _b64(info["pickle"])} for info in report.errors]
    return data


def report_from_json(data: dict[str, Any]) -> StepReport:
    """Undo :func:`report_to_json` (a :class:`WireVersionError` when its version differs)."""
    version = data.get("wire_version")
    if version != WIRE_VERSION:
        raise WireVersionError(
            f"wire protocol version mismatch: this process speaks version {WIRE_VERSION}, the step_outcome "
            f"record was written with version {version}. Install the same rivers version on the controller "
            "and the workers"
        )
    events = []
    for item in data["events"]:
        item = dict(item)
        partition = item.get("partition_key")
        if isinstance(partition, dict):
            item["partition_key"] = pickle.loads(_unb64(partition["pickle"]) or b"")
        item["metadata"] = [tuple(pair) for pair in item["metadata"]]
        item["input_data_versions"] = [tuple(pair) for pair in item["input_data_versions"]]
        events.append(StoredEvent(**item))
    fields = {name: data.get(name) for name in StepReport.__slots__}
    fields["events"] = events
    fields["logs"] = [StoredLog(**item) for item in data["logs"]]
    fields["errors"] = [{**info, "pickle": _unb64(info["pickle"])} for info in data["errors"]]
    return StepReport(**fields)


__all__ = [
    "WIRE_VERSION",
    "RemoteTraceback",
    "RunHeader",
    "StepReport",
    "StepRequest",
    "WireVersionError",
    "decode",
    "error_from_info",
    "error_info",
    "load_error_report",
    "outcome_of",
    "report_error",
    "report_from_json",
    "report_of",
    "report_to_json",
    "step_request",
]
