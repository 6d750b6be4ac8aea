"""``CodeRepository``: the assets of a code location, and every way to run them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence, TypeVar, cast, overload

from rivers.exceptions import NodeNotFoundError
from rivers.jobs import MATERIALIZE_JOB, Job

if TYPE_CHECKING:
    from types import TracebackType

    from rivers.automation.schedules import Schedule, ScheduleTickResult
    from rivers.automation.sensors import Sensor, SensorTickResult
    from rivers.backfills.handle import BackfillHandle
    from rivers.backfills.results import BackfillResult, BackfillStatus
    from rivers.backfills.state import BackfillRecord
    from rivers.definitions.assets import Asset
    from rivers.definitions.retry import RetryPolicy
    from rivers.definitions.tasks import Task
    from rivers.execution.executors import Executor
    from rivers.execution.result import RunResult
    from rivers.graph.graph import AssetGraph
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.metadata import MetadataValue
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.keys import PartitionKeyLike
    from rivers.partitions.ranges import PartitionKeyRange
    from rivers.partitions.strategy import BackfillStrategy
    from rivers.repository_state import RepositoryDefinition, ResolvedRepository
    from rivers.runs.handle import RunHandle
    from rivers.runs.launcher import RunLauncher
    from rivers.runs.queue import RunQueueConfig
    from rivers.selection import SelectionLike
    from rivers.storage import Storage


_Trigger = TypeVar("_Trigger")


class CodeRepository:
    """Every asset, task, job and resource of a code location.

    The constructor only stores its arguments (and checks resources); the
    graph is built and validated by :meth:`validate`, :meth:`resolve` or the
    first method that needs it. Use it as a context manager to tear resources
    down at the end::

        with rs.CodeRepository(assets=[orders, revenue]) as repo:
            repo.materialize()
    """

    def __init__(
        self,
        assets: Sequence[Asset],
        tasks: Sequence[Task] | None = None,
        jobs: Sequence[Job] | None = None,
        schedules: Sequence[Schedule] | None = None,
        sensors: Sequence[Sensor] | None = None,
        default_executor: Executor | None = None,
        resources: dict[str, Any] | None = None,  # user objects (a Resource, an IO handler, any value)
        partition_defs: dict[str, PartitionsDefinition] | None = None,
        retries: dict[str, RetryPolicy] | None = None,
        default_retry_policy: RetryPolicy | str | None = None,
        run_queue: RunQueueConfig | None = None,
        run_backend: object = None,
        pool_limits: dict[str, int] | None = None,
        default_io_handler: BaseIOHandler | None = None,
    ) -> None:
        from rivers.resources import check_resource

        self._asset_defs = list(assets)
        self._task_defs = list(tasks or [])
        self._job_defs = list(jobs or [])
        self._schedules = _checked_triggers(schedules, "schedules")
        self._sensors = _checked_triggers(sensors, "sensors")
        self.default_executor = default_executor
        self._resources = dict(resources or {})
        for key, value in self._resources.items():
            check_resource(key, value)
        self._partition_defs = dict(partition_defs or {})
        self._retries = dict(retries or {})
        self._default_retry_policy = default_retry_policy
        self.run_queue = run_queue
        self.run_backend = run_backend
        self._pool_limits = dict(pool_limits or {})
        #: The IO handler of nodes without their own (``None``: values stay in memory); settable until resolved.
        self.default_io_handler = default_io_handler
        self._resolved: ResolvedRepository | None = None

    @property
    def definition(self) -> RepositoryDefinition:
        """What this repository was given (assets, tasks, jobs, automations, resources, ...), as one record."""
        from rivers.repository_state import RepositoryDefinition

        return RepositoryDefinition(
            assets=self._asset_defs, tasks=self._task_defs, jobs=self._job_defs, schedules=self._schedules,
            sensors=self._sensors, resources=self._resources, partition_defs=self._partition_defs,
            retries=self._retries, default_retry_policy=self._default_retry_policy, pool_limits=self._pool_limits,
            default_io_handler=self.default_io_handler, run_queue=self.run_queue,
        )

    # -------------------------------------------------------------- lifecycle
    def validate(self) -> None:
        """Build and check the graph and every job, without touching storage."""
        from rivers.repository_state import build_graph, check_jobs

        definition = self.definition
        check_jobs(definition, build_graph(definition))

    def resolve(self, storage: Storage | None = None) -> None:
        """Validate, bind storage, set resources up and register assets (idempotent)."""
        if self._resolved is not None:
            return
        from rivers.repository_state import ResolvedRepository

        state = ResolvedRepository.create(self.definition, storage)
        for job in state.jobs.values():
            job.bind(self._execute_job)
        self._resolved = state

    def _state(self) -> ResolvedRepository:
        resolved = self._resolved
        if resolved is None:
            self.resolve()
            resolved = self._resolved
            assert resolved is not None
        return resolved

    @property
    def resolved(self) -> ResolvedRepository:
        """The resolved state (graph, jobs, plans, run requests, launcher), resolving first if needed."""
        return self._state()

    @property
    def is_resolved(self) -> bool:
        """Whether :meth:`resolve` ran (storage bound, resources set up); nothing is resolved by asking."""
        return self._resolved is not None

    @property
    def graph(self) -> AssetGraph:
        """The validated asset graph of the resolved repository."""
        return self.resolved.graph

    def shutdown(self) -> None:
        """Tear down every Resource (errors are logged, not raised)."""
        import logging

        from rivers.resources import Resource

        for key, resource in self._resources.items():
            if isinstance(resource, Resource):
                try:
                    resource.teardown()
                except Exception:  # noqa: BLE001
                    logging.getLogger("rivers").exception("teardown of resource '%s' failed", key)

    def __enter__(self) -> CodeRepository:
        return self

    def __exit__(self, exc_type: type[BaseException] | None = None, exc_val: BaseException | None = None,
                 exc_tb: TracebackType | None = None) -> Literal[False]:
        self.shutdown()
        return False

    # ------------------------------------------------------------- properties
    @property
    def assets(self) -> dict[str, Asset]:
        """Asset objects by node name (multi-asset outputs map to their multi-asset)."""
        graph = self._state().graph
        # the owner of every node but a task's is its asset
        return cast("dict[str, Asset]", {name: node.owner for name, node in graph.nodes.items()
                                          if node.kind not in ("graph_task", "task")})

    @property
    def storage(self) -> Storage:
        """The storage the repository records runs in."""
        return self._state().storage

    @property
    def schedules(self) -> list[Schedule]:
        return list(self._schedules)

    @property
    def sensors(self) -> list[Sensor]:
        return list(self._sensors)

    @property
    def resources(self) -> dict[str, Any]:
        """The resources by key."""
        return dict(self._resources)

    # ---------------------------------------------------------------- lookups
    def get_job(self, name: str) -> Job:
        """The job called ``name`` (resolving the repository first)."""
        state = self._state()
        job = state.jobs.get(name)
        if job is None:
            raise NodeNotFoundError(f"Job '{name}' not found; jobs: {sorted(state.jobs)}")
        return job

    def get_schedule(self, name: str) -> Schedule:
        for schedule in self._schedules:
            if getattr(schedule, "name", None) == name:
                return schedule
        raise NodeNotFoundError(f"Schedule '{name}' not found")

    def get_sensor(self, name: str) -> Sensor:
        for sensor in self._sensors:
            if getattr(sensor, "name", None) == name:
                return sensor
        raise NodeNotFoundError(f"Sensor '{name}' not found")

    def evaluate_schedule(self, name: str, execution_time: str | None = None) -> ScheduleTickResult:
        """Evaluate schedule ``name`` once, as the daemon does, and return its ScheduleTickResult.

        ``execution_time`` is passed as ``scheduled_execution_time`` (default:
        now, as epoch seconds text). The repository is not resolved;
        resources are injected only once it is.
        """
        from rivers.automation.evaluation import evaluate_schedule

        return evaluate_schedule(self.get_schedule(name), self._resolved_resources(), execution_time)

    def evaluate_sensor(self, name: str, cursor: str | None = None,
                        last_tick_time: float | None = None) -> SensorTickResult:
        """Evaluate sensor ``name`` once with ``cursor`` and return its SensorTickResult."""
        from rivers.automation.evaluation import evaluate_sensor

        return evaluate_sensor(self.get_sensor(name), self._resolved_resources(), cursor, last_tick_time)

    def _resolved_resources(self) -> dict[str, Any]:
        return dict(self._resources) if self._resolved is not None else {}

    def io_handler_for_output(self, name: str) -> BaseIOHandler:
        """The handler that writes node ``name``."""
        state = self._state()
        if name not in state.graph.nodes:
            raise NodeNotFoundError(f"Node '{name}' not found in repository")
        return state.write_handler(name)

    def load_node(self, name: str, *, partition_key: PartitionKeyLike | None = None, type_hint: object = None) -> Any:
        """Load the stored value of node ``name`` through its handler."""
        from rivers.context import InputContext

        state = self._state()
        node = state.graph.nodes.get(name)
        if node is None:
            raise NodeNotFoundError(f"Node '{name}' not found in repository")
        partition = None if partition_key is None else state.partition_context(node, partition_key)
        context = InputContext(name, "__load_node__", node.metadata, partition, type_hint)
        return state.write_handler(name).load_input(context)

    # ------------------------------------------------------------------- runs
    @overload
    def materialize(
        self, selection: SelectionLike | None = None, partition_key: PartitionKeyLike | None = None,
        tags: list[tuple[str, str]] | None = None, raise_on_error: bool = True, config: dict[str, Any] | None = None,
        run_id_override: str | None = None, include_upstream: bool = False, resume: bool = False,
        retry: RetryPolicy | str | None = None, executor: Executor | None = None, block: Literal[True] = True,
    ) -> RunResult: ...

    @overload
    def materialize(
        self, selection: SelectionLike | None = None, partition_key: PartitionKeyLike | None = None,
        tags: list[tuple[str, str]] | None = None, raise_on_error: bool = True, config: dict[str, Any] | None = None,
        run_id_override: str | None = None, include_upstream: bool = False, resume: bool = False,
        retry: RetryPolicy | str | None = None, executor: Executor | None = None, *, block: Literal[False],
    ) -> RunHandle: ...

    @overload
    def materialize(
        self, selection: SelectionLike | None = None, partition_key: PartitionKeyLike | None = None,
        tags: list[tuple[str, str]] | None = None, raise_on_error: bool = True, config: dict[str, Any] | None = None,
        run_id_override: str | None = None, include_upstream: bool = False, resume: bool = False,
        retry: RetryPolicy | str | None = None, executor: Executor | None = None, block: bool = True,
    ) -> RunResult | RunHandle: ...

    def materialize(
        self,
        selection: SelectionLike | None = None,
        partition_key: PartitionKeyLike | None = None,
        tags: list[tuple[str, str]] | None = None,
        raise_on_error: bool = True,
        config: dict[str, Any] | None = None,
        run_id_override: str | None = None,
        include_upstream: bool = False,
        resume: bool = False,
        retry: RetryPolicy | str | None = None,
        executor: Executor | None = None,
        block: bool = True,
    ) -> RunResult | RunHandle:
        """Run the selected assets (all when ``selection`` is None) and return a RunResult.

        ``selection`` takes asset names and selection expressions
        (``"group:raw"``, ``"+revenue"``, ``"tag:etl - orders"``) or an
        :class:`~rivers.AssetSelection`. When a step fails, its dependants are
        skipped, independent branches still run, and with ``raise_on_error``
        the first failure's exception is raised once the run is recorded.
        ``block=False`` starts the run through the repository's
        :attr:`launcher` (queued under ``run_queue``) and returns a
        :class:`~rivers.runs.RunHandle` at once. Ctrl-C (SIGINT) or SIGTERM
        during a blocking run records it as canceled (resumable with
        ``resume=True``) and then raises :class:`~rivers.runs.RunInterrupted`
        / :class:`~rivers.runs.RunTerminated`.
        """
        state = self._state()
        plan, key = state.materialize_plan(selection, partition_key, include_upstream=include_upstream)
        request = state.run_request(
            plan, executor=executor or self.default_executor, partition_key=key, partition_checked=True, tags=tags,
            config=config, run_id=run_id_override, raise_on_error=raise_on_error, resume=resume, retry=retry,
        )
        return state.launch(request, block=block)

    @property
    def launcher(self) -> RunLauncher:
        """The :class:`~rivers.runs.RunLauncher` every run of this repository goes through."""
        return self._state().launcher

    def _execute_job(self, job: Job, *, partition_key: PartitionKeyLike | None, tags: list[tuple[str, str]] | None,
                     config: dict[str, Any] | None, raise_on_error: bool, block: bool = True) -> RunResult | RunHandle:
        from rivers.execution.partition_requests import coerce_key

        state = self._state()
        request = state.run_request(
            state.job_plan(job), executor=job.executor or self.default_executor,
            partition_key=coerce_key(partition_key), tags=tags, config=config, raise_on_error=raise_on_error,
            retry=job.retry, job_name=job.name,
        )
        return state.launch(request, block=block)

    def execute_run(self, run_id: str, partition_key: PartitionKeyLike | None = None,
                    config: dict[str, Any] | None = None, resume: bool = False,
                    raise_on_error: bool = True) -> RunResult:
        """Run (or, with ``resume=True``, resume) the plan recorded for the existing run ``run_id``.

        The run keeps its id, job and tags; ``partition_key`` defaults to the
        recorded one. This is what ``rivers resume RUN_ID`` calls. Returns the
        RunResult; with ``raise_on_error`` the first failure is raised.
        """
        state = self._state()
        record = state.storage.get_run(run_id)
        if record is None:
            raise NodeNotFoundError(f"Run '{run_id}' not found in storage")
        if record.job_name:
            plan = state.job_plan(self.get_job(record.job_name))
        else:
            plan = state.plan(MATERIALIZE_JOB, [n for n in record.node_names if n in state.graph.nodes],
                              allow_incomplete=True)
        if partition_key is None:
            partition_key = record.partition_key
        from rivers.execution.partition_requests import coerce_key

        request = state.run_request(
            plan, executor=self.default_executor, partition_key=coerce_key(partition_key), tags=record.tags,
            config=config, run_id=run_id, raise_on_error=raise_on_error, resume=resume, job_name=record.job_name,
        )
        return state.launcher.run(request)

    # -------------------------------------------------------------- backfills
    def backfill(
        self,
        selection: SelectionLike | None = None,
        partition_keys: Sequence[PartitionKeyLike] | None = None,
        partition_range: PartitionKeyRange | None = None,
        strategy: BackfillStrategy | None = None,
        failure_policy: str = "continue",
        max_concurrency: int = 4,
        tags: list[tuple[str, str]] | None = None,
        config: dict[str, Any] | None = None,
        block: bool = True,
        dry_run: bool = False,
        executor: Executor | None = None,
        progress: Callable[[BackfillRecord], None] | None = None,
    ) -> BackfillResult | BackfillHandle:
        """Materialize many partitions of ``selection`` (every asset when None) and return a BackfillResult.

        Give ``partition_keys`` (a list; wins when both are given) or a
        ``partition_range``. ``strategy`` groups keys into runs
        (:class:`~rivers.BackfillStrategy`; default: the assets' own
        ``backfill_strategy`` when they agree, else one run per key).
        ``failure_policy`` is ``"continue"`` or ``"stop_on_failure"`` (the
        remaining partitions are then canceled). Up to ``max_concurrency``
        runs go at once, each with the executor's own parallelism.
        ``block=False`` records the backfill (status ``"Requested"``) and
        returns a :class:`~rivers.backfills.BackfillHandle` at once: it reads
        like a ``BackfillResult`` (live from storage), ``wait(timeout)``,
        ``cancel()``, ``done()``, ``future``; the automation daemon
        (``rivers daemon`` / ``rivers dev``) executes it, or this process
        does after ``handle.start()``.
        ``dry_run=True`` plans without storing anything. ``progress`` is
        called with the backfill's record after every run (and its
        ``started(record)`` method, if it has one, once the backfill is
        stored, before any run). Progress and
        outcome are kept in storage: see :meth:`get_backfill`.
        """
        from rivers.backfills.service import BackfillRequest, start_backfill

        return start_backfill(self._state(), BackfillRequest(
            selection=selection, partition_keys=partition_keys, partition_range=partition_range, strategy=strategy,
            failure_policy=failure_policy, max_concurrency=max_concurrency, tags=tags, config=config, block=block,
            dry_run=dry_run, executor=executor or self.default_executor, progress=progress,
        ))

    def get_backfill(self, backfill_id: str) -> BackfillStatus | None:
        """The stored :class:`~rivers.BackfillStatus` of ``backfill_id``, or ``None``."""
        from rivers.backfills.state import load_backfill

        record = load_backfill(self._state().storage, backfill_id)
        return None if record is None else record.to_status()

    def get_backfills(self) -> list[BackfillStatus]:
        """Every stored backfill (:class:`~rivers.BackfillStatus`), oldest first."""
        from rivers.backfills.state import backfill_ids

        storage = self._state().storage
        statuses = [self.get_backfill(backfill_id) for backfill_id in backfill_ids(storage)]
        return [status for status in statuses if status is not None]

    def cancel_backfill(self, backfill_id: str) -> bool:
        """Stop a backfill from launching more runs.

        Returns ``True`` when the backfill runs in this process and was
        signalled, ``False`` after storing a cancel request that the process
        running it picks up before it launches its next run.
        """
        from rivers.backfills.service import cancel_backfill

        return cancel_backfill(self._state().storage, backfill_id)

    def rerun_backfill(self, backfill_id: str, block: bool = True, dry_run: bool = False,
                       progress: Callable[[BackfillRecord], None] | None = None) -> BackfillResult | BackfillHandle:
        """Start a new backfill over the failed and canceled partitions of ``backfill_id``.

        It reuses the original selection, strategy, failure policy and tags
        (plus ``("rivers/rerun_of", <id>)``); partitions that are no longer
        valid (e.g. deleted dynamic keys) are dropped with a warning.
        ``progress`` is called after every run, as for :meth:`backfill`;
        ``block=False`` returns a :class:`~rivers.backfills.BackfillHandle`, as there.
        """
        from rivers.backfills.service import rerun_backfill

        return rerun_backfill(self._state(), backfill_id, block=block, dry_run=dry_run,
                              executor=self.default_executor, progress=progress)

    def observe(self, asset_names: Sequence[str] | None = None) -> dict[str, dict[str, MetadataValue] | None]:
        """Run the observe function of every external asset (or of ``asset_names``)."""
        return self._state().observe(asset_names)

    def __repr__(self) -> str:
        return f"CodeRepository(assets={len(self._asset_defs)})"


# what the daemon reads from a schedule / a sensor: an object without these would never run
_TRIGGER_ATTRIBUTES = {"schedules": ("name", "cron_schedule", "evaluation_fn"), "sensors": ("name", "evaluation_fn")}


def _checked_triggers(items: Sequence[_Trigger] | None, kind: str) -> list[_Trigger]:
    """``schedules=`` / ``sensors=`` as a list, refusing anything that is not a schedule / sensor."""
    from rivers.exceptions import ScheduleDefinitionError, SensorDefinitionError

    error = ScheduleDefinitionError if kind == "schedules" else SensorDefinitionError
    if items is None:
        return []
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise error(f"CodeRepository({kind}=...) takes a list, got {type(items).__name__} {items!r}")
    needed = _TRIGGER_ATTRIBUTES[kind]
    for index, item in enumerate(items):
        missing = [name for name in needed if not hasattr(item, name)]
        if missing:
            noun = "Schedule" if kind == "schedules" else "Sensor"
            raise error(
                f"CodeRepository({kind}=[...]) item {index} is {type(item).__name__} {item!r}, not a {noun} "
                f"(it lacks {', '.join(missing)}); pass {noun} objects (rs.{noun}(...)) or leave them out"
            )
    return list(items)


__all__ = ["CodeRepository", "MATERIALIZE_JOB"]
