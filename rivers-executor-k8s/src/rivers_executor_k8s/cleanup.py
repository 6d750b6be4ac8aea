"""Deleting what a run left in the cluster: its parent object (cascading to every step Job) and a label sweep."""

from __future__ import annotations

from typing import Any

from rivers_executor_k8s.api import ApiException, KubeApi
from rivers_executor_k8s.manifests import parent_name, run_selector


def sweep(api: KubeApi, run_id: str) -> None:
    """Delete the run's parent ConfigMap (its Jobs and pods go with it) and any Job still labelled with the run.

    Idempotent: what is gone already is not an error.
    """
    try:
        api.delete_config_map(parent_name(run_id))
    except ApiException as error:
        if error.status != 404:
            raise
    api.delete_jobs(run_selector(run_id))


def cleanup_run(run_id: str, **config: Any) -> None:
    """``rivers k8s cleanup RUN_ID``: delete every Job and pod of a run (executor settings in ``config``)."""
    from rivers_executor_k8s.executor import KubernetesExecutor

    api = KubeApi(KubernetesExecutor(**config))
    try:
        sweep(api, run_id)
    finally:
        api.close()
