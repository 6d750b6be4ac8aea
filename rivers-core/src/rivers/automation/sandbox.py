"""Running one schedule or sensor evaluation under its ``eval_timeout``, in a thread or a worker process.

``EvalMode.Subprocess`` evaluates in a forked worker process that is killed
when the timeout passes; the other modes evaluate on a helper thread of the
daemon (a hanging in-process evaluation cannot be killed: the tick records
the timeout and the thread is abandoned). Either way the daemon's loop, its
lease renewal and the other automations go on.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from typing import Any, Callable

from rivers.automation.requests import EvalMode

__all__ = ["EvaluationTimeout", "run_evaluation"]


class EvaluationTimeout(Exception):
    """An evaluation did not finish within its ``eval_timeout``."""


def run_evaluation(call: Callable[[dict[str, Any]], Any], resources: dict[str, Any], mode: EvalMode,
                   timeout: float | None, name: str) -> Any:
    """``call(resources)`` (resources ``{}`` in a subprocess), raising EvaluationTimeout past ``timeout``."""
    if mode == EvalMode.Subprocess:
        return _in_subprocess(call, timeout, name)
    if timeout is None:
        return call(resources)
    return _on_thread(call, resources, timeout, name)


def _on_thread(call: Callable[[dict[str, Any]], Any], resources: dict[str, Any], timeout: float, name: str) -> Any:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call(resources)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            box["error"] = error

    thread = threading.Thread(target=target, name=f"rivers-eval-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise EvaluationTimeout(f"evaluation of '{name}' did not finish within eval_timeout={timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _child(call: Callable[[dict[str, Any]], Any], conn: Any) -> None:
    try:
        conn.send(("ok", call({})))
    except BaseException as error:  # noqa: BLE001 - reported to the daemon
        conn.send(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def _in_subprocess(call: Callable[[dict[str, Any]], Any], timeout: float | None, name: str) -> Any:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork") if "fork" in methods else multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(call, sender), name=f"rivers-eval-{name}", daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise EvaluationTimeout(
                f"evaluation of '{name}' did not finish within eval_timeout={timeout}s; its worker process "
                f"(pid {process.pid}) was killed"
            )
        kind, value = receiver.recv()
    except EOFError:
        raise RuntimeError(f"the worker process evaluating '{name}' died (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiver.close()
    if kind == "error":
        raise RuntimeError(f"evaluation of '{name}' failed in its worker process: {value}")
    return value
