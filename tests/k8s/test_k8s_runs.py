"""Real pipelines through the Kubernetes executor: the real client, the API double, pods as local processes."""

from __future__ import annotations

import rivers as rs
import pytest

import k8s_pipelines as kp


def repo_of(assets, executor):
    repo = rs.CodeRepository(assets=assets, default_executor=executor)
    repo.resolve(rs.Storage.embedded("runs.db"))
    return repo


def test_a_diamond_runs_in_pods_and_values_cross_through_the_fs_handler(cluster, pipeline_values):
    repo = repo_of(kp.DIAMOND, cluster.executor())
    result = repo.materialize()
    assert result.success
    assert sorted(result.materialized_assets) == ["doubled", "raw", "total", "tripled"]
    # the pods wrote the values into this test's own directory
    assert sorted(path.name for path in pipeline_values.iterdir()) == ["doubled.pkl", "raw.pkl", "total.pkl",
                                                                        "tripled.pkl"]
    started = cluster.kubelet.started
    assert len(started) == 4  # one pod per step
    # every Job is gone with the run's parent object once the run ended
    assert cluster.jobs(result.run_id) == []


def _failure_metadata(repo, run_id, key):
    events = [e for e in repo.storage.get_events_for_run(run_id) if e.asset_key == key]
    return [dict(e.metadata) for e in events if e.event_type in ("StepFailure", "StepRetry")]


def test_a_failing_step_fails_with_its_own_exception_and_skips_dependants(cluster):
    @rs.Asset(io_handler=kp.FS)
    def after_broken(broken: int) -> int:
        return broken

    repo = repo_of([kp.broken, kp.raw], cluster.executor())
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    assert [key for key, _ in result.failed_assets] == ["broken"]
    assert "broken on purpose" in dict(result.failed_assets)["broken"]
    assert "raw" in result.materialized_assets


@pytest.mark.parametrize("fault, kind, reason", [
    ("oom", "OOMKilled", "out_of_memory"),
    ("evict", "evicted", "infrastructure"),
    ("image_pull", "cannot be pulled", "infrastructure"),
    ("exit", "exited with code 137", "infrastructure"),
    ("delete", "was deleted", "infrastructure"),
    ("unschedulable", "could not be scheduled", "infrastructure"),
])
def test_pod_failures_fail_the_step_with_a_typed_reason(cluster, fault, kind, reason):
    cluster.kubelet.inject(fault, step="raw")
    repo = repo_of([kp.raw], cluster.executor(unschedulable_timeout=0.5))
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    message = dict(result.failed_assets)["raw"]
    assert kind in message
    assert _failure_metadata(repo, result.run_id, "raw")[-1]["rivers/failure_reason"] == reason
    assert cluster.jobs(result.run_id) == []


def test_an_infrastructure_failure_is_retried_by_the_policy(cluster):
    cluster.kubelet.inject("evict", step="flaky_infra", attempt=1)
    repo = repo_of([kp.flaky_infra], cluster.executor())
    result = repo.materialize()
    assert result.success
    events = repo.storage.get_events_for_run(result.run_id)
    assert [e.event_type for e in events if e.event_type == "StepRetry"] == ["StepRetry"]


def test_oom_killed_attempts_escalate_memory(cluster):
    cluster.kubelet.inject("oom", step="hungry", attempt=1)
    repo = repo_of([kp.hungry], cluster.executor(worker_cpu="100m"))
    result = repo.materialize()
    assert result.success
    jobs = {j["metadata"]["labels"]["rivers.io/attempt"]: j for j in cluster.api.history_jobs
            if j["metadata"]["labels"].get("rivers.io/step") == "hungry"}
    first = jobs["1"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    second = jobs["2"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert first == {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
    assert second["requests"]["memory"] == "2Gi" and second["limits"]["memory"] == "2Gi"


def test_active_deadline_exceeded_is_a_timeout(cluster, monkeypatch):
    monkeypatch.setenv("SLEEPY_SECONDS", "20")
    repo = repo_of([kp.sleepy], cluster.executor(active_deadline_seconds=1))
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    assert "activeDeadlineSeconds" in dict(result.failed_assets)["sleepy"]
    assert _failure_metadata(repo, result.run_id, "sleepy")[-1]["rivers/failure_reason"] == "timeout"


def test_an_api_outage_fails_steps_in_flight_and_never_hangs(cluster, monkeypatch):
    import threading

    monkeypatch.setenv("SLEEPY_SECONDS", "3")
    repo = repo_of([kp.sleepy], cluster.executor(api_timeout=1.0))
    timer = threading.Timer(1.0, lambda: setattr(cluster.api, "outage", True))
    timer.start()
    try:
        result = repo.materialize(raise_on_error=False)
    finally:
        timer.cancel()
        cluster.api.outage = False
    assert not result.success
    assert "API server" in dict(result.failed_assets)["sleepy"]


def test_a_watch_answered_410_gone_lists_again_and_the_run_goes_on(cluster, monkeypatch):
    import threading

    monkeypatch.setenv("SLEEPY_SECONDS", "1.5")
    repo = repo_of([kp.sleepy, kp.raw], cluster.executor())
    timer = threading.Timer(0.8, cluster.api.expire_watches)
    timer.start()
    result = repo.materialize()
    timer.join()
    assert result.success


def test_a_step_on_the_in_memory_handler_is_refused_before_any_pod_starts(cluster):
    repo = repo_of([kp.in_memory, kp.raw], cluster.executor())
    with pytest.raises(rs.exceptions.ConfigurationError, match="Asset 'in_memory'.*controller's memory"):
        repo.materialize()
    assert cluster.kubelet.started == []


def test_pod_logs_and_pending_time_are_stored_with_the_step(cluster):
    repo = repo_of([kp.raw], cluster.executor())
    result = repo.materialize()
    logs = [log for log in repo.storage.get_run_logs(result.run_id) if log.step_key == "raw"]
    text = "\n".join(filter(None, (log.stderr for log in logs)))
    assert "[kubernetes] Job" in text and "pending" in text
    success = [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "StepSuccess"]
    assert "rivers/k8s/pending_ms" in dict(success[0].metadata)
