"""Running a backfill's launches at most ``limit`` at a time, handing back each outcome as it finishes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TypeVar

__all__ = ["completions"]

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def completions(
    items: Iterable[Item],
    limit: int,
    keep_launching: Callable[[], bool],
    launch: Callable[[Item], Outcome] | None,
    submit: Callable[[Item], Future[Outcome]],
    abort: Callable[[list[Item]], None],
    settle: Callable[[list[tuple[Item, Outcome]]], None],
) -> Iterator[tuple[Item, Outcome]]:
    """Launch ``items``, at most ``limit`` at once, while ``keep_launching()`` says so.

    Yields ``(item, outcome)`` in the order the launches finish.
    ``keep_launching`` is asked before every launch, after the consumer has
    handled every outcome yielded so far, so a failure or a cancel it sees
    stops further launches; launches already running finish. With ``limit``
    1 and a ``launch``, every launch is ``launch(item)`` in the calling
    thread, one after another; otherwise ``submit(item)`` starts it
    elsewhere (the run launcher's threads, through its run queue) and
    returns the future of its outcome. If the
    consumer stops early (an exception such as Ctrl-C, or closing the
    iterator) while submitted launches run, ``abort`` gets their items (to
    ask them to stop) and they are waited for; then ``settle`` gets the
    ``(item, outcome)`` of each that returned (a launch may finish anyway),
    so that the caller can still record what happened.
    """
    pending = iter(items)
    if limit == 1 and launch is not None:
        while keep_launching():
            try:
                item = next(pending)
            except StopIteration:
                return
            yield item, launch(item)
        return
    running: dict[Future[Outcome], Item] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and len(running) < limit and keep_launching():
                try:
                    item = next(pending)
                except StopIteration:
                    exhausted = True
                else:
                    running[submit(item)] = item
            if not running:
                return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield running.pop(future), future.result()
    finally:
        if running:
            abort(list(running.values()))
            wait(running)
            returned = [(item, future.result()) for future, item in running.items()
                        if future.exception() is None]
            if returned:
                settle(returned)

