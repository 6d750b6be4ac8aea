"""What a resolved repository knows: graph, handlers, storage, step runtimes.

:class:`ResolvedRepository` is created once by ``CodeRepository.resolve()``;
every run reuses its step runtimes, so starting a run costs no lookups.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, Sequence, cast

from rivers._record import Record
from rivers.exceptions import (
    AssetDefinitionError,
    AssetNotFoundError,
    ConfigurationError,
    ExecutionError,
    NodeNotFoundError,
)
from rivers.execution.partition_requests import check_run_key, load_partition
from rivers.execution.runtime import resource_io_handler
from rivers.graph import AssetGraph
from rivers.graph.partition_checks import resolve_partitions
from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.memory import InMemoryIOHandler
from rivers.jobs import MATERIALIZE_JOB, Job

if TYPE_CHECKING:
    from rivers.automation.schedules import Schedule
    from rivers.automation.sensors import Sensor
    from rivers.definitions.assets import Asset
    from rivers.definitions.retry import RetryPolicy
    from rivers.definitions.tasks import Task
    from rivers.execution.executors import Executor
    from rivers.execution.plan import ExecutionPlan
    from rivers.execution.result import RunResult
    from rivers.execution.runtime import StepRuntime
    from rivers.graph.model import Node
    from rivers.metadata import MetadataValue
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.context import PartitionContext
    from rivers.partitions.keys import PartitionKey, PartitionKeyLike
    from rivers.runs.handle import RunHandle
    from rivers.runs.launcher import RunLauncher, RunRequest
    from rivers.runs.queue import RunQueueConfig
    from rivers.selection import SelectionLike
    from rivers.storage import Storage
    from rivers.storage.records import LaunchedBy


class RepositoryDefinition(Record):
    """What a :class:`~rivers.CodeRepository` was given, as the resolved state reads it."""

    assets: list[Asset]
    tasks: list[Task]
    jobs: list[Job]
    schedules: list[Schedule]
    sensors: list[Sensor]
    resources: dict[str, Any]  # user objects: Resources, IO handlers, plain values
    partition_defs: dict[str, PartitionsDefinition]
    retries: dict[str, RetryPolicy]
    default_retry_policy: RetryPolicy | str | None
    pool_limits: dict[str, int]
    default_io_handler: BaseIOHandler | None
    run_queue: RunQueueConfig | None


def keeps_values_in_process(handler: BaseIOHandler) -> bool:
    """Whether ``handler`` keeps values in this process only (steps using it cannot run elsewhere)."""
    return isinstance(handler, InMemoryIOHandler)


def build_graph(repo: RepositoryDefinition) -> AssetGraph:
    """Build the repository's graph and check what needs no storage."""
    graph = AssetGraph.build(repo.assets, repo.tasks, repo.resources)
    resolve_partitions(graph, repo.partition_defs)
    for name, node in graph.nodes.items():
        if node.kind != "external":
            continue
        owner = cast("Asset", node.owner)  # an external node's owner is its ExternalAsset
        if owner.automation_condition is not None and owner.observe_fn is None:
            raise AssetDefinitionError(
                f"External asset '{name}' has an automation_condition but no observe function; "
                "decorate an observe function with @rs.Asset.external(io_handler=...)"
            )
    return graph


