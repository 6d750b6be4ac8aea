"""``rs.Executor.kubernetes(...)``: the executor configuration, checked when it is built."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import rivers as rs
from rivers.exceptions import ConfigurationError

if TYPE_CHECKING:
    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.launcher import StepLauncher
    from rivers.execution.scheduler import RunEnd
    from rivers_executor_k8s.cleanup import Leftover

#: environment variable giving the worker image when the configuration does not
IMAGE_ENVIRONMENT = "RIVERS_K8S_WORKER_IMAGE"
#: the command a pod runs: the rivers worker entry point, reading its request from the Job's env
WORKER_COMMAND = ("python", "-m", "rivers.worker")


def _positive(name: str, value: Any, *, allow_none: bool = False, number: type = int) -> Any:
    if value is None and allow_none:
        return None
    kinds = (int, float) if number is float else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        raise ConfigurationError(f"kubernetes executor: {name} must be a positive {number.__name__}, got {value!r}")
    return value


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"kubernetes executor: {name} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _names(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence) or not all(isinstance(item, str) and item for item in value):
        raise ConfigurationError(f"kubernetes executor: {name} must be a list of names, got {value!r}")
    return tuple(value)


def _dicts(name: str, value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or not all(isinstance(item, Mapping) for item in value):
        raise ConfigurationError(f"kubernetes executor: {name} must be a list of mappings, got {value!r}")
    return tuple(dict(item) for item in value)


class KubernetesExecutor(rs.Executor):
    """Runs every step attempt as one Kubernetes ``batch/v1`` Job (one pod, never restarted).

    ``worker_image``: the image the pods run (it must contain rivers, the
    pipeline's code and its IO handlers; default ``$RIVERS_K8S_WORKER_IMAGE``).
    ``max_concurrent_steps`` caps the pods alive at once. ``worker_cpu`` /
    ``worker_memory`` / ``worker_gpu`` are the default requests, refined per
    asset by ``compute=rs.Compute(...)`` or ``rivers/k8s/cpu`` /
    ``rivers/k8s/memory`` metadata, per partition by ``partition_resources``
    (``{asset_key: callable(partition_key) -> rs.Compute | dict}``) and at run
    time by ``step_resources`` (``{asset_key: rs.Compute | dict}``).
    ``unschedulable_timeout`` (s) fails a step whose pod cannot be scheduled;
    ``api_timeout`` (s) is how long the API server may be unreachable before
    the steps in flight fail as infrastructure failures.
    ``bundle``: ``True`` runs every linear chain of steps (each the only
    dependant of the one before, waiting for it alone) in one pod, so pod
    start-up is paid once per chain; or a list of chains of step keys
    (:mod:`rivers_executor_k8s.bundles`). Each step of a bundle still has its
    own events, outcome and retries; the pod gets the first step's resources.
    """

    plugin_name = "kubernetes"
    places_work = True

    def __init__(
        self,
        worker_image: str | None = None,
        *,
        max_concurrent_steps: int = 20,
        namespace: str | None = None,
        service_account: str | None = None,
        worker_cpu: str | None = None,
        worker_memory: str | None = None,
        worker_gpu: str | None = None,
        gpu_resource: str = "nvidia.com/gpu",
        env: Mapping[str, str] | None = None,
        env_from_secrets: Sequence[str] | None = None,
        env_from_config_maps: Sequence[str] | None = None,
        image_pull_policy: str | None = None,
        image_pull_secrets: Sequence[str] | None = None,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] | None = None,
        volumes: Sequence[Mapping[str, Any]] | None = None,
        volume_mounts: Sequence[Mapping[str, Any]] | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        partition_resources: Mapping[str, Callable[[Any], Any]] | None = None,
        step_resources: Mapping[str, Any] | None = None,
        active_deadline_seconds: int | None = None,
        ttl_seconds_after_finished: int = 3600,
        unschedulable_timeout: float = 300.0,
        api_timeout: float = 60.0,
        log_tail_lines: int = 50,
        worker_command: Sequence[str] = WORKER_COMMAND,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool | None = None,
        bundle: bool | Sequence[Sequence[str]] = False,
    ) -> None:
        from rivers.definitions.compute import Compute

        from rivers_executor_k8s.bundles import check_setting

        if worker_image is not None and (not isinstance(worker_image, str) or not worker_image.strip()):
            raise ConfigurationError(f"kubernetes executor: worker_image must be an image name, got {worker_image!r}")
        self.worker_image = worker_image
        self.max_concurrent_steps = _positive("max_concurrent_steps", max_concurrent_steps)
        if namespace is not None and not isinstance(namespace, str):
            raise ConfigurationError(f"kubernetes executor: namespace must be a string, got {namespace!r}")
        self.namespace = namespace
        self.service_account = service_account
        # checked as quantities now, not when a pod is refused
        self.default_compute = Compute(cpu=worker_cpu, memory=worker_memory, gpu=worker_gpu)
        self.gpu_resource = gpu_resource
        self.env = {str(k): str(v) for k, v in _mapping("env", env).items()}
        self.env_from_secrets = _names("env_from_secrets", env_from_secrets)
        self.env_from_config_maps = _names("env_from_config_maps", env_from_config_maps)
        if image_pull_policy not in (None, "Always", "IfNotPresent", "Never"):
            raise ConfigurationError(
                f"kubernetes executor: image_pull_policy must be 'Always', 'IfNotPresent' or 'Never', "
                f"got {image_pull_policy!r}"
            )
        self.image_pull_policy = image_pull_policy
        self.image_pull_secrets = _names("image_pull_secrets", image_pull_secrets)
        self.node_selector = _mapping("node_selector", node_selector)
        self.tolerations = _dicts("tolerations", tolerations)
        self.volumes = _dicts("volumes", volumes)
        self.volume_mounts = _dicts("volume_mounts", volume_mounts)
        self.labels = _mapping("labels", labels)
        self.annotations = _mapping("annotations", annotations)
        self.partition_resources = _mapping("partition_resources", partition_resources)
        for key, function in self.partition_resources.items():
            if not callable(function):
                raise ConfigurationError(
                    f"kubernetes executor: partition_resources[{key!r}] must be a callable of the partition key"
                )
        self.step_resources = _mapping("step_resources", step_resources)
        self.active_deadline_seconds = _positive("active_deadline_seconds", active_deadline_seconds, allow_none=True)
        self.ttl_seconds_after_finished = _positive("ttl_seconds_after_finished", ttl_seconds_after_finished)
        self.unschedulable_timeout = _positive("unschedulable_timeout", unschedulable_timeout, number=float)
        self.api_timeout = _positive("api_timeout", api_timeout, number=float)
        self.log_tail_lines = _positive("log_tail_lines", log_tail_lines)
        self.worker_command = tuple(worker_command)
        self.kubeconfig = kubeconfig
        self.context = context
        self.in_cluster = in_cluster
        self.bundle = check_setting(bundle)

    def image(self) -> str:
        """The worker image (a :class:`ConfigurationError` when none is configured)."""
        image = self.worker_image or os.environ.get(IMAGE_ENVIRONMENT)
        if not image:
            raise ConfigurationError(
                "kubernetes executor: no worker image: pass rs.Executor.kubernetes(worker_image='...'), set "
                f"[executor] worker_image in rivers.toml, or set ${IMAGE_ENVIRONMENT}"
            )
        return image

    def launcher(self) -> StepLauncher:
        from rivers_executor_k8s.launcher import KubernetesLauncher

        return KubernetesLauncher(self)

    def execute(self, run: RunCoordinator) -> RunEnd:
        """Refuse in-memory values (before any pod starts), then run the scheduler with pods."""
        from rivers_executor_k8s.placement import refuse_process_local

        from rivers_executor_k8s.bundles import plan_bundles

        refuse_process_local(run.plan, self.plugin_name)
        plan_bundles(run.plan, self.bundle)  # a named chain the plan does not have fails before any pod
        self.image()
        return super().execute(run)

    def __repr__(self) -> str:
        return (f"Executor.kubernetes(worker_image={self.worker_image!r}, "
                f"max_concurrent_steps={self.max_concurrent_steps}, namespace={self.namespace!r})")


def cleanup_run(run_id: str | None = None, *, dry_run: bool = False, **config: Any) -> list[Leftover]:
    """``rivers k8s cleanup``: delete every ConfigMap, Job and pod of ``run_id`` (every run's, when ``None``).

    ``config`` holds executor settings (``namespace``, ``kubeconfig``,
    ``context``, ``in_cluster``). Returns what was deleted, or with
    ``dry_run`` what would be, without deleting anything.
    """
    from rivers_executor_k8s.api import KubeApi
    from rivers_executor_k8s.cleanup import delete_leftovers, find_leftovers

    api = KubeApi(KubernetesExecutor(**config))
    try:
        leftovers = find_leftovers(api, run_id)
        return leftovers if dry_run else delete_leftovers(api, leftovers)
    finally:
        api.close()
