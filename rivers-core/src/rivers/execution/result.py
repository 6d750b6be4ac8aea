"""``RunResult``: what a finished run reports back."""

from __future__ import annotations


class RunResult:
    """Outcome of a run.

    ``materialized_assets`` lists every planned node (attempted, not only
    succeeded); ``failed_assets`` pairs each failed or skipped node with
    ``"<ExceptionClass>: <message>"``.
    """

    __slots__ = ("success", "run_id", "materialized_assets", "failed_assets", "_errors")

    def __init__(
        self,
        success: bool,
        run_id: str,
        materialized_assets: list[str],
        failed_assets: list[tuple[str, str]],
    ) -> None:
        self.success = success
        self.run_id = run_id
        self.materialized_assets = materialized_assets
        self.failed_assets = failed_assets

    def __repr__(self) -> str:
        return (
            f"RunResult(success={'true' if self.success else 'false'}, run_id={self.run_id!r}, "
            f"materialized={len(self.materialized_assets)}, failed={len(self.failed_assets)})"
        )
