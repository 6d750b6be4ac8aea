"""``bundle=``: a chain of steps in one pod, each step with its own events, outcome and retries."""

from __future__ import annotations

import pytest
import rivers as rs
from rivers.exceptions import ConfigurationError

import k8s_pipelines as kp


def repo_of(assets, executor):
    repo = rs.CodeRepository(assets=assets, default_executor=executor)
    repo.resolve(rs.Storage.embedded("runs.db"))
    return repo


def pods_of(cluster, run_id):
    """The step keys each Job of the run ran (its own, then its bundle's), in creation order."""
    import json

    from rivers_executor_k8s.manifests import BUNDLE_ANNOTATION, label_value

    found = []
    for job in cluster.api.history_jobs:
        meta = job["metadata"]
        if meta["labels"].get("rivers.io/run-id") == label_value(run_id):
            found.append([meta["annotations"]["rivers.io/step-key"],
                          *json.loads(meta["annotations"].get(BUNDLE_ANNOTATION, "[]"))])
    return found


def events_by_step(repo, run_id):
    by_step: dict[str, list[str]] = {}
    for event in repo.storage.get_events_for_run(run_id):
        if event.asset_key and event.event_type.startswith("Step"):
            by_step.setdefault(event.asset_key, []).append(event.event_type)
    return by_step


def test_a_chain_runs_in_one_pod_and_every_step_keeps_its_own_events(cluster, pipeline_values):
    repo = repo_of([*kp.CHAIN, kp.raw], cluster.executor(bundle=True))
    result = repo.materialize()
    assert result.success
    assert sorted(pods_of(cluster, result.run_id)) == [["c1", "c2", "c3", "c4"], ["raw"]]
    assert len(cluster.kubelet.started) == 2
    steps = events_by_step(repo, result.run_id)
    for key in ("c1", "c2", "c3", "c4"):
        assert steps[key][0] == "StepStart" and steps[key][-1] == "StepSuccess", (key, steps[key])
    import pickle

    assert pickle.loads((pipeline_values / "c4.pkl").read_bytes()) == 4
    # each later step saw the data version its upstream produced in the same pod
    events = repo.storage.get_events_for_run(result.run_id)
    materialized = {e.asset_key: e for e in events if e.event_type == "Materialization"}
    assert dict(materialized["c3"].input_data_versions)["c2"] == materialized["c2"].data_version
    # the logs say where the step ran
    logs = {log.step_key: log.stderr or "" for log in repo.storage.get_run_logs(result.run_id)}
    assert "(bundle)" in logs["c3"] and "c3 ran in pid" in logs["c3"]
    assert "c2 ran in pid" not in logs["c3"]


def test_a_failing_step_in_the_middle_fails_alone_and_its_dependants_are_skipped(cluster, monkeypatch):
    monkeypatch.setenv(kp.CHAIN_FAIL, "c3")
    repo = repo_of(kp.CHAIN, cluster.executor(bundle=True))
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    failed = dict(result.failed_assets)
    assert "c3 fails on purpose" in failed["c3"] and "Skipped: upstream dependency failed" in failed["c4"]
    materialized = [e.asset_key for e in repo.storage.get_events_for_run(result.run_id)
                    if e.event_type == "Materialization"]
    assert materialized == ["c1", "c2"]
    assert pods_of(cluster, result.run_id) == [["c1", "c2", "c3", "c4"]]  # c4 never ran: the chain stopped
    steps = events_by_step(repo, result.run_id)
    assert steps["c3"] == ["StepStart", "StepFailure"]
    assert steps["c4"] == ["StepFailure"]  # the skip, recorded by the scheduler


def test_a_step_retried_after_failing_in_a_bundle_takes_the_rest_of_the_chain_along(cluster, monkeypatch):
    monkeypatch.setenv(kp.CHAIN_FAIL, "c2")
    monkeypatch.setenv("CHAIN_FAIL_ONCE", "1")
    repo = repo_of(kp.CHAIN, cluster.executor(bundle=True))
    result = repo.materialize()
    assert result.success
    # attempt 1 of c2 failed in c1's pod; its retry is a Job of its own that runs c3 and c4 after it
    assert pods_of(cluster, result.run_id) == [["c1", "c2", "c3", "c4"], ["c2", "c3", "c4"]]
    steps = events_by_step(repo, result.run_id)
    assert "StepRetry" in steps["c2"] and steps["c2"][-1] == "StepSuccess"
    assert steps["c4"][-1] == "StepSuccess"


def test_a_pod_killed_in_the_middle_of_a_bundle_fails_that_step_with_the_pods_reason(cluster, monkeypatch):
    monkeypatch.setenv(kp.CHAIN_SLEEP, "1.5")
    cluster.kubelet.inject("oom", step="c1", attempt=1, after_reports=1)  # c1 reported, c2 running
    repo = repo_of(kp.CHAIN, cluster.executor(bundle=True))
    result = repo.materialize()
    assert result.success
    assert pods_of(cluster, result.run_id) == [["c1", "c2", "c3", "c4"], ["c2", "c3", "c4"]]
    failures = [dict(e.metadata) for e in repo.storage.get_events_for_run(result.run_id)
                if e.asset_key == "c2" and e.event_type == "StepRetry"]
    assert failures and failures[0]["rivers/failure_reason"] == "out_of_memory"
    assert events_by_step(repo, result.run_id)["c1"][-1] == "StepSuccess"


def test_named_chains_and_their_checks(cluster):
    repo = repo_of([*kp.CHAIN, kp.raw], cluster.executor(bundle=[["c2", "c3"]]))
    result = repo.materialize()
    assert result.success
    assert sorted(pods_of(cluster, result.run_id)) == [["c1"], ["c2", "c3"], ["c4"], ["raw"]]
    with pytest.raises(ConfigurationError, match="step 'c3' cannot run right after 'c1'"):
        repo_of(kp.CHAIN, cluster.executor(bundle=[["c1", "c3"]])).materialize()
    with pytest.raises(ConfigurationError, match="more than one bundle chain"):
        cluster.executor(bundle=[["c1", "c2"], ["c2", "c3"]])
    with pytest.raises(ConfigurationError, match="bundle must be True, False or a list of chains"):
        cluster.executor(bundle="c1,c2")


def test_without_bundle_every_step_has_its_own_pod(cluster):
    repo = repo_of(kp.CHAIN, cluster.executor())
    result = repo.materialize()
    assert result.success
    assert pods_of(cluster, result.run_id) == [["c1"], ["c2"], ["c3"], ["c4"]]
