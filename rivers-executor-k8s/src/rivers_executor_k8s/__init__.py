"""rivers-executor-k8s: every step attempt of a rivers run as its own Kubernetes Job.

    import rivers as rs

    executor = rs.Executor.kubernetes(worker_image="registry.example/pipeline:1", max_concurrent_steps=20)
    rs.materialize([...], executor=executor)

See the distribution's README for the configuration, the RBAC it needs and
how failures are reported. Names are exported lazily (PEP 562): loading the
plugin does not import the ``kubernetes`` client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivers.lazy import lazy_exports

if TYPE_CHECKING:
    from rivers_executor_k8s.executor import cleanup_run
    from rivers_executor_k8s.executor import KubernetesExecutor
    from rivers_executor_k8s.failures import PodFailure

__version__ = "0.1.0"

__all__ = ["KubernetesExecutor", "PodFailure", "cleanup_run"]

_EXPORTS = {
    "KubernetesExecutor": "rivers_executor_k8s.executor",
    "PodFailure": "rivers_executor_k8s.failures",
    "cleanup_run": "rivers_executor_k8s.executor",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
