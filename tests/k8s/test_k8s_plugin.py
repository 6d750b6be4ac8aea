"""The plugin: registration, configuration checks, resource chain, manifests, light entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
import rivers as rs
from rivers.exceptions import ConfigurationError, PluginNotFoundError

import k8s_pipelines as kp


def test_the_executor_resolves_through_the_plugin_under_both_names():
    from rivers_executor_k8s import KubernetesExecutor

    for executor in (rs.Executor.kubernetes(worker_image="img", max_concurrent_steps=3, namespace="jobs"),
                     rs.Executor.from_plugin("kubernetes", worker_image="img"),
                     rs.Executor.from_plugin("k8s", worker_image="img")):
        assert isinstance(executor, KubernetesExecutor)
        assert executor.places_work
    assert rs.Executor.kubernetes(worker_image="img", max_concurrent_steps=3).max_concurrent_steps == 3


def test_without_the_plugin_the_error_names_the_distribution(monkeypatch):
    script = ("import rivers as rs\n"
              "try:\n    rs.Executor.kubernetes(worker_image='x')\n"
              "except rs.exceptions.PluginNotFoundError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={"RIVERS_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""})
    assert "rivers-executor-k8s" in out.stdout


def test_loading_the_entry_point_does_not_import_the_kubernetes_client():
    script = ("import sys, rivers.plugins as p\n"
              "p.get_plugin_manager().names('executor')\n"
              "print('kubernetes' in sys.modules, 'rivers_executor_k8s.executor' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_building_the_rivers_parser_with_rivers_k8s_does_not_import_the_kubernetes_client():
    script = ("import sys\n"
              "from rivers.cli.app import build_parser\n"
              "parser = build_parser()\n"
              "print(parser.parse_args(['k8s', 'cleanup', '--dry-run']).action, 'kubernetes' in sys.modules,\n"
              "      'rivers_executor_k8s.executor' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["cleanup", "False", "False"]


def test_rivers_toml_and_per_asset_metadata_select_it(tmp_path):
    from rivers.config import ProjectConfig

    (tmp_path / "rivers.toml").write_text('[executor]\nname = "kubernetes"\nworker_image = "img"\n'
                                          'max_concurrent_steps = 7\n')
    executor = ProjectConfig.load(tmp_path).make_executor()
    assert executor.plugin_name == "kubernetes" and executor.max_concurrent_steps == 7
    from rivers.execution.executors import check_executor_name

    check_executor_name("kubernetes", "rivers/executor", "raw")
    check_executor_name("k8s", "rivers/executor", "raw")
    with pytest.raises(PluginNotFoundError, match="'raw'"):
        check_executor_name("kubernetess", "rivers/executor", "raw")


@pytest.mark.parametrize("config, match", [
    ({"max_concurrent_steps": 0}, "max_concurrent_steps"),
    ({"worker_memory": "lots"}, "not a Kubernetes quantity"),
    ({"image_pull_policy": "Sometimes"}, "image_pull_policy"),
    ({"partition_resources": {"raw": 3}}, "partition_resources"),
    ({"tolerations": ["x"]}, "tolerations"),
])
def test_bad_configuration_is_refused_when_built(config, match):
    with pytest.raises(ConfigurationError, match=match):
        rs.Executor.kubernetes(worker_image="img", **config)


def _planned(asset):
    repo = rs.CodeRepository(assets=[asset])
    repo.resolve(rs.Storage.embedded("plan.db"))
    state = repo.resolved
    plan = state.plan("materialize", state.select(None, include_upstream=False), allow_incomplete=True)
    return plan.steps[0]


def test_resources_follow_the_chain_default_asset_partition_override():
    from rivers_executor_k8s.resources import attempt_compute, pod_resources
    from rivers.definitions.failures import FailureReason

    planned = _planned(kp.hungry)
    executor = rs.Executor.kubernetes(worker_image="i", worker_cpu="100m", worker_memory="256Mi", worker_gpu="1")
    assert attempt_compute(executor, planned, (), None, None) == {"cpu": "250m", "memory": "1Gi", "gpu": "1"}
    assert attempt_compute(executor, planned, (FailureReason.OUT_OF_MEMORY,), None, None)["memory"] == "2Gi"
    executor = rs.Executor.kubernetes(worker_image="i", partition_resources={"hungry": lambda key: {"cpu": key}},
                                      step_resources={"hungry": rs.Compute(memory="3Gi")})
    assert attempt_compute(executor, planned, (), None, "2") == {"cpu": "2", "memory": "3Gi"}
    assert pod_resources({"cpu": "2", "memory": "3Gi", "gpu": "1"}, "nvidia.com/gpu") == {
        "requests": {"cpu": "2", "memory": "3Gi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "3Gi", "nvidia.com/gpu": "1"},
    }


def test_the_job_manifest():
    from rivers_executor_k8s.manifests import job_body, job_name

    executor = rs.Executor.kubernetes(
        worker_image="i", service_account="rivers-worker", env={"A": "1"}, env_from_secrets=["creds"],
        env_from_config_maps=["settings"], image_pull_policy="IfNotPresent", image_pull_secrets=["regcred"],
        node_selector={"pool": "batch"}, tolerations=[{"key": "batch", "operator": "Exists"}],
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        volume_mounts=[{"name": "data", "mountPath": "/data"}], active_deadline_seconds=600)
    body = job_body(executor, run_id="1234abcd-ef", namespace="ns", step_key="a/b.c", asset="a/b.c", attempt=2,
                    request=b"req", resources={}, image="i", owner=None)
    name = body["metadata"]["name"]
    assert name == job_name("1234abcd-ef", "a/b.c", 2) and len(name) <= 52 and name.endswith("-a2")
    spec = body["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 600 and spec["ttlSecondsAfterFinished"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "rivers-worker"
    assert pod["nodeSelector"] == {"pool": "batch"} and pod["imagePullSecrets"] == [{"name": "regcred"}]
    container = pod["containers"][0]
    assert container["command"][:3] == ["python", "-m", "rivers.worker"]
    assert {"name": "A", "value": "1"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "creds"}}, {"configMapRef": {"name": "settings"}}]
    labels = body["metadata"]["labels"]
    assert labels["rivers.io/run-id"] == "1234abcd-ef" and labels["rivers.io/attempt"] == "2"
    assert labels["rivers.io/step"] == "a_b.c" and body["metadata"]["annotations"]["rivers.io/step-key"] == "a/b.c"


def test_kubeconfig_from_the_environment_is_read_when_connecting_not_at_import(cluster, monkeypatch):
    import kubernetes  # noqa: F401 - imported before $KUBECONFIG is set, as in a long-lived process

    from rivers_executor_k8s.api import KubeApi

    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    api = KubeApi(rs.Executor.kubernetes(worker_image="img"))
    try:
        assert api.client.configuration.host == cluster.api.url
        assert api.namespace == "rivers"  # the kubeconfig context's namespace
    finally:
        api.close()