def check_jobs(repo: RepositoryDefinition, graph: AssetGraph) -> dict[str, Job]:
    """Validate every job (unique names, members exist, plan builds, partition definitions compatible)
    and the automations naming them."""
    from rivers.exceptions import GraphValidationError

    jobs: dict[str, Job] = {}
    for job in repo.jobs:
        if job.name in jobs:
            raise GraphValidationError(f"Duplicate job name: '{job.name}'")
        jobs[job.name] = job
        for member in job.selection():
            if isinstance(member, str) and member not in graph.nodes:
                raise NodeNotFoundError(f"Job '{job.name}': node '{member}' not found in repository")
        from rivers.execution.plan import check_upstreams
        from rivers.partitions.compatibility import check_job_partitions

        selected = select_nodes(graph, job.selection(), include_upstream=False)
        default_handler = repo.default_io_handler
        check_upstreams(
            job.name, graph, selected, allow_incomplete=job.allow_incomplete_deps,
            explicit_handler=lambda node: loadable_without_running(node, default_handler),
        )
        check_job_partitions(job.name, graph, selected)
    if repo.schedules or repo.sensors or _any_condition(repo.assets):
        from rivers.automation.validation import check_automations  # only what automates needs the module

        check_automations(repo.schedules, repo.sensors, jobs, graph)
    return jobs


def _any_condition(assets: Sequence[Asset]) -> bool:
    """Whether any of ``assets`` declares an automation condition (checked by ``check_automations``)."""
    for asset in assets:  # (a loop, not any(): it runs once per asset of every repository)
        if asset.automation_condition is not None:
            return True
    return False


def loadable_without_running(node: Node, default_handler: BaseIOHandler | None) -> bool:
    """Whether a node outside a plan can be loaded: it has its own handler, or the default persists.

    The shared in-memory default does not count: its values exist only in
    the process (and run) that produced them.
    """
    if node.explicit_handler:
        return True
    return default_handler is not None and not isinstance(default_handler, InMemoryIOHandler)


def select_nodes(graph: AssetGraph, selection: SelectionLike | None, *, include_upstream: bool) -> list[str] | None:
    """Node names a selection designates, in topological order (None: everything).

    Selecting a graph asset pulls in its internal tasks; externals without an
    observe function cannot be run.
    """
    if selection is None:
        return None
    from rivers.selection import normalize_selection

    normalized = normalize_selection(selection)
    names = normalized.resolve(graph) if normalized is not None else list(graph.names)
    if not names and _names_something(selection):
        raise AssetNotFoundError(_empty_selection_message(graph, selection))
    chosen = set(names)
    steps = graph.steps
    for name in names:
        node = graph.nodes[name]
        if node.kind == "external" and node.step_key not in steps:
            raise ExecutionError(f"Cannot materialize external asset without observe function: '{name}'")
        if node.kind == "graph":
            prefix = name + "/"
            chosen.update(n for n, other in graph.nodes.items() if other.kind == "graph_task" and n.startswith(prefix))
    if include_upstream:
        chosen = {n for n in graph.upstream_closure(chosen) if graph.nodes[n].step_key in steps}
    return [n for n in graph.names if n in chosen]


def _names_something(selection: SelectionLike) -> bool:
    """Whether a ``selection=`` argument asks for something (an empty list explicitly selects nothing)."""
    if isinstance(selection, (list, tuple, set, frozenset)):
        return bool(selection)
    return True


def _empty_selection_message(graph: AssetGraph, selection: SelectionLike) -> str:
    """``selection 'group:nope' matches no asset; groups: ...; tags: ...`` with a hint."""
    if isinstance(selection, str):
        text = repr(selection)
    elif isinstance(selection, (list, tuple)) and all(isinstance(item, str) for item in selection):
        text = repr(" ".join(selection)) if len(selection) == 1 else repr(list(selection))
    else:
        text = repr(selection)
    groups = sorted({node.group for node in graph.nodes.values() if node.group})
    tags = sorted({str(tag) for node in graph.nodes.values() for tag in (node.tags or [])})
    return (
        f"selection {text} matches no asset; groups: {', '.join(groups) or '(none)'}; "
        f"tags: {', '.join(tags) or '(none)'} (select e.g. 'group:<name>', 'tag:<tag>' or asset names)"
    )


