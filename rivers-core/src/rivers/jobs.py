"""``Job``: a named, validated subset of a repository's graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from rivers.definitions.assets import Asset
from rivers.definitions.tasks import Task
from rivers.exceptions import ExecutionError, GraphValidationError

if TYPE_CHECKING:
    from rivers.definitions.retry import RetryPolicy
    from rivers.execution.executors import Executor
    from rivers.execution.result import RunResult
    from rivers.partitions.keys import PartitionKeyLike
    from rivers.runs import RunHandle
    from rivers.selection import AssetSelection

#: The job name of runs that are not a :class:`Job`'s: ``materialize()``, backfills, automation requests.
MATERIALIZE_JOB = "<materialize>"


class JobRunner(Protocol):
    """Runs a validated job: what ``CodeRepository.resolve()`` binds to each of its jobs."""

    def __call__(self, job: Job, *, partition_key: PartitionKeyLike | None, tags: list[tuple[str, str]] | None,
                 config: dict[str, Any] | None, raise_on_error: bool, block: bool) -> RunResult | RunHandle:
        """Run ``job``'s plan (``block=False``: submit it and return its handle)."""


class Job:
    """A named selection of assets and tasks with its own executor and retry default.

    ``assets`` may also contain :class:`~rivers.AssetSelection` objects
    (``rs.AssetSelection.groups("raw")``, ``rivers.selection.parse_selection("+orders")``).
    """

    def __init__(
        self,
        name: str,
        assets: list[Asset | Task | AssetSelection],
        executor: Executor | None = None,
        allow_incomplete_deps: bool = False,
        retry: RetryPolicy | str | None = None,
    ) -> None:
        from rivers.definitions.options import check_retry
        from rivers.selection import AssetSelection

        if not isinstance(name, str) or not name:
            raise GraphValidationError("Job name must be a non-empty str")
        for member in assets:
            if not isinstance(member, (Asset, Task, AssetSelection)):
                hint = (
                    f"; for a selection expression use rivers.selection.parse_selection({member!r})"
                    if isinstance(member, str) else ""
                )
                raise GraphValidationError(
                    f"Job assets must be Asset, Task, or BashTask instances (or AssetSelection objects); "
                    f"job '{name}' got {type(member).__name__}{hint}"
                )
        self.name = name
        self.assets = list(assets)
        self.executor = executor
        self.allow_incomplete_deps = allow_incomplete_deps
        self.retry = check_retry(retry)
        self._runner: JobRunner | None = None

    def selection(self) -> list[str | AssetSelection]:
        """The members as ``materialize(selection=...)`` takes them: node names and AssetSelection objects."""
        from rivers.definitions.assets import MultiAsset

        selection: list[str | AssetSelection] = []
        for member in self.assets:
            if isinstance(member, MultiAsset):
                selection.extend(output.name for output in member.output_defs)
            elif isinstance(member, (Asset, Task)):
                selection.append(member.name)
            else:
                selection.append(member)
        return selection

    def execute(
        self,
        partition_key: PartitionKeyLike | None = None,
        tags: list[tuple[str, str]] | None = None,
        config: dict[str, Any] | None = None,
        raise_on_error: bool = True,
        block: bool = True,
    ) -> RunResult | RunHandle:
        """Run the job's plan; the run record carries the job's name.

        ``block=False`` submits the run (see ``CodeRepository.materialize``)
        and returns its :class:`~rivers.runs.RunHandle`.
        """
        if self._runner is None:
            raise ExecutionError(
                f"Job has not been validated. Add job '{self.name}' to CodeRepository(jobs=[...]) and call "
                "repo.resolve() or use repo.get_job(name)"
            )
        return self._runner(self, partition_key=partition_key, tags=tags, config=config,
                            raise_on_error=raise_on_error, block=block)

    def bind(self, runner: JobRunner) -> None:
        """Attach what runs this job (``CodeRepository.resolve()`` binds its own runner)."""
        self._runner = runner

    def __repr__(self) -> str:
        return f"Job(name={self.name!r})"
