"""Printing one line per finished step while a run executes (an observer plugin)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rivers.cli.formatting import format_duration, one_line
from rivers.plugins import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rivers.cli.console import Console
    from rivers.repository import CodeRepository
    from rivers.plugins.events import RunStarted, StepFinished

__all__ = ["ProgressPrinter", "printing_progress"]

#: Name of the observer while registered.
PLUGIN_NAME = "rivers.cli.progress"


class ProgressPrinter:
    """Writes ``[ 3/12] ✔ revenue   0.012s`` for every step of the first run it sees.

    :param console: Where lines go (nothing is written in quiet mode).
    :param step_keys: Maps the node names of the run to the keys of the steps
        that produce them, to number the lines and align the names.
    """

    def __init__(self, console: Console, step_keys: Callable[[Sequence[str]], Sequence[str]]) -> None:
        self.console = console
        self.step_keys = step_keys
        self.run_id: str | None = None
        self.total = 0
        self.width = 0
        self.done = 0

    @hookimpl
    def rivers_run_started(self, event: RunStarted) -> None:
        """Remember the run and how many steps it plans."""
        if self.run_id is not None:
            return
        keys = self.step_keys(event.node_names)
        self.run_id = event.run_id
        self.total = len(keys)
        self.width = max((len(key) for key in keys), default=0)

    @hookimpl
    def rivers_step_finished(self, event: StepFinished) -> None:
        """Print the step's line."""
        if event.run_id != self.run_id:
            return
        self.done += 1
        self.console.info(self.line(event))

    def line(self, event: StepFinished) -> str:
        """The progress line of a finished step."""
        digits = len(str(self.total))
        counter = f"[{self.done:>{digits}}/{self.total}]"
        name = event.step_key.ljust(self.width)
        if event.status == "skipped":
            detail = "skipped (upstream failed)"
        else:
            detail = format_duration(event.duration_s).rjust(7)
            if event.error:
                detail += "  " + one_line(event.error)
        return f"{counter} {self.console.symbol(event.status)} {name}  {detail}".rstrip()


@contextmanager
def printing_progress(printer: ProgressPrinter) -> Iterator[ProgressPrinter]:
    """Register ``printer`` as an observer plugin for the duration of the block."""
    import rivers.plugins

    rivers.plugins.register(printer, PLUGIN_NAME)
    try:
        yield printer
    finally:
        rivers.plugins.unregister(printer)


def step_keys_of(repository: CodeRepository) -> Callable[[Sequence[str]], list[str]]:
    """A function mapping a run's node names to the keys of the steps producing them."""
    graph = repository.resolved.graph

    def step_keys(node_names: Sequence[str]) -> list[str]:
        keys = (graph.nodes[name].step_key for name in node_names if name in graph.nodes)
        return [key for key in dict.fromkeys(keys) if key in graph.steps]

    return step_keys