class ResolvedRepository:
    """The resolved state of one :class:`CodeRepository`."""

    def __init__(self, repo: RepositoryDefinition, graph: AssetGraph, storage: Storage, jobs: dict[str, Job]) -> None:
        self.definition = repo
        self.graph = graph
        self.storage = storage
        self.jobs = jobs
        self.default_handler = repo.default_io_handler or InMemoryIOHandler()
        self._write_handlers: dict[str, BaseIOHandler] = {}
        self.runtimes: dict[str, StepRuntime] = {}
        self._plans: dict[tuple[str, tuple[str, ...] | None, bool], ExecutionPlan] = {}
        self._launcher: RunLauncher | None = None

    @classmethod
    def create(cls, repo: RepositoryDefinition, storage: Storage | None) -> ResolvedRepository:
        graph = build_graph(repo)
        jobs = check_jobs(repo, graph)
        if storage is None:
            from rivers.config import ProjectConfig

            storage = ProjectConfig.load().make_storage()
        state = cls(repo, graph, storage, jobs)
        state._warn_shadowed_resources()
        for handler_name in list(graph.nodes):
            state.write_handler(handler_name)
        state._setup_resources()
        state._build_runtimes()
        state._register_in_storage()
        return state

    # --------------------------------------------------------------- handlers
    def write_handler(self, name: str) -> BaseIOHandler:
        """The handler writing node ``name``: first explicit candidate, else the default."""
        handler = self._write_handlers.get(name)
        if handler is not None:
            return handler
        node = self.graph.nodes[name]
        handler = self.default_handler
        for candidate in node.handler_spec:
            if candidate is None:
                continue
            handler = resource_io_handler(self.definition.resources, candidate, f"Asset '{name}'") \
                if isinstance(candidate, str) else candidate
            break
        self._write_handlers[name] = handler
        return handler

    def explicit_handler(self, node: Node) -> bool:
        """Whether ``node`` can be loaded without running it in the same run."""
        return loadable_without_running(node, self.default_handler)

    # -------------------------------------------------------------- resolving
    def _warn_shadowed_resources(self) -> None:
        for key in self.definition.resources:
            if key in self.graph.nodes:
                warnings.warn(
                    f"Resource key '{key}' shadows an asset with the same name; parameters named '{key}' "
                    "receive the asset's value",
                    stacklevel=4,
                )

    def _setup_resources(self) -> None:
        from rivers.resources import Resource

        for resource in self.definition.resources.values():
            if isinstance(resource, Resource):
                resource.setup()

    def _retry_policy(self, value: RetryPolicy | str | None, owner: str) -> RetryPolicy | None:
        if not isinstance(value, str):
            return value
        registry = self.definition.retries
        if value not in registry:
            raise ConfigurationError(
                f"unknown retry policy '{value}' referenced by {owner}; registered: {sorted(registry)}"
            )
        return registry[value]

    def _build_runtimes(self) -> None:
        from rivers.execution.runtime import StepRuntime

        resources = self.definition.resources
        self.default_retry = self._retry_policy(self.definition.default_retry_policy, "default_retry_policy") \
            if isinstance(self.definition.default_retry_policy, str) else self.definition.default_retry_policy
        for key, spec in self.graph.steps.items():
            kind = "task" if spec.kind in ("task", "graph_task") else "asset"
            retry = self._retry_policy(spec.retry, f"{kind} '{key}'")
            self.runtimes[key] = StepRuntime(spec, self.graph.nodes, self.write_handler, resources, retry)
        for job in self.jobs.values():
            if isinstance(job.retry, str):
                self._retry_policy(job.retry, f"job '{job.name}'")

    def _register_in_storage(self) -> None:
        from rivers.storage.contract import check_backend
        from rivers.storage.records import AssetRecord

        check_backend(self.storage)
        record_of = AssetRecord.declared
        records = [
            record_of(name, list(node.tags or []), list(node.kinds), node.group, node.code_version, list(node.pool))
            for name, node in self.graph.nodes.items()
        ]
        self.storage.register_assets(records)
        self.storage.register_topology({name: list(self.graph.parents(name)) for name in self.graph.nodes})
        declared = {pool for node in self.graph.nodes.values() for pool, _ in node.pool}
        if declared or self.definition.pool_limits:
            from rivers.execution.pools import register_pools

            register_pools(self.storage, self.definition.pool_limits, declared)

    # -------------------------------------------------------------- selection
    def select(self, selection: SelectionLike | None, *, include_upstream: bool) -> list[str] | None:
        """Node names to run for a ``materialize(selection=...)`` argument (None: all)."""
        return select_nodes(self.graph, selection, include_upstream=include_upstream)

    def step_names(self, nodes: list[str] | None) -> list[str]:
        """``nodes`` (a selection), or every node that runs as a step when it is None (everything)."""
        if nodes is not None:
            return nodes
        return [name for name, node in self.graph.nodes.items() if node.step_key in self.runtimes]

    def check_partition_request(self, nodes: list[str] | None,
                                partition_key: PartitionKeyLike | None) -> PartitionKey | None:
        """Validate a run's key against the selected steps; return it as a PartitionKey (or None)."""
        return check_run_key(self.graph, self.step_names(nodes), partition_key, self.storage)

    def partition_context(self, node: Node, partition_key: PartitionKeyLike) -> PartitionContext:
        """The PartitionContext for loading ``node`` at ``partition_key`` (validated)."""
        return load_partition(node, partition_key, self.storage)

    # ------------------------------------------------------------------ plans
    def plan(self, name: str, nodes: list[str] | None, *, allow_incomplete: bool) -> ExecutionPlan:
        """The (cached) plan producing ``nodes`` (None: everything runnable)."""
        cache_key = (name, None if nodes is None else tuple(nodes), allow_incomplete)
        plan = self._plans.get(cache_key)
        if plan is None:
            from rivers.execution.plan import build_plan

            plan = build_plan(
                name, self.graph, self.runtimes, nodes, allow_incomplete=allow_incomplete,
                explicit_handler=self.explicit_handler,
                incomplete_hint=(
                    "; select it too, pass include_upstream=True, or give it an explicit io_handler so its "
                    "stored value can be loaded"
                ),
                process_local=keeps_values_in_process,
            )
            self._check_executor_overrides(plan)
            self._plans[cache_key] = plan
        return plan

    def materialize_plan(self, selection: SelectionLike | None, partition_key: PartitionKeyLike | None, *,
                         include_upstream: bool = False) -> tuple[ExecutionPlan, PartitionKey | None]:
        """The plan of ``materialize(selection, partition_key)`` and the run's key, checked against the selection."""
        nodes = self.select(selection, include_upstream=include_upstream)
        key = self.check_partition_request(nodes, partition_key)
        return self.plan(MATERIALIZE_JOB, nodes, allow_incomplete=True), key

    def job_plan(self, job: Job) -> ExecutionPlan:
        """The plan of a job (its members; graph members pull in their internals)."""
        nodes = self.select(job.selection(), include_upstream=False)
        return self.plan(job.name, nodes, allow_incomplete=job.allow_incomplete_deps)

    def _check_executor_overrides(self, plan: ExecutionPlan) -> None:
        for planned in plan.steps:
            metadata = planned.runtime.spec.metadata
            if not metadata:
                continue
            for key in ("rivers/executor", "rivers/node/executor"):
                value = metadata.get(key)
                if value is not None:
                    from rivers.execution.executors import check_executor_name

                    check_executor_name(value, key, planned.key)

    # ------------------------------------------------------------------- runs
    def run_request(
        self,
        plan: ExecutionPlan,
        *,
        executor: Executor | str | None = None,
        partition_key: PartitionKey | None = None,
        tags: Sequence[tuple[str, str]] | None = None,
        config: dict[str, Any] | None = None,
        run_id: str | None = None,
        raise_on_error: bool = True,
        resume: bool = False,
        retry: RetryPolicy | str | None = None,
        job_name: str | None = None,
        partition_checked: bool = False,
        launched_by: LaunchedBy | None = None,
    ) -> RunRequest:
        """The :class:`~rivers.runs.RunRequest` of a run of ``plan``: the one value the launcher and executor take.

        ``retry`` (a policy or the name of a registered one) is resolved to the
        run's retry default here; ``partition_key`` is a PartitionKey (or
        None) and ``partition_checked`` says it was validated against every
        selected asset already. Start it with :meth:`launch`.
        """
        retry_default = self._retry_policy(retry, f"job '{job_name}'" if job_name else "materialize(retry=...)") \
            if retry is not None else None
        return _run_request_type()(
            plan=plan, executor=executor, partition_key=partition_key, tags=list(tags or []), config=config,
            run_id=run_id, resume=resume, job_name=job_name, partition_checked=partition_checked,
            retry_default=retry_default if retry_default is not None else self.default_retry,
            launched_by=launched_by, raise_on_error=raise_on_error,
        )

    def launch(self, request: RunRequest, *, block: bool = True) -> RunResult | RunHandle:
        """Start ``request`` through the :attr:`launcher`.

        ``block=True`` runs it in this thread and returns its RunResult (raising
        its first failure when ``request.raise_on_error``); ``block=False``
        submits it (queued under ``run_queue``) and returns its RunHandle at once.
        """
        launcher = self.launcher
        return launcher.run(request) if block else launcher.submit(request)

    @property
    def launcher(self) -> RunLauncher:
        """The :class:`~rivers.runs.RunLauncher` of this repository's runs (created on first use)."""
        launcher = self._launcher
        if launcher is None:
            from rivers.runs import RunLauncher

            launcher = self._launcher = RunLauncher(self.storage, self.definition.run_queue)
        return launcher

    # ---------------------------------------------------------------- observe
    def observe(self, asset_names: Sequence[str] | None) -> dict[str, dict[str, MetadataValue] | None]:
        """Run observe functions directly and record Observation events (empty run id)."""
        import inspect
        import time

        from rivers.context import AssetExecutionContext
        from rivers.definitions.results import Observation
        from rivers.execution.step_runner import call_observe_function
        from rivers.metadata import coerce_metadata, extract_data_version, serialize_metadata
        from rivers.storage.records import StoredEvent

        wanted = None if asset_names is None else set(asset_names)
        results: dict[str, dict[str, MetadataValue] | None] = {}
        events = []
        for name, node in self.graph.nodes.items():
            if node.kind != "external":
                continue
            observe_fn = cast("Asset", node.owner).observe_fn  # an external node's owner is its ExternalAsset
            if observe_fn is None:
                continue
            if wanted is not None and name not in wanted:
                continue
            context = AssetExecutionContext(name, tags=node.tags, kinds=node.kinds, group=node.group,
                                            asset_metadata=node.metadata)
            try:
                returned = call_observe_function(observe_fn, context)
                if inspect.isawaitable(returned):
                    from rivers.execution.coroutines import run_coroutine

                    returned = run_coroutine(returned)
            except Exception as error:
                raise RuntimeError(f"observe failed for asset '{name}': {error}") from error
            metadata = dict(context.output_metadata or {})
            data_version = None
            if isinstance(returned, Observation):
                metadata.update(coerce_metadata(returned.metadata or {}))
                data_version = returned.data_version
            data_version = data_version or extract_data_version(metadata) or context.drain_data_version()
            events.append(StoredEvent(f"observe:{name}:{time.time_ns()}", "Observation", name, "", None,
                                      time.time_ns(), serialize_metadata(metadata), data_version))
            results[name] = metadata or None
        if events:
            self.storage.append_events(events)
        return results


@functools.cache
def _run_request_type() -> type[RunRequest]:
    """:class:`~rivers.runs.RunRequest`: the run engine loads with the first run, and is kept (an import
    statement would cost about 0.5 us on every run)."""
    from rivers.runs.launcher import RunRequest

    return RunRequest
