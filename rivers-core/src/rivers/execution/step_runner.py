"""Running one step: load inputs, call user code, write outputs, record events.

Every launcher runs step attempts through :func:`run_attempt`, in the
controller process, in a worker process or in a pod; launchers only differ in
where it runs and how outcomes come back. Whether and when a failed attempt
is retried is the scheduler's business (:mod:`rivers.execution.scheduler`).
"""

from __future__ import annotations

import functools
import inspect
import json
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Iterable

from rivers._ids import random_uuid4
from rivers.context import AssetExecutionContext, HookContext, InputContext, OutputContext
from rivers.definitions.results import DynamicOutput, Materialization, Observation, Output, StreamedResults
from rivers.definitions.self_dependency import SelfDependency
from rivers.exceptions import AssetOutputValidationError, ExecutionError
from rivers.execution.outcome import FAILURE, RETRY, SKIPPED, SUCCESS, StepOutcome, describe_error
from rivers.definitions.failures import FailureReason, classify_failure
from rivers.execution.partition_scope import NOT_LOADED, input_partition, step_partition
from rivers.execution.runtime import StepRuntime
from rivers.graph.model import GRAPH, GRAPH_TASK, MAPPED, MULTI, OBSERVE
from rivers.metadata import coerce_metadata, extract_data_version, serialize_metadata
from rivers.resources import build_config
from rivers.storage.records import StoredEvent, StoredLog, new_stored_event

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from typing import Protocol, TypeAlias

    from rivers.context import TaskExecutionContext
    from rivers.definitions.retry import RetryPolicy
    from rivers.execution.log_capture import StepLogCapture
    from rivers.execution.partition_requests import DynamicLookup
    from rivers.execution.runtime import OutputWrite
    from rivers.metadata import MetadataValue
    from rivers.partitions.context import PartitionContext
    from rivers.partitions.keys import PartitionKey
    from rivers.storage.base import Storage

    #: the context a step's function receives
    StepContext: TypeAlias = "AssetExecutionContext | TaskExecutionContext"

    class CoroutineLoop(Protocol):
        """Drives a run's coroutines (a :class:`~rivers.execution.coroutines.CoroutineRunner`, or the asyncio
        launcher's shared loop)."""

        def run(self, coroutine: Awaitable[Any], /) -> Any:
            """Await ``coroutine`` to its end; its result."""

        def close(self) -> None:
            """The run (or attempt) is done with the loop."""

_now = time.time_ns
_RUN_KEY: Any = object()  # RunState.event(): "the run's partition key"


class RunState:
    """Per-run facts every step reads: ids, partition, config, known data versions."""

    __slots__ = ("run_id", "partition", "config", "data_versions", "storage", "event_seq", "retry_default",
                 "loop", "log_capture", "self_persisted", "partition_cache", "partition_checked",
                 "event_prefix")

    def __init__(self, run_id: str, storage: Storage | None, config: dict[str, Any] | None,
                 retry_default: RetryPolicy | None, partition: PartitionKey | None = None) -> None:
        self.run_id = run_id
        #: event ids are ``<event_prefix><n>``; steps running concurrently get their own prefix
        self.event_prefix = f"{run_id}:"
        #: the run's PartitionKey (None: unpartitioned run); steps get contexts from execution.partition_scope
        self.partition = partition
        #: partition contexts of the run: ``(definition, context)`` by definition id, input contexts by
        #: ``("input", step key, parameter)`` (see execution.partition_scope)
        self.partition_cache: dict[int | tuple[str, str, str], Any] = {}
        #: whether the key was validated against every selected asset before the run (materialize, backfill)
        self.partition_checked = False
        self.config = config or {}
        self.data_versions: dict[str, str] = {}
        self.storage = storage
        #: events created so far (ids count on from it; a resumed run starts after its stored events)
        self.event_seq = 0
        self.retry_default = retry_default
        self.loop: CoroutineLoop | None = None  # a CoroutineRunner, created for the first async step
        # nodes that returned rs.Materialization in this run: they have no value to load
        self.self_persisted: set[str] = set()
        self.log_capture: StepLogCapture | None = None

    def event(self, event_type: str, asset_key: str | None, partition_key: PartitionKey | None = _RUN_KEY, *,
              metadata: list[tuple[str, str]] | None = None, data_version: str | None = None,
              code_version: str | None = None, input_data_versions: list[tuple[str, str]] | None = None,
              ) -> StoredEvent:
        """A new event of this run with a unique id.

        Step events carry the run's partition key; a Materialization passes
        its own key (``None`` for an unpartitioned node in a partitioned run).
        """
        self.event_seq += 1
        return new_stored_event((
            f"{self.event_prefix}{self.event_seq}", event_type, asset_key, self.run_id,
            self.partition if partition_key is _RUN_KEY else partition_key, _now(),
            [] if metadata is None else metadata, data_version, code_version,
            [] if input_data_versions is None else input_data_versions,
        ))

    def dynamic_partitions(self) -> DynamicLookup | None:
        """``name -> registered keys`` of dynamic partitions (``None`` where storage is not reachable)."""
        if self.storage is None:
            return None
        from rivers.execution.partition_requests import dynamic_lookup

        return dynamic_lookup(self.storage)

    def input_data_version(self, node: str) -> str | None:
        """The data version of ``node`` this run would read (cached per run)."""
        version = self.data_versions.get(node)
        if version is None:
            # storage is None only in a runner, whose requests bring the data version of every input
            event = self.storage.get_latest_materialization(node)  # type: ignore[union-attr]
            version = event.data_version if event is not None else ""
            self.data_versions[node] = version
        return version or None

    def run_coroutine(self, coroutine: Awaitable[Any]) -> Any:
        """Drive a coroutine to completion on the run's event loop."""
        if self.loop is None:
            from rivers.execution.coroutines import CoroutineRunner

            self.loop = CoroutineRunner()
        return self.loop.run(coroutine)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()
            self.loop = None


