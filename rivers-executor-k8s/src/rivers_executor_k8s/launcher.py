"""The Kubernetes step launcher: one Job per step attempt, followed with one pod watch per run.

Threads: the scheduler's thread launches (building the Job) and receives
every outcome (through a pipe it watches, so run state is only touched
there); a small pool makes the API calls (create, delete, logs); the
:class:`~rivers_executor_k8s.watch.PodWatch` thread follows the run's pods;
a ticker fails pods unschedulable past ``unschedulable_timeout`` and
attempts in flight when the API server has been unreachable for
``api_timeout``.

A pod's outcome is the worker's JSON step report at the end of its log
(``python -m rivers.worker --format json``); a pod that ended without one
failed for a reason read from its status (:mod:`rivers_executor_k8s.failures`).

Bundles (``bundle=``, :mod:`rivers_executor_k8s.bundles`): launching the
first step of a chain creates one Job whose pod runs the whole chain (one
request per step; the worker stops at the first step that does not
succeed). When the pod ends, the first step's report is reported and the
other steps' reports are kept: the scheduler launches each of them when it is
ready, as usual, and that launch reports the kept outcome at once instead of
creating a Job. A step the pod did not run (the chain stopped before it), or
an attempt that is not the first, gets a Job of its own (running the rest of
its chain after it); a step that was running when the pod died fails with
the pod's reason (out of memory, eviction...), retried by its policy in its
own Job.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rivers.execution import wire
from rivers.execution.launcher import LaunchContext, LauncherCapabilities, StepAttempt, StepLauncher
from rivers.execution.plan import PlannedStep
from rivers.execution.process_launcher import encoded_runtime, outcome_of_report
from rivers.definitions.failures import FailureReason
from rivers.execution.step_runner import failed_outcome
from rivers.storage.records import StoredLog

from rivers_executor_k8s.api import ApiException, KubeApi, is_unavailable
from rivers_executor_k8s.bundles import plan_bundles
from rivers_executor_k8s.failures import PodFailure, deleted_failure, terminal_failure, unschedulable, waiting_failure
from rivers_executor_k8s.manifests import (
    ATTEMPT_LABEL,
    STEP_HASH_LABEL,
    job_body,
    owner_reference,
    parent_body,
    parent_name,
    run_selector,
    step_hash,
)
from rivers_executor_k8s.resources import attempt_compute, pod_resources
from rivers_executor_k8s.watch import PodWatch

_log = logging.getLogger("rivers.k8s")
_REPORT_START = '{"wire_version"'
_JOB_LABELS = ("batch.kubernetes.io/job-name", "job-name")
#: metadata on a step's final event: milliseconds its pod waited to run (scheduling, image pull)
PENDING_METADATA = "rivers/k8s/pending_ms"
TICK_S = 0.2


class _Tracked:
    """An attempt's Job and what the watch has seen of its pod."""

    __slots__ = ("attempt", "job", "created_ns", "running_ns", "unschedulable_since", "finished", "bundle")

    def __init__(self, attempt: StepAttempt, job: str, bundle: tuple[PlannedStep, ...] = ()) -> None:
        self.attempt = attempt
        self.job = job
        #: the steps the pod runs after this attempt's (a bundle)
        self.bundle = bundle
        self.created_ns = time.time_ns()
        self.running_ns = 0
        self.unschedulable_since: float | None = None
        self.finished = False


def split_log(log: str) -> tuple[list[tuple[str, wire.StepReport]], str]:
    """The worker's reports in a pod log, each with the log text before it; and the text after the last.

    One report per step the pod ran (several for a bundle), in order.
    """
    found: list[tuple[str, wire.StepReport]] = []
    decoder = json.JSONDecoder()
    start = position = 0
    while (at := log.find(_REPORT_START, position)) >= 0:
        try:
            data, end = decoder.raw_decode(log, at)
            report = wire.report_from_json(data)
        except (ValueError, KeyError, TypeError):
            position = at + 1
            continue
        found.append((log[start:at], report))
        start = position = end
    return found, log[start:]


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


