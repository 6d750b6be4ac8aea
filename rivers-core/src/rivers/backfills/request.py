"""``BackfillRequest``: what ``CodeRepository.backfill()`` was asked, as one value the backfill service takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from rivers.backfills.state import BackfillRecord
    from rivers.execution.executors import Executor
    from rivers.partitions.keys import PartitionKeyLike
    from rivers.partitions.ranges import PartitionKeyRange
    from rivers.partitions.strategy import BackfillStrategy

__all__ = ["BackfillRequest"]


@attrs.frozen(slots=True)
class BackfillRequest:
    """The arguments of one backfill (see :meth:`rivers.CodeRepository.backfill` for their meaning).

    ``executor`` is the one the runs use (the repository's default already
    applied). The service validates the values, not this record.
    """

    selection: Any = None  # what `materialize(selection=...)` takes: names, expressions, an AssetSelection
    partition_keys: Sequence[PartitionKeyLike] | None = None
    partition_range: PartitionKeyRange | None = None
    strategy: BackfillStrategy | None = None
    failure_policy: str = "continue"
    max_concurrency: int = 4
    tags: Sequence[tuple[str, str]] | None = None
    config: dict[str, Any] | None = None  # user config by asset
    block: bool = True
    dry_run: bool = False
    executor: Executor | str | None = None
    progress: Callable[[BackfillRecord], None] | None = None
