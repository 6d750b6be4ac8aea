"""Fixtures: the Kubernetes API double on 127.0.0.1, its test kubelet, a kubeconfig pointing at it."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from k8s_double import ApiDouble  # noqa: E402
from kubelet import Kubelet  # noqa: E402

NAMESPACE = "rivers"


@pytest.fixture(autouse=True)
def pipeline_values(tmp_path, monkeypatch):
    """The test's own values directory for ``k8s_pipelines`` (rebuilt with it), inherited by the pods."""
    import k8s_pipelines

    values = tmp_path / "values"
    monkeypatch.setenv(k8s_pipelines.VALUES_ENVIRONMENT, str(values))
    importlib.reload(k8s_pipelines)
    return values


@pytest.fixture(scope="session")
def api_double():
    double = ApiDouble()
    double.start()
    yield double
    double.stop()


@pytest.fixture()
def cluster(api_double, tmp_path):
    """A fresh kubelet on the shared double; faults and pods of one test stay in it."""
    api_double.outage = False
    kubelet = Kubelet(api_double, NAMESPACE)
    kubeconfig = api_double.kubeconfig(str(tmp_path / "kubeconfig"), NAMESPACE)
    yield Cluster(api_double, kubelet, kubeconfig)
    kubelet.stop()
    api_double.listeners.clear()
    api_double.outage = False


class Cluster:
    def __init__(self, api: ApiDouble, kubelet: Kubelet, kubeconfig: str) -> None:
        self.api = api
        self.kubelet = kubelet
        self.kubeconfig = kubeconfig

    def executor(self, **config):
        import rivers as rs

        config.setdefault("worker_image", "rivers-worker:test")
        config.setdefault("max_concurrent_steps", 4)
        return rs.Executor.kubernetes(kubeconfig=self.kubeconfig, **config)

    def jobs(self, run_id=None):
        from rivers_executor_k8s.manifests import run_selector

        return self.api.list("Job", NAMESPACE, run_selector(run_id) if run_id else None)