class PrefixedRunState(RunState):
    """A run state whose event ids carry their own prefix.

    Steps running concurrently (in workers or controller threads) each get
    one, sharing the run's data versions but never colliding on event ids.
    """

    __slots__ = ()

    @classmethod
    def derive(cls, base: RunState, prefix: str) -> PrefixedRunState:
        """A state sharing ``base``'s run facts and data versions, with its own event ids and loop."""
        state = cls.__new__(cls)
        for slot in RunState.__slots__:
            setattr(state, slot, getattr(base, slot, None))
        state.event_seq = 0
        state.loop = None
        state.event_prefix = prefix
        return state


def new_event_prefix(run_id: str) -> str:
    """A fresh event-id prefix for a step running concurrently with others."""
    return f"{run_id}:{random_uuid4()[:13]}:"


# ---------------------------------------------------------------- entry point
def retry_policy(runtime: StepRuntime, retry_default: RetryPolicy | None) -> RetryPolicy | None:
    """The policy of the step: its own, else the run's default (None: never retried)."""
    return runtime.retry if runtime.retry is not None else retry_default


def may_retry(runtime: StepRuntime, policy: RetryPolicy | None, attempt: int, error: BaseException,
              reason: FailureReason) -> bool:
    """Whether failed attempt number ``attempt`` (1-based) may be followed by another one.

    Generator multi-assets never retry: earlier yields may already be persisted.
    """
    return (policy is not None and attempt <= policy.max_retries and not runtime.is_generator_multi
            and policy.admits(error, reason))


def run_attempt(runtime: StepRuntime, run: RunState, selected: Iterable[str] | None = None,
                attempt: int = 1, announce: bool | None = None) -> StepOutcome:
    """Run attempt number ``attempt`` of ``runtime``; never raises for user errors.

    The first attempt records ``StepStart`` (``announce`` overrides that: a
    resumed run does not announce a step its crashed controller started). A failure the step's retry policy
    admits ends with status ``RETRY`` (the failed attempt's traceback in the
    logs, no failure event, no failure hooks): the scheduler decides when the
    next attempt runs. Any other failure is final: ``StepFailure`` and the
    failure hooks.
    """
    outcome = StepOutcome(runtime.key)
    started = time.perf_counter()
    selected_outputs = list(runtime.outputs) if selected is None else [n for n in runtime.outputs if n in selected]
    capture = run.log_capture
    if capture is not None:
        capture.begin(runtime.key)
    try:
        if attempt == 1 if announce is None else announce:
            outcome.events.append(run.event("StepStart", runtime.key))
        try:
            _attempt(runtime, run, selected_outputs, outcome)
        except Exception as error:  # noqa: BLE001 - user code may raise anything
            reason = classify_failure(error)
            if may_retry(runtime, retry_policy(runtime, run.retry_default), attempt, error, reason):
                outcome.status = RETRY
                outcome.error = error
                outcome.reason = reason
                outcome.logs.append(_attempt_log(runtime, run, attempt, error))
            else:
                record_failure(runtime, run, outcome, error, reason)
    finally:
        if capture is not None:
            outcome.logs.extend(capture.end(run))
    if outcome.status == SUCCESS:
        if outcome.failed_nodes:
            first_error = next(iter(outcome.failed_nodes.values()))
            record_failure(runtime, run, outcome, first_error, FailureReason.ERROR, whole_step=False)
        else:
            outcome.events.append(run.event("StepSuccess", runtime.key))
    outcome.duration_s = time.perf_counter() - started
    return outcome


