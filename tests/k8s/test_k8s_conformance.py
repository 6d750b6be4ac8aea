"""The Kubernetes executor passes the executor conformance kit against the API double and its kubelet."""

from __future__ import annotations

import pytest
from rivers.testing.executors import ExecutorConformance


class TestKubernetesConformance(ExecutorConformance):
    executor_name = "kubernetes"
    executor_config = {"max_concurrent_steps": 4}
    isolated_runner = True

    @pytest.fixture(autouse=True)
    def _on_the_double(self, cluster, monkeypatch):
        # the kubeconfig and image come from the environment, so the kit's subprocess controllers find them too
        monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
        monkeypatch.setenv("RIVERS_K8S_WORKER_IMAGE", "rivers-worker:test")
        yield cluster

    def test_a_step_starts_as_soon_as_its_own_inputs_are_done(self, kit_dir, monkeypatch):
        # The kit's version gives its slow step 1.5 s, less than two pod start-ups on a loaded machine
        # (asked of the kit: a knob for runners with start-up latency). Same check, with a 6 s slow step.
        import rivers as rs

        import k8s_pipelines as kp

        monkeypatch.setenv("SLEEPY_SECONDS", "6")
        repo = rs.CodeRepository(assets=[kp.sleepy, kp.raw, kp.doubled], default_executor=self.make_executor())
        repo.resolve(rs.Storage.embedded(str(kit_dir / "runs.db")))
        result = repo.materialize()
        ends = {e.asset_key: e.timestamp for e in repo.storage.get_events_for_run(result.run_id)
                if e.event_type == "StepSuccess"}
        assert ends["doubled"] < ends["sleepy"], "doubled waited for the unrelated sleepy"
