"""A test kubelet: runs the double's pods as local subprocesses and reports real status transitions.

For every new pod: Pending (scheduled, ContainerCreating) → Running → the
container's ``command`` runs as a subprocess (``python`` is this
interpreter; the environment is this process's plus the container's
``env``; ``envFrom``, volumes and resources are not applied) with stdout
and stderr as the pod log → Succeeded (exit 0) or Failed (``terminated``
with the exit code). A pod deleted while it runs has its process killed.

Faults, per test: ``kubelet.inject(fault, step=..., attempt=...)`` with
``fault`` one of ``oom`` (the process is killed, ``OOMKilled`` / 137),
``evict`` (killed, phase Failed, reason Evicted, DisruptionTarget),
``image_pull`` (stays Pending: ErrImagePull then ImagePullBackOff),
``unschedulable`` (stays Pending: PodScheduled False/Unschedulable),
``delete`` (the pod is deleted while it runs), ``exit`` (the process is
killed with SIGKILL: exit code 137, reason Error). The killing faults strike
at once, or with ``after_reports=N`` once the pod's log holds N step reports
(a bundle's pod dying in its N+1-th step).

``runner="pool"`` (for the bench) runs each pod's step request in a warm
process pool instead of a fresh ``python`` per pod (the same
``rivers.execution.step_host.run_request`` the worker command calls), so
the machine's CPU goes to the controller being measured, not to
interpreter start-up; faults need ``runner="subprocess"``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from k8s_double import ApiDouble, _now

STEP_LABEL = "rivers.io/step"
ATTEMPT_LABEL = "rivers.io/attempt"


class Kubelet:
    """Runs the pods of ``api`` (namespace ``namespace``) on this machine."""

    def __init__(self, api: ApiDouble, namespace: str = "rivers", *, fault_delay: float = 0.3,
                 runner: str = "subprocess", pool_size: int = 2) -> None:
        self.api = api
        self.runner = runner
        self._pool = None
        if runner == "pool":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn: forking this threaded process (HTTP server, watches) could copy a held lock
            self._pool = ProcessPoolExecutor(pool_size, mp_context=multiprocessing.get_context("spawn"))
        self.namespace = namespace
        self.faults: list[tuple[str, str | None, int | None, int]] = []
        self.fault_delay = fault_delay
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []
        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._stopped = False
        self._lock = threading.Lock()
        self._logdir = tempfile.mkdtemp(prefix="kubelet-")
        api.listeners.append(lambda event, pod: self._queue.put((event, pod)))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def inject(self, fault: str, step: str | None = None, attempt: int | None = None, after_reports: int = 0) -> None:
        self.faults.append((fault, step, attempt, after_reports))

    def stop(self) -> None:
        self._stopped = True
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        self._queue.put(("STOP", {}))
        with self._lock:
            for process in self.processes.values():
                if process.poll() is None:
                    process.kill()

    def _fault(self, pod: dict[str, Any]) -> tuple[str | None, int]:
        labels = pod["metadata"].get("labels") or {}
        for fault, step, attempt, after_reports in self.faults:
            if (step is None or labels.get(STEP_LABEL) == step) and \
                    (attempt is None or labels.get(ATTEMPT_LABEL) == str(attempt)):
                return fault, after_reports
        return None, 0

    def _run(self) -> None:
        while not self._stopped:
            event, pod = self._queue.get()
            if event == "ADDED":
                threading.Thread(target=self._run_pod, args=(pod,), daemon=True).start()
            elif event == "DELETED":
                with self._lock:
                    process = self.processes.get(pod["metadata"]["name"])
                if process is not None and process.poll() is None:
                    process.kill()

    def _status(self, name: str, status: dict[str, Any]) -> bool:
        return self.api.set_pod_status(self.namespace, name, status)

    def _run_pod(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        self.started.append(name)
        container = pod["spec"]["containers"][0]
        fault, after_reports = self._fault(pod)
        scheduled = {"type": "PodScheduled", "status": "True"}
        if fault == "unschedulable":
            self._status(name, {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory."}]})
            return
        waiting = {"name": container["name"], "image": container["image"], "ready": False, "restartCount": 0}
        if fault == "image_pull":
            for reason in ("ErrImagePull", "ImagePullBackOff"):
                time.sleep(self.fault_delay / 2)
                self._status(name, {"phase": "Pending", "conditions": [scheduled], "containerStatuses": [
                    {**waiting, "state": {"waiting": {"reason": reason,
                                                      "message": f'pull access denied for "{container["image"]}"'}}}]})
            return
        if not self._status(name, {"phase": "Pending", "conditions": [scheduled], "containerStatuses": [
                {**waiting, "state": {"waiting": {"reason": "ContainerCreating"}}}]}):
            return
        if self._pool is not None:
            self._run_in_pool(name, container, waiting, scheduled)
            return
        command = [sys.executable if part == "python" else part for part in container["command"]]
        command += container.get("args") or []
        env = dict(os.environ)
        env.update({item["name"]: item.get("value", "") for item in container.get("env") or ()})
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        log_path = os.path.join(self._logdir, name + ".log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       stdin=subprocess.DEVNULL)
        with self._lock:
            self.processes[name] = process
        started = _now()
        self._status(name, {"phase": "Running", "startTime": started, "conditions": [scheduled], "containerStatuses": [
            {**waiting, "ready": True, "state": {"running": {"startedAt": started}}}]})
        if fault in ("oom", "evict", "delete", "exit"):
            # killed at once (a worker this young has not run its step, let alone reported it), or once the
            # log holds after_reports step reports
            _kill_after(process, log_path, after_reports)
        code = process.wait()
        with open(log_path, encoding="utf-8", errors="replace") as file:
            self.api.logs[(self.namespace, name)] = file.read()
        if fault == "delete":
            self.api.delete("Pod", self.namespace, name)
            return
        terminated = {"exitCode": code if code >= 0 else 128 - code, "startedAt": started, "finishedAt": _now(),
                      "reason": "Completed" if code == 0 else "Error"}
        status: dict[str, Any] = {"phase": "Succeeded" if code == 0 else "Failed", "startTime": started,
                                  "conditions": [scheduled]}
        if fault == "oom":
            terminated.update(reason="OOMKilled", exitCode=137)
        if fault == "evict":
            status.update(reason="Evicted", message="The node was low on resource: memory.")
            status["conditions"] = [scheduled, {"type": "DisruptionTarget", "status": "True",
                                                "reason": "TerminationByKubelet"}]
        status["containerStatuses"] = [{**waiting, "state": {"terminated": terminated}}]
        self._status(name, status)

    def _run_in_pool(self, name: str, container: dict[str, Any], waiting: dict[str, Any],
                     scheduled: dict[str, Any]) -> None:
        command, env = container["command"], {item["name"]: item.get("value", "") for item in container["env"]}
        requests = [env[command[at + 1]] for at, part in enumerate(command) if part == "--request-env"]
        started = _now()
        self._status(name, {"phase": "Running", "startTime": started, "conditions": [scheduled], "containerStatuses": [
            {**waiting, "ready": True, "state": {"running": {"startedAt": started}}}]})
        assert self._pool is not None
        log = self._pool.submit(run_pool_request, requests).result()
        self.api.logs[(self.namespace, name)] = log
        terminated = {"exitCode": 0, "startedAt": started, "finishedAt": _now(), "reason": "Completed"}
        self._status(name, {"phase": "Succeeded", "startTime": started, "conditions": [scheduled],
                            "containerStatuses": [{**waiting, "state": {"terminated": terminated}}]})


def _kill_after(process: subprocess.Popen[bytes], log_path: str, reports: int) -> None:
    """SIGKILL ``process`` once its log holds ``reports`` step reports (at once for 0)."""
    while reports and process.poll() is None:
        with open(log_path, encoding="utf-8", errors="replace") as file:
            if file.read().count('{"wire_version"') >= reports:
                break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)


def run_pool_request(requests_b64: list[str]) -> str:
    """What ``python -m rivers.worker --request-env A [--request-env B ...] --format json`` prints, in a pool."""
    import base64
    import json

    from rivers.execution.step_host import run_chain, run_request
    from rivers.execution.wire import report_to_json

    requests = [base64.b64decode(item) for item in requests_b64]
    if len(requests) == 1:
        return json.dumps(report_to_json(run_request(requests[0])))
    return "".join(json.dumps(report_to_json(report)) + "\n" for report in run_chain(requests))
