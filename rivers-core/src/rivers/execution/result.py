"""``RunResult``: what a finished run reports back."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rivers.partitions.keys import PartitionKey


class RunResult:
    """Outcome of a run.

    ``materialized_assets`` lists every planned node (attempted, not only
    succeeded); ``failed_assets`` pairs each failed or skipped node with
    ``"<ExceptionClass>: <message>"``.
    """

    __slots__ = ("_success", "_run_id", "_materialized_assets", "_failed_assets", "_failed_partitions")

    def __init__(
        self,
        success: bool,
        run_id: str,
        materialized_assets: list[str],
        failed_assets: list[tuple[str, str]],
        failed_partitions: list[tuple[str, PartitionKey, str]] | None = None,
    ) -> None:
        self._success = success
        self._run_id = run_id
        self._materialized_assets = materialized_assets
        self._failed_assets = failed_assets
        self._failed_partitions = failed_partitions or []

    @property
    def success(self) -> bool:
        """Whether every planned step succeeded."""
        return self._success

    @property
    def run_id(self) -> str:
        """The id of the run (look it up with ``storage.get_run``)."""
        return self._run_id

    @property
    def materialized_assets(self) -> list[str]:
        """Every planned node, attempted or not."""
        return list(self._materialized_assets)

    @property
    def failed_assets(self) -> list[tuple[str, str]]:
        """``(node, "<ExceptionClass>: <message>")`` for each failed or skipped node."""
        return list(self._failed_assets)

    @property
    def failed_partitions(self) -> list[tuple[str, PartitionKey, str]]:
        """``(node, PartitionKey, error)`` for each key a step marked failed with ``mark_partition_failed``."""
        return list(self._failed_partitions)

    def __repr__(self) -> str:
        return (
            f"RunResult(success={'true' if self.success else 'false'}, run_id={self.run_id!r}, "
            f"materialized={len(self._materialized_assets)}, failed={len(self._failed_assets)})"
        )
