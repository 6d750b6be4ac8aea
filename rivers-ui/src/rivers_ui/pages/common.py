"""What several pages share: looking up an asset or a run (404 otherwise), reading a POST form, redirects."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from rivers_ui import html
from rivers_ui.context import UiError

if TYPE_CHECKING:
    from rivers.storage import RunRecord

    from rivers_ui.context import Ui
    from rivers_ui.model import AssetNode

__all__ = ["asset_node", "launched", "partition_key", "posted", "redirect", "run_record", "wait_for_run"]


def asset_node(ui: Ui, name: str) -> AssetNode:
    """The asset ``name``, or a 404 page naming it."""
    node = ui.view.nodes.get(name)
    if node is None:
        raise UiError(404, "Unknown asset", f"no asset named {name!r} in this repository "
                                            f"({len(ui.view.nodes)} assets; see the catalogue)")
    return node


def run_record(ui: Ui, run_id: str) -> RunRecord:
    """The run ``run_id``, or a 404 page naming it."""
    record = ui.storage.get_run(run_id)
    if record is None:
        raise UiError(404, "Unknown run", f"no run with id {run_id!r} in this storage")
    return record


def partition_key(ui: Ui, node: AssetNode, text: str | None) -> str | None:
    """``text`` checked as a partition key of ``node`` (400 for a key of no partition, or a missing one)."""
    text = (text or "").strip() or None
    if node.partitions_def is None:
        if text is not None:
            raise UiError(400, "Bad partition key", f"asset {node.name!r} is not partitioned; give no partition key")
        return None
    if text is None:
        return None
    if not node.partitions_def.validate_partition_key(text, dynamic_partitions=ui.storage.get_dynamic_partitions):
        keys = ui.view.partition_keys(node.name)
        sample = ", ".join(keys.display(i) for i in range(min(3, len(keys)))) if keys else ""
        raise UiError(400, "Bad partition key", f"{text!r} is not a partition key of asset {node.name!r}"
                                                + (f" (keys look like: {sample}, ...)" if sample else ""))
    return text


async def posted(ui: Ui, request: Request) -> Any:
    """The form of a POST, after the CSRF check."""
    form = await request.form()
    ui.check_csrf(form, request)
    return form


def redirect(path: str) -> RedirectResponse:
    """See other: where the browser goes after a POST."""
    return RedirectResponse(path, status_code=303)


def wait_for_run(ui: Ui, run_id: str, timeout: float = 10.0) -> None:
    """Return once run ``run_id`` is recorded (its page exists), or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while ui.storage.get_run(run_id) is None and time.monotonic() < deadline:
        time.sleep(0.005)


async def launched(ui: Ui, run_id: str) -> RedirectResponse:
    """The redirect to a run just submitted, once its record exists."""
    await run_in_threadpool(wait_for_run, ui, run_id)
    return redirect(html.url("runs", run_id))