class KubernetesLauncher(StepLauncher):
    """Runs each attempt as a Job of ``config`` (:class:`~rivers_executor_k8s.KubernetesExecutor`)."""

    name = "kubernetes"
    capabilities = LauncherCapabilities(process_local_values=False, needs_importable=True)

    def __init__(self, config: Any, api: KubeApi | None = None) -> None:
        self.config = config
        self.api = api
        self._lock = threading.Lock()
        self._tracked: dict[str, _Tracked] = {}
        self._pods: dict[str, dict[str, Any]] = {}
        self._live = 0
        self._reasons: dict[str, list[FailureReason]] = collections.defaultdict(list)
        self._attempt_offset: dict[str, int] = {}
        self._done: collections.deque[tuple[Any, ...]] = collections.deque()
        self._closed = False
        self._stopping = False
        self.parent: dict[str, Any] | None = None

    @property
    def kube(self) -> KubeApi:
        """The Kubernetes API of an open launcher (built by :meth:`open` unless one was given)."""
        api = self.api
        if api is None:
            raise RuntimeError(f"{type(self).__name__} is not open: call open() first")
        return api

    # ------------------------------------------------------------------ lifecycle
    def open(self, context: LaunchContext, expected: int = 0) -> None:
        super().open(context, expected)
        config = self.config
        self.image = config.image()
        if self.api is None:
            self.api = KubeApi(config)
        header = wire.RunHeader.of(context.state)
        header.environ, header.sys_path = {}, []  # never the controller's environment into a Job spec
        self._run_blob = header.to_bytes()
        self.selector = run_selector(context.run_id)
        #: step key -> the steps its pod runs after it: the rest of its chain (a step launched anew after its
        #: bundle's pod stopped before it, e.g. a retry, takes the rest of the chain along)
        self._bundles: dict[str, tuple[PlannedStep, ...]] = {}
        for head, members in plan_bundles(context.plan, config.bundle).items():
            chain = (context.plan.by_key[head], *members)
            for position, planned in enumerate(chain[:-1]):
                self._bundles[planned.key] = chain[position + 1:]
        #: outcomes a bundle's pod produced for steps not launched yet, by step key
        self._kept: dict[str, tuple[Any, ...]] = {}
        self.parent = self._retrying(lambda: self._ensure_parent(context.run_id), "create the run's parent object")
        self._owner = owner_reference(self.parent)
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        context.watch(self._read, self._drain)
        self._pool = ThreadPoolExecutor(max(2, min(8, config.max_concurrent_steps // 4)),
                                        thread_name_prefix="rivers-k8s-api")
        self.watch = PodWatch(self.api, self.selector, self._on_pod)
        self.watch.start()
        self._ticker = threading.Thread(target=self._tick, name="rivers-k8s-ticker", daemon=True)
        self._ticker.start()

    def _ensure_parent(self, run_id: str) -> dict[str, Any]:
        assert self.api is not None
        try:
            return self.api.create_config_map(parent_body(run_id, self.api.namespace))
        except ApiException as error:
            if error.status != 409:
                raise
            return self.api.read_config_map(parent_name(run_id))  # resumed run: the same parent

    def _retrying(self, call: Any, what: str) -> Any:
        deadline = time.monotonic() + self.config.api_timeout
        delay = 0.05
        while True:
            try:
                return call()
            except Exception as error:
                if not is_unavailable(error):
                    raise
                if time.monotonic() > deadline:
                    raise PodFailure("api_unavailable", f"could not {what}: the Kubernetes API server did not "
                                     f"answer for {self.config.api_timeout:g} s ({error})") from error
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def has_room(self) -> bool:
        return self._live < self.config.max_concurrent_steps

    def close(self) -> None:
        if self._closed or self.api is None:
            return
        self._closed = True
        watch = getattr(self, "watch", None)
        if watch is not None:
            watch.stop()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.parent is not None:
            from rivers_executor_k8s.cleanup import sweep

            try:
                sweep(self.api, self.context.run_id)
            except Exception as error:  # noqa: BLE001 - ttlSecondsAfterFinished is the last resort
                _log.warning("could not delete the Jobs of run %s: %s (rivers k8s cleanup %s)",
                             self.context.run_id, error, self.context.run_id)
            self.context.unwatch(self._read)
            os.close(self._read)
            os.close(self._write)
        self.api.close()

    # ------------------------------------------------------------------ launching
    def launch(self, attempt: StepAttempt) -> None:
        context = self.context
        planned = attempt.planned
        key = attempt.key
        with self._lock:
            kept = self._kept.pop(key, None)
        if kept is not None and attempt.attempt == 1 and attempt.announce:
            self._settle(attempt, kept)  # it ran in its bundle's pod already
            return
        try:
            request = self._request(attempt)
            fields = attempt_compute(self.config, planned, self._reasons.get(key, ()),
                                     context.state.retry_default, context.state.partition)
        except Exception as error:  # noqa: BLE001 - the step fails, the run goes on
            context.report(attempt, failed_outcome(planned.runtime, context.state, error, announce=attempt.announce))
            return
        bundle = self._bundle_of(attempt)
        number = attempt.attempt + self._attempt_offset.get(key, 0)
        asset = planned.runtime.node_names[0] if planned.runtime.node_names else key
        body = job_body(self.config, run_id=context.run_id, namespace=self.kube.namespace, step_key=key,
                        asset=asset, attempt=number, request=request,
                        resources=pod_resources(fields, self.config.gpu_resource), image=self.image,
                        owner=self._owner, bundle=[(member.key, blob) for member, blob in bundle])
        tracked = self._track(attempt, body["metadata"]["name"], tuple(member for member, _ in bundle))
        self._pool.submit(self._create, tracked, body)

    def _request(self, attempt: StepAttempt) -> bytes:
        _, blob = encoded_runtime(attempt.planned.runtime, 0)
        if isinstance(blob, Exception):
            raise blob
        return self.context.request(attempt, runtime_blob=blob, run_blob=self._run_blob)

    def _bundle_of(self, attempt: StepAttempt) -> list[tuple[PlannedStep, bytes]]:
        """The steps (and their first attempts' requests) the pod of ``attempt`` runs after it."""
        bundle = []
        for member in self._bundles.get(attempt.key, ()):
            try:
                bundle.append((member, self._request(StepAttempt(member, 1, True))))
            except Exception as error:  # noqa: BLE001 - it runs in a Job of its own, which reports the error
                _log.warning("step %s runs in a pod of its own, not after %s: %s", member.key, attempt.key, error)
                break
        return bundle

    def _track(self, attempt: StepAttempt, job: str, bundle: tuple[PlannedStep, ...] = ()) -> _Tracked:
        tracked = _Tracked(attempt, job, bundle)
        attempt.handle = tracked
        with self._lock:
            self._tracked[job] = tracked
            self._live += 1
        return tracked

    def _create(self, tracked: _Tracked, body: dict[str, Any]) -> None:
        try:
            self._retrying(lambda: self.kube.create_job(body), f"create Job {tracked.job}")
        except PodFailure as failure:
            self._fail(tracked, failure)
            return
        except ApiException as error:
            if error.status != 409:  # 409: the Job exists (a resumed run): follow it
                self._fail(tracked, PodFailure("rejected", f"the API server refused Job {tracked.job}: "
                                               f"{error.status} {error.reason}: {error.body}", FailureReason.ERROR))
                return
        except Exception as error:  # noqa: BLE001
            self._fail(tracked, PodFailure("rejected", f"could not create Job {tracked.job}: {error}",
                                           FailureReason.ERROR))
            return
        tracked.created_ns = time.time_ns()
        with self._lock:
            pod = self._pods.get(tracked.job)
        if pod is not None:
            self._update(tracked, pod)

    def adopt(self, attempt: StepAttempt) -> bool:
        """Follow the Job a crashed controller started for this step (the newest attempt's)."""
        try:
            jobs = self.kube.list_jobs(f"{self.selector},{STEP_HASH_LABEL}={step_hash(attempt.key)}")
        except Exception as error:  # noqa: BLE001 - launch anew; a 409 on create adopts then
            _log.warning("could not list the Jobs of step %s to adopt them: %s", attempt.key, error)
            return False
        if not jobs:
            return False
        newest = max(jobs, key=lambda job: int(job["metadata"]["labels"].get(ATTEMPT_LABEL, "0")))
        number = int(newest["metadata"]["labels"].get(ATTEMPT_LABEL, "0"))
        name = newest["metadata"]["name"]
        self.watch.synced.wait(self.config.api_timeout)
        with self._lock:
            pod = self._pods.get(name)
        status = newest.get("status") or {}
        if pod is None and (status.get("succeeded") or status.get("failed")):
            # finished, its pod gone: nothing to read; the next attempt gets a fresh name
            self._attempt_offset[attempt.key] = number
            return False
        tracked = self._track(attempt, name)
        if pod is not None:
            self._update(tracked, pod)
        return True

    def terminate(self, attempt: StepAttempt) -> None:
        tracked = attempt.handle
        if isinstance(tracked, _Tracked) and self._take(tracked):
            self._pool.submit(self._delete, tracked.job)

    def _delete(self, job: str) -> None:
        try:
            self.kube.delete_job(job)
        except Exception as error:  # noqa: BLE001 - swept with the run's parent at close
            _log.warning("could not delete Job %s: %s", job, error)

    # ------------------------------------------------------------------ following pods
    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        job = next((labels[name] for name in _JOB_LABELS if name in labels), None)
        if job is None:
            return
        with self._lock:
            if kind == "DELETED":
                self._pods.pop(job, None)
            else:
                self._pods[job] = pod
            tracked = self._tracked.get(job)
        if tracked is None or tracked.finished:
            return
        if kind == "DELETED":
            if self._take(tracked):
                self._pool.submit(self._deleted, tracked, pod["metadata"]["name"])
            return
        self._update(tracked, pod)

    def _take(self, tracked: _Tracked) -> bool:
        """Mark ``tracked`` finished; True for the one caller that did (it reports the outcome)."""
        with self._lock:
            if tracked.finished:
                return False
            tracked.finished = True
            self._live -= 1
            self._tracked.pop(tracked.job, None)
        return True

    def _update(self, tracked: _Tracked, pod: dict[str, Any]) -> None:
        status = pod.get("status") or {}
        phase = status.get("phase")
        name = pod["metadata"]["name"]
        if phase == "Pending":
            failure = waiting_failure(pod, name)
            if failure is not None:
                self._fail(tracked, failure)
                self._pool.submit(self._delete, tracked.job)
                return
            if unschedulable(pod) is not None:
                if tracked.unschedulable_since is None:
                    tracked.unschedulable_since = time.monotonic()
            return
        if phase == "Running":
            tracked.unschedulable_since = None
            if not tracked.running_ns:
                tracked.running_ns = time.time_ns()
            return
        if phase in ("Succeeded", "Failed") and self._take(tracked):
            self._pool.submit(self._collect, tracked, pod)

    def _collect(self, tracked: _Tracked, pod: dict[str, Any]) -> None:
        """A pod ended: read its log, report the worker's step report or why there is none."""
        name = pod["metadata"]["name"]
        try:
            log = self._retrying(lambda: self.kube.pod_log(name), f"read the log of pod {name}")
        except Exception as error:  # noqa: BLE001 - the status still says how the pod ended
            log = ""
            _log.warning("could not read the log of pod %s: %s", name, error)
        reports, rest = split_log(log)
        if tracked.bundle:
            self._keep(tracked, pod, reports, rest)  # before the first step's outcome: its dependants come next
        if not reports:
            self._push(("lost", tracked, terminal_failure(pod, name, _tail(rest, self.config.log_tail_lines))))
        else:
            text, report = reports[0]
            self._push(("report", tracked, report, text if len(reports) > 1 else text + rest))

    def _keep(self, tracked: _Tracked, pod: dict[str, Any], reports: list[tuple[str, wire.StepReport]],
              rest: str) -> None:
        """Keep the outcomes of the steps a bundle's pod ran after the first, for their launches."""
        name = pod["metadata"]["name"]
        kept: dict[str, tuple[Any, ...]] = {}
        if not reports:
            return  # the pod died in the first step: the others did not run
        for position, member in enumerate(tracked.bundle, start=1):
            if reports[position - 1][1].status != "success":
                break  # the chain stopped there: the next steps did not run
            if position < len(reports):
                text, report = reports[position]
                if report.key != member.key:
                    break
                kept[member.key] = ("report", tracked.job, report, text if position + 1 < len(reports) else text + rest)
            else:
                if pod.get("status", {}).get("phase") == "Failed":  # the pod died while running it
                    failure = terminal_failure(pod, name, _tail(rest, self.config.log_tail_lines))
                    kept[member.key] = ("lost", tracked.job, failure)
                break
        if kept:
            with self._lock:
                self._kept.update(kept)

    def _settle(self, attempt: StepAttempt, kept: tuple[Any, ...]) -> None:
        """Report the outcome a bundle's pod produced for ``attempt`` (on the scheduler's thread)."""
        tracked = _Tracked(attempt, kept[1])
        tracked.running_ns = tracked.created_ns  # it waited for no pod of its own
        if kept[0] == "lost":
            failure = kept[2]
            self._reasons[attempt.key].append(failure.reason)
            self.context.report_lost(attempt, failure, failure.reason)
        else:
            self._report(tracked, kept[2], kept[3], bundled=True)

    def _deleted(self, tracked: _Tracked, name: str) -> None:
        try:
            job = self.kube.read_job(tracked.job)
        except Exception:  # noqa: BLE001
            job = None
        self._push(("lost", tracked, deleted_failure(name, job)))

    def _fail(self, tracked: _Tracked, failure: PodFailure) -> None:
        if self._take(tracked):
            self._push(("lost", tracked, failure))

    def _tick(self) -> None:
        config = self.config
        while not self._closed:
            time.sleep(TICK_S)
            now = time.monotonic()
            with self._lock:
                tracked = list(self._tracked.values())
            outage = self.watch.outage_since
            for item in tracked:
                since = item.unschedulable_since
                if since is not None and now - since > config.unschedulable_timeout:
                    with self._lock:
                        pod = self._pods.get(item.job) or {}
                    self._fail(item, PodFailure("unschedulable", f"pod of Job {item.job} could not be scheduled "
                                                f"for {config.unschedulable_timeout:g} s: {unschedulable(pod)}"))
                    self._pool.submit(self._delete, item.job)
                elif outage is not None and now - outage > config.api_timeout:
                    self._fail(item, PodFailure("api_unavailable", f"the Kubernetes API server has not answered "
                                                f"for {config.api_timeout:g} s; the state of Job {item.job} "
                                                "is unknown"))

    # ------------------------------------------------------------------ outcomes (scheduler thread)
    def _push(self, item: tuple[Any, ...]) -> None:
        self._done.append(item)
        try:
            os.write(self._write, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full of wake-ups already, or closed at the end of the run

    def _drain(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        done = self._done
        while done:
            item = done.popleft()
            if item[0] == "lost":
                _, tracked, failure = item
                self._reasons[tracked.attempt.key].append(failure.reason)
                self.context.report_lost(tracked.attempt, failure, failure.reason)
            else:
                _, tracked, report, text = item
                self._report(tracked, report, text)

    def _report(self, tracked: _Tracked, report: wire.StepReport, text: str, *, bundled: bool = False) -> None:
        context = self.context
        attempt = tracked.attempt
        outcome = outcome_of_report(context, attempt, report)
        if report.status == "load_error":
            context.report(attempt, outcome)
            return
        if outcome.reason is not None:
            self._reasons[attempt.key].append(outcome.reason)
        end_ns = time.time_ns()
        started = tracked.running_ns or end_ns - int(report.duration_s * 1e9)
        pending_ms = max(0, (started - tracked.created_ns) // 1_000_000)
        for position in range(len(outcome.events) - 1, -1, -1):
            event = outcome.events[position]
            if event.event_type in ("StepSuccess", "StepFailure"):
                outcome.events[position] = event._replace(
                    metadata=[*event.metadata, (PENDING_METADATA, str(pending_ms))])
                break
        where = f"in the pod of Job {tracked.job} (bundle)" if bundled else f"Job {tracked.job}"
        summary = f"[kubernetes] {where}: pending {pending_ms / 1000:.3f} s, ran {report.duration_s:.3f} s\n"
        outcome.logs.append(StoredLog(str(uuid.uuid4()), context.run_id, attempt.key, end_ns,
                                      None, summary + text if text.strip() else summary, None))
        context.report(attempt, outcome)
