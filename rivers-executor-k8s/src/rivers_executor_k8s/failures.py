"""Why a step's pod failed, read from the pod's status: typed reasons for the retry policy."""

from __future__ import annotations

from typing import Any

from rivers.exceptions import ExecutionError
from rivers.definitions.failures import FailureReason

#: container waiting reasons that never resolve on their own
IMAGE_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
CONFIG_ERRORS = frozenset({"CreateContainerConfigError", "CreateContainerError"})


class PodFailure(ExecutionError):
    """A step's pod failed without a step report: ``kind`` says how, ``reason`` how to retry it.

    ``kind`` is one of ``exit_code``, ``oom_killed``, ``evicted``,
    ``image_pull``, ``container_config``, ``unschedulable``,
    ``deadline_exceeded``, ``pod_deleted``, ``api_unavailable``,
    ``no_report``. The message ends with the tail of the pod's log when
    there was one.
    """

    def __init__(self, kind: str, message: str, reason: FailureReason = FailureReason.INFRASTRUCTURE,
                 log_tail: str = "") -> None:
        text = message if not log_tail.strip() else f"{message}\n--- last lines of the pod log ---\n{log_tail}"
        super().__init__(text)
        self.kind = kind
        self.reason = reason
        self.log_tail = log_tail

    def __reduce__(self) -> Any:
        return (type(self), (self.kind, str(self).split("\n--- last lines")[0], self.reason, self.log_tail))


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("containerStatuses") or ()) + list(status.get("initContainerStatuses") or ())


def _condition(pod: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind:
            return condition
    return None


def waiting_failure(pod: dict[str, Any], name: str) -> PodFailure | None:
    """A pending pod that will never start: its image cannot be pulled or its container not created."""
    for status in _statuses(pod):
        waiting = (status.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in IMAGE_ERRORS:
            return PodFailure("image_pull", f"pod {name}: the worker image cannot be pulled ({reason}: "
                              f"{waiting.get('message') or status.get('image') or ''})")
        if reason in CONFIG_ERRORS:
            return PodFailure("container_config", f"pod {name}: the container cannot be created ({reason}: "
                              f"{waiting.get('message') or ''})")
    return None


def unschedulable(pod: dict[str, Any]) -> str | None:
    """The scheduler's message when the pod cannot be placed on any node (None: it can, or is placed)."""
    condition = _condition(pod, "PodScheduled")
    if condition and condition.get("status") == "False" and condition.get("reason") == "Unschedulable":
        return condition.get("message") or "Unschedulable"
    return None


def terminal_failure(pod: dict[str, Any], name: str, log_tail: str) -> PodFailure:
    """Why a pod that ended without a step report failed."""
    status = pod.get("status") or {}
    disruption = _condition(pod, "DisruptionTarget")
    if status.get("reason") == "Evicted" or (disruption and disruption.get("status") == "True"):
        why = status.get("message") or (disruption or {}).get("message") or (disruption or {}).get("reason") or ""
        return PodFailure("evicted", f"pod {name} was evicted or preempted: {why}".rstrip(": "),
                          log_tail=log_tail)
    if status.get("reason") == "DeadlineExceeded":
        return PodFailure("deadline_exceeded", f"pod {name} exceeded its active deadline: "
                          f"{status.get('message') or ''}".rstrip(": "), FailureReason.TIMEOUT, log_tail)
    for container in _statuses(pod):
        terminated = (container.get("state") or {}).get("terminated")
        if not terminated:
            continue
        if terminated.get("reason") == "OOMKilled":
            return PodFailure("oom_killed", f"pod {name} was killed for exceeding its memory limit (OOMKilled, "
                              f"exit code {terminated.get('exitCode')})", FailureReason.OUT_OF_MEMORY, log_tail)
        code = terminated.get("exitCode")
        if code not in (0, None):
            return PodFailure("exit_code", f"pod {name}: the worker exited with code {code} "
                              f"({terminated.get('reason') or 'Error'}) without reporting the step", log_tail=log_tail)
    return PodFailure("no_report", f"pod {name} ended ({status.get('phase')}) without a step report",
                      log_tail=log_tail)


def deleted_failure(name: str, job: dict[str, Any] | None) -> PodFailure:
    """A pod that disappeared before ending: its Job's deadline, or someone deleted it."""
    for condition in ((job or {}).get("status") or {}).get("conditions") or ():
        if condition.get("reason") == "DeadlineExceeded" and condition.get("status") == "True":
            return PodFailure("deadline_exceeded", f"pod {name} exceeded the Job's activeDeadlineSeconds: "
                              f"{condition.get('message') or ''}".rstrip(": "), FailureReason.TIMEOUT)
    return PodFailure("pod_deleted", f"pod {name} was deleted before its step ended")
