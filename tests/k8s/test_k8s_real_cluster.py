"""Opt-in: a small pipeline on a real cluster (KUBECONFIG and RIVERS_K8S_TEST_IMAGE set), else skipped.

The image must contain rivers, rivers-io-fs and this test tree importable as on the controller, and
RIVERS_K8S_TEST_VOLUME (a PersistentVolumeClaim name, ReadWriteMany) must be mounted at the same path
as the test's own ``values`` directory (tmp_path, see conftest.py); RIVERS_K8S_TEST_NAMESPACE
(default ``default``) is where the Jobs go.
"""

from __future__ import annotations

import os

import pytest
import rivers as rs

import k8s_pipelines as kp

needed = ("KUBECONFIG", "RIVERS_K8S_TEST_IMAGE", "RIVERS_K8S_TEST_VOLUME")
pytestmark = pytest.mark.skipif(not all(os.environ.get(name) for name in needed),
                                reason="no real cluster: set " + ", ".join(needed))


def test_a_diamond_on_a_real_cluster(tmp_path):
    values = str(tmp_path / "values")
    executor = rs.Executor.kubernetes(
        worker_image=os.environ["RIVERS_K8S_TEST_IMAGE"],
        namespace=os.environ.get("RIVERS_K8S_TEST_NAMESPACE", "default"),
        max_concurrent_steps=4, unschedulable_timeout=300.0,
        volumes=[{"name": "values", "persistentVolumeClaim": {"claimName": os.environ["RIVERS_K8S_TEST_VOLUME"]}}],
        volume_mounts=[{"name": "values", "mountPath": values}],
    )
    repo = rs.CodeRepository(assets=kp.DIAMOND, default_executor=executor)
    repo.resolve(rs.Storage.embedded(str(tmp_path / "runs.db")))
    result = repo.materialize()
    assert result.success and sorted(result.materialized_assets) == ["doubled", "raw", "total", "tripled"]