def failed_outcome(runtime: StepRuntime, run: RunState, error: BaseException, reason: FailureReason | None = None,
                   announce: bool = True) -> StepOutcome:
    """The outcome of an attempt that failed before (or outside) its user code: final, never retried."""
    outcome = StepOutcome(runtime.key)
    if announce:
        outcome.events.append(run.event("StepStart", runtime.key))
    record_failure(runtime, run, outcome, error, reason or classify_failure(error))
    return outcome


def _attempt_log(runtime: StepRuntime, run: RunState, attempt: int, error: BaseException) -> StoredLog:
    """The traceback of a failed attempt that will be retried, kept with the run's logs."""
    return StoredLog(f"{run.run_id}:{runtime.key}:attempt-{attempt}", run.run_id, runtime.key, _now(),
                     stderr=f"attempt {attempt} failed:\n" + "".join(traceback.format_exception(error)))


def skip_step(runtime: StepRuntime, run: RunState, cause: str) -> StepOutcome:
    """Record a step that cannot run because ``cause`` (an upstream node) failed."""
    outcome = StepOutcome(runtime.key)
    outcome.status = SKIPPED
    error = ExecutionError("Skipped: upstream dependency failed")
    outcome.error = error
    outcome.events.append(run.event("StepFailure", runtime.key, metadata=[
        ("error", describe_error(error)),
        ("rivers/failure_reason", "error"),
        ("rivers/skipped_because", cause),
    ]))
    for name in runtime.node_names:
        outcome.failed_nodes[name] = error
    if runtime.kind == GRAPH:
        _run_failure_hooks(runtime, run, "Skipped: upstream dependency failed")
    return outcome


# --------------------------------------------------------------- one attempt
def _attempt(runtime: StepRuntime, run: RunState, selected: list[str], outcome: StepOutcome) -> None:
    outcome.failed_nodes.clear()
    if runtime.misplaced_context is not None:
        raise ExecutionError(f"Context must be the first parameter of '{runtime.key}'")
    if runtime.self_unannotated:
        raise ExecutionError(
            f"Asset '{runtime.key}': `self` parameter requires a `SelfDependency[T]` annotation"
        )
    kind = runtime.kind
    if kind == GRAPH:
        _run_graph_step(runtime, run, outcome)
        return
    if kind == MAPPED:
        _run_collect(runtime, run, outcome)
        return
    partition = step_partition(runtime, run) if run.partition is not None else None
    context = _make_context(runtime, run, selected, partition) if (runtime.context_param or kind == OBSERVE) \
        else None
    kwargs = _load_arguments(runtime, run, context, partition)
    if kind == OBSERVE:
        _run_observe(runtime, run, context, outcome)
        return
    result = runtime.fn(**kwargs)
    if runtime.is_async and inspect.isawaitable(result):
        result = run.run_coroutine(result)
    if kind == MULTI:
        _handle_multi(runtime, run, context, partition, result, selected, outcome)
    else:
        name = runtime.spec.outputs[0]
        _handle_single(runtime, run, context, partition, runtime.outputs[name], result, outcome)


def _make_context(runtime: StepRuntime, run: RunState, selected: list[str],
                  partition: PartitionContext | None) -> StepContext:
    config = None
    if runtime.config_type is not None:
        config = build_config(runtime.config_type, run.config.get(runtime.key), runtime.key)
    owner = runtime.owner
    if runtime.context_class is AssetExecutionContext:
        first = runtime.outputs[runtime.spec.outputs[0]].node if runtime.spec.outputs else None
        return AssetExecutionContext(
            runtime.key,
            tags=getattr(owner, "tags", None),
            kinds=getattr(owner, "kinds", None),
            group=getattr(owner, "group", None),
            code_version=getattr(owner, "code_version", None),
            asset_metadata=first.metadata if first is not None else None,
            partition=partition,
            is_multi_asset=runtime.kind == MULTI,
            output_selection=selected if runtime.kind == MULTI else None,
            config=config,
            run_id=run.run_id,
        )
    return runtime.context_class(runtime.key, tags=getattr(owner, "tags", None), partition=partition,
                                 config=config, run_id=run.run_id)


def _load_arguments(runtime: StepRuntime, run: RunState, context: StepContext | None,
                    partition: PartitionContext | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if runtime.context_param is not None:
        kwargs[runtime.context_param] = context
    key = runtime.key
    self_persisted = run.self_persisted
    for load in runtime.inputs:
        if self_persisted and load.upstream in self_persisted:
            raise ExecutionError(
                f"Asset '{key}' loads '{load.upstream}', but '{load.upstream}' returned rs.Materialization "
                "(it persisted its value itself), so there is no value to load. Either declare the edge with "
                f"deps=[rs.AssetDef.dep('{load.upstream}')] and drop the parameter, or return "
                "rs.Output(value) from the upstream asset"
            )
        upstream_partition = None if load.upstream_def is None and load.mapping is None else \
            input_partition(load, runtime, run, partition)
        if upstream_partition is NOT_LOADED:
            kwargs[load.param] = None
            continue
        value = load.handler.load_input(
            InputContext(load.upstream, key, load.metadata, upstream_partition, load.type_hint)
        )
        if load.element is not None:
            value = _mapped_element()(value, load.element)
        elif type(value) is StreamedResults:
            value = iter(value)
        kwargs[load.param] = value
    for param, value in runtime.resource_args:
        kwargs[param] = value
    if runtime.self_handler is not None:
        kwargs["self"] = SelfDependency(_load_self(runtime, partition))
    return kwargs


def _load_self(runtime: StepRuntime, partition: PartitionContext | None) -> Any:
    name = runtime.spec.outputs[0]
    write = runtime.outputs[name]
    try:
        return runtime.self_handler.load_input(  # type: ignore[union-attr]  # only called when it has one
            InputContext(name, name, write.metadata, partition, runtime.self_type)
        )
    except Exception:
        return None


# ------------------------------------------------------------------- outputs
def _handle_single(runtime: StepRuntime, run: RunState, context: StepContext | None,
                   partition: PartitionContext | None, write: OutputWrite, result: Any, outcome: StepOutcome) -> None:
    result_type = type(result)
    if result_type is Observation:
        _record_observation(run, write.name, context, result, outcome)
        return
    if result_type is Materialization:
        run.self_persisted.add(write.name)
        _record_materialization(runtime, run, write, context, partition, result, None, outcome, written=False)
        _run_success_hooks(runtime, run, write.name, None, context)
        return
    wrapper = None
    value = result
    if result_type is Output:
        wrapper = result
        value = result.value
    if type(value) is list and value:
        value = _unwrap_dynamic(runtime, value)
    checker = runtime.checker
    if checker is not None and not checker[0](value):
        raise AssetOutputValidationError(
            f"Asset '{runtime.key}' returned value of type '{type(value).__name__}' but expected '{checker[1]}'"
        )
    _record_materialization(runtime, run, write, context, partition, wrapper, value, outcome, written=True)
    if runtime.success_hooks:
        _run_success_hooks(runtime, run, write.name, value, context)


def _handle_multi(runtime: StepRuntime, run: RunState, context: StepContext | None,
                  partition: PartitionContext | None, result: Any, selected: list[str], outcome: StepOutcome) -> None:
    outputs = runtime.outputs
    if inspect.isgenerator(result) or inspect.isasyncgen(result):
        seen: set[str] = set()
        for item in _iterate(result, run):
            if not isinstance(item, (Output, Observation, Materialization)):
                raise ExecutionError(
                    f"Multi-asset '{runtime.key}': Generator multi-asset must yield Output(...), Observation(...), "
                    f"or Materialization(...), got {type(item).__name__}"
                )
            name = item.output_name
            if name is None:
                raise ExecutionError(
                    f"Multi-asset '{runtime.key}': yield in multi-asset must include output_name "
                    f"(one of {list(outputs)})"
                )
            if name not in outputs:
                raise ExecutionError(
                    f"Multi-asset '{runtime.key}' yielded unknown output '{name}'; outputs: {list(outputs)}"
                )
            seen.add(name)
            if name in selected:
                _handle_single(runtime, run, context, partition, outputs[name], item, outcome)
        for name in selected:
            if name not in seen:
                outcome.failed_nodes[name] = ExecutionError(
                    f"Multi-asset '{runtime.key}': Generator multi-asset did not yield output '{name}'"
                )
        return
    if not isinstance(result, dict):
        raise ExecutionError(
            f"Multi-asset '{runtime.key}' must return a dict of output name to value or yield Output(...) "
            f"objects, got {type(result).__name__}"
        )
    for name in selected:
        if name not in result:
            outcome.failed_nodes[name] = ExecutionError(
                f"Multi-asset '{runtime.key}' did not return output '{name}' (returned keys: {sorted(result)})"
            )
            continue
        _handle_single(runtime, run, context, partition, outputs[name], result[name], outcome)


def _iterate(result: Any, run: RunState) -> Iterable[Any]:
    if inspect.isasyncgen(result):
        while True:
            try:
                yield run.run_coroutine(result.__anext__())
            except StopAsyncIteration:
                return
    else:
        yield from result


def _record_materialization(runtime: StepRuntime, run: RunState, write: OutputWrite, context: StepContext | None,
                            partition: PartitionContext | None, wrapper: Output | Materialization | None, value: Any,
                            outcome: StepOutcome, *, written: bool) -> None:
    context_metadata = getattr(context, "output_metadata", None)
    metadata = dict(context_metadata) if context_metadata else {}
    if wrapper is not None and wrapper.metadata:
        metadata.update(coerce_metadata(wrapper.metadata))
    if partition is not None and (len(partition.keys) > 1 or getattr(context, "failed_partitions", None)):
        _record_partitioned(runtime, run, write, context, partition, wrapper, value, outcome, metadata, written)
        return
    handler_version = None
    if written:
        output_context = OutputContext(write.name, write.metadata, partition, runtime.return_type, run.run_id,
                                       metadata)
        write.handler.handle_output(output_context, value)
        metadata = output_context.output_metadata or {}
        handler_version = output_context.registered_data_version
    data_version = handler_version or (wrapper.data_version if wrapper is not None else None)
    if data_version is None and context is not None and getattr(context, "registered_data_version", None) is not None:
        data_version = context.drain_data_version()  # type: ignore[union-attr]  # (only an asset's context has one)
    if data_version is None:
        data_version = extract_data_version(metadata) if metadata else None
        if data_version is None:
            data_version = random_uuid4()
    _append_materialization(runtime, run, write, None if partition is None else partition.key, metadata,
                            data_version, outcome)


def _append_materialization(runtime: StepRuntime, run: RunState, write: OutputWrite, partition_key: PartitionKey | None,
                            metadata: dict[str, MetadataValue], data_version: str, outcome: StepOutcome) -> None:
    """The Materialization event of ``write`` (for one partition key, or unpartitioned)."""
    input_versions = [(load.upstream, run.input_data_version(load.upstream) or "") for load in runtime.inputs]
    outcome.events.append(run.event(
        "Materialization",
        write.name,
        partition_key,
        metadata=serialize_metadata(metadata),
        data_version=data_version,
        code_version=write.code_version,
        input_data_versions=input_versions,
    ))
    outcome.data_versions[write.name] = data_version
    run.data_versions[write.name] = data_version


def _record_partitioned(runtime: StepRuntime, run: RunState, write: OutputWrite, context: StepContext | None,
                        partition: PartitionContext, wrapper: Output | Materialization | None, value: Any,
                        outcome: StepOutcome, metadata: dict[str, MetadataValue], written: bool) -> None:
    """Materializations of a step covering several keys (a batched backfill step or a multi-valued key).

    A returned dict keyed by the step's partition keys (``PartitionKey`` or
    their ``str``) is written one key at a time, so that each key's value
    is stored under its own key; any other value is handed to the handler
    once with every key. Keys marked failed with
    ``context.mark_partition_failed`` get a ``PartitionFailure`` event and
    no value.
    """
    from rivers.partitions.context import PartitionContext

    failed = {str(key): error for key, error in (getattr(context, "failed_partitions", None) or ())}
    keys = [key for key in partition.keys if str(key) not in failed]
    per_key = _values_by_key(value, partition.keys) if written else None
    wrapper_version = wrapper.data_version if wrapper is not None else None
    shared_version = None
    if written and per_key is None and keys:  # one value for the keys that did not fail
        covered = partition if len(keys) == len(partition.keys) else PartitionContext(keys, partition.definition)
        metadata, shared_version = _write(runtime, run, write, covered, value, dict(metadata))
    for key in keys:
        key_metadata = dict(metadata)
        handler_version = shared_version
        if per_key is not None:
            if key not in per_key:
                continue  # the step returned no value for this key: nothing materialized
            single = PartitionContext([key], partition.definition)
            key_metadata, handler_version = _write(runtime, run, write, single, per_key[key], key_metadata)
        data_version = handler_version or wrapper_version or extract_data_version(key_metadata) or random_uuid4()
        _append_materialization(runtime, run, write, key, key_metadata, data_version, outcome)
    for key in partition.keys:
        error = failed.get(str(key))
        if error is not None:
            outcome.events.append(run.event("PartitionFailure", write.name, key, metadata=[("error", str(error))]))


def _write(runtime: StepRuntime, run: RunState, write: OutputWrite, partition: PartitionContext, value: Any,
           metadata: dict[str, MetadataValue]) -> tuple[dict[str, MetadataValue], str | None]:
    """Hand ``value`` to the write handler; the output metadata and the handler's data version."""
    output_context = OutputContext(write.name, write.metadata, partition, runtime.return_type, run.run_id, metadata)
    write.handler.handle_output(output_context, value)
    return output_context.output_metadata or {}, output_context.registered_data_version


def _values_by_key(value: Any, keys: list[PartitionKey]) -> dict[PartitionKey, Any] | None:
    """``{key: value}`` when ``value`` is a dict keyed by (some of) the partition keys, else ``None``."""
    from rivers.partitions.keys import PartitionKey

    if not isinstance(value, dict) or not value:
        return None
    by_text = {str(key): key for key in keys}
    result = {}
    for item_key, item in value.items():
        key = by_text.get(str(item_key)) if isinstance(item_key, (str, PartitionKey)) else None
        if key is None:
            return None
        result[key] = item
    return result


def _record_observation(run: RunState, name: str, context: StepContext | None, observation: Observation | None,
                        outcome: StepOutcome) -> None:
    collected = getattr(context, "output_metadata", None)
    metadata = dict(collected) if collected else {}
    data_version = None
    if observation is not None:
        if observation.metadata:
            metadata.update(coerce_metadata(observation.metadata))
        data_version = observation.data_version
    data_version = data_version or extract_data_version(metadata)
    outcome.events.append(run.event("Observation", name, metadata=serialize_metadata(metadata),
                                    data_version=data_version))


def _run_observe(runtime: StepRuntime, run: RunState, context: StepContext | None, outcome: StepOutcome) -> None:
    result = call_observe_function(runtime.fn, context)
    if inspect.isawaitable(result):
        result = run.run_coroutine(result)
    _record_observation(run, runtime.key, context, result if isinstance(result, Observation) else None, outcome)


def call_observe_function(fn: Callable[..., Any], context: object) -> Any:
    """Call an observe function with the context when it asks for one, else with nothing."""
    from rivers.definitions.signature import context_class_of, signature_of

    signature = signature_of(fn)
    wants_context = any(context_class_of(signature.annotations.get(n)) for n in signature.names) or (
        signature.context_name is not None
    )
    return fn(context) if wants_context else fn()


def _unwrap_dynamic(runtime: StepRuntime, value: list[Any]) -> list[Any]:
    """A list of ``DynamicOutput``: kept for a graph task (it may be mapped over), unwrapped for an asset."""
    dynamic = [type(item) is DynamicOutput for item in value]
    if not any(dynamic):
        return value
    from rivers.execution.fanout import check_not_mixed  # fan-out producers only

    check_not_mixed(dynamic, runtime.key)
    return value if runtime.kind == GRAPH_TASK else [item.value for item in value]


def _run_collect(runtime: StepRuntime, run: RunState, outcome: StepOutcome) -> None:
    """The collect step of a mapped task: the list of its instances' values (every instance is done)."""
    key = runtime.key
    partition = step_partition(runtime, run) if run.partition is not None else None
    values = [load.handler.load_input(InputContext(load.upstream, key, load.metadata, partition, None))
              for load in runtime.inputs]
    if runtime.spec.mapping is not None and runtime.spec.mapping.stream is not None:
        values = StreamedResults(values)
    write = runtime.outputs[key]
    _record_materialization(runtime, run, write, None, partition, None, values, outcome, written=True)


def _run_graph_step(runtime: StepRuntime, run: RunState, outcome: StepOutcome) -> None:
    if not runtime.inputs:
        return
    load = runtime.inputs[0]
    partition = step_partition(runtime, run) if run.partition is not None else None
    value = load.handler.load_input(InputContext(load.upstream, runtime.key, load.metadata, partition, None))
    write = runtime.outputs[runtime.key]
    _record_materialization(runtime, run, write, None, partition, None, value, outcome, written=True)
    _run_success_hooks(runtime, run, write.name, None, None)


# -------------------------------------------------------------------- hooks
def _hook_key(runtime: StepRuntime, run: RunState) -> PartitionKey | None:
    """The partition key a hook reports: the run's, for a partitioned step."""
    return run.partition if runtime.partitions_def is not None else None


def _hook_config(context: StepContext | None) -> Any:
    return getattr(context, "config", None)


def _run_success_hooks(runtime: StepRuntime, run: RunState, name: str, value: Any,
                       context: StepContext | None) -> None:
    for hook in runtime.success_hooks:
        _call_hook(hook, HookContext.create(asset_name=name, run_id=run.run_id, hook_type="success", output=value,
                                             metadata=runtime.outputs[name].metadata, config=_hook_config(context),
                                             partition_key=_hook_key(runtime, run)))


def _run_failure_hooks(runtime: StepRuntime, run: RunState, error: str) -> None:
    if not runtime.failure_hooks:
        return
    metadata = runtime.spec.metadata
    config = None
    if runtime.config_type is not None:
        try:
            config = build_config(runtime.config_type, run.config.get(runtime.key), runtime.key)
        except Exception:  # noqa: BLE001 - the config itself may be what failed the step
            config = None
    for hook in runtime.failure_hooks:
        _call_hook(hook, HookContext.create(asset_name=runtime.key, run_id=run.run_id, hook_type="failure",
                                             error=error, metadata=metadata, config=config,
                                             partition_key=_hook_key(runtime, run)))


def _call_hook(hook: Any, context: HookContext) -> None:
    import logging

    try:
        hook.func(context)
    except Exception:  # noqa: BLE001 - a hook never fails the step
        logging.getLogger("rivers.hooks").exception("hook '%s' failed for '%s'", hook.name, context.asset_name)


# ------------------------------------------------------------------ failure
def record_failure(runtime: StepRuntime, run: RunState, outcome: StepOutcome, error: BaseException,
                    reason: FailureReason, whole_step: bool = True) -> None:
    outcome.status = FAILURE
    outcome.error = error
    if whole_step:
        for name in runtime.node_names:
            outcome.failed_nodes.setdefault(name, error)
    described = describe_error(error)
    mro = json.dumps([f"{c.__module__}.{c.__qualname__}" for c in type(error).__mro__])
    outcome.events.append(run.event("StepFailure", runtime.key, metadata=[
        ("error", described),
        ("rivers/failure_reason", reason.value),
        ("rivers/exc_type", mro),
    ]))
    outcome.logs.append(StoredLog(f"{run.run_id}:{runtime.key}:traceback", run.run_id, runtime.key, _now(),
                                  stderr="".join(traceback.format_exception(error))))
    _run_failure_hooks(runtime, run, described)


@functools.cache
def _mapped_element() -> Callable[[Any, int], Any]:
    """:func:`rivers.execution.fanout.mapped_element`, imported by the first fan-out instance and kept (a run
    without fan-out never imports the module; an import statement per instance would cost about 0.5 us)."""
    from rivers.execution.fanout import mapped_element

    return mapped_element
