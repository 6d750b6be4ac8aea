"""``rivers k8s cleanup``: the plugin's sub-command sweeping what runs left, against the API double."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import rivers as rs
import rivers.plugins
from rivers.cli.app import run as rivers_cli
from rivers.storage.records import RunRecord


class Leftovers:
    """A namespace of its own on the shared double, runs recorded in a project storage, objects left by runs."""

    def __init__(self, api_double, tmp_path: Path) -> None:
        self.api = api_double
        self.namespace = f"cleanup-{uuid.uuid4().hex[:8]}"
        self.kubeconfig = api_double.kubeconfig(str(tmp_path / "kubeconfig"), self.namespace)
        self.project = tmp_path / "project"
        self.project.mkdir()
        self.storage_url = f"sqlite:///{self.project / 'runs.db'}"

    def record(self, run_id: str, status: str) -> None:
        storage = rs.Storage.connect(self.storage_url)
        try:
            storage._create_run(RunRecord(run_id=run_id, status=status, start_time=1))  # engine-facing: a test fixture
        finally:
            storage.close()

    def leave(self, run_id: str, steps: tuple[str, ...] = ("a", "b"), *, parent: bool = True) -> None:
        """What a run whose controller died leaves: its parent ConfigMap and one Job (with its pod) per step."""
        from rivers_executor_k8s.manifests import job_body, owner_reference, parent_body

        owner = None
        if parent:
            _, created = self.api.create("ConfigMap", self.namespace, parent_body(run_id, self.namespace))
            owner = owner_reference(created)
        config = rs.Executor.kubernetes(worker_image="img")
        for step in steps:
            body = job_body(config, run_id=run_id, namespace=self.namespace, step_key=step, asset=step, attempt=1,
                            request=b"{}", resources={}, image="img", owner=owner)
            self.api.create("Job", self.namespace, body)

    def objects(self) -> set[tuple[str, str]]:
        """(kind, run-id label) of everything left in the namespace."""
        with self.api.lock:
            return {(kind, obj["metadata"].get("labels", {}).get("rivers.io/run-id", ""))
                    for (kind, namespace, _), obj in self.api.objects.items() if namespace == self.namespace}

    def cli(self, *args: str) -> list[str]:
        return ["k8s", "cleanup", *args, "--kubeconfig", self.kubeconfig, "--project-dir", str(self.project),
                "--storage", self.storage_url]


@pytest.fixture()
def leftovers(api_double, tmp_path):
    api_double.outage = False
    return Leftovers(api_double, tmp_path)


def test_without_run_it_deletes_the_leftovers_of_finished_runs_only(leftovers, capsys):
    leftovers.record("done-ok", "Success")
    leftovers.record("done-failed", "Failure")
    leftovers.record("queued", "Queued")
    for run_id in ("done-ok", "done-failed", "queued", "elsewhere"):
        leftovers.leave(run_id)
    assert rivers_cli(leftovers.cli()) == 0
    out = capsys.readouterr().out
    # both finished runs: parent, two Jobs, two pods each
    assert len(re.findall(r"^deleted ConfigMap rivers-run-done-ok-\w+ of run done-ok$", out, re.M)) == 1
    assert len(re.findall(r"^deleted Job \S+ of run done-failed", out, re.M)) == 2
    assert len(re.findall(r"^deleted Pod \S+ of run done-ok", out, re.M)) == 2
    assert "kept run queued (still Queued): `rivers k8s cleanup --run queued` deletes its objects" in out
    assert "kept run elsewhere (not recorded in the project storage)" in out
    assert f"deleted 10 objects of 2 runs in namespace {leftovers.namespace}" in out
    assert {run for _, run in leftovers.objects()} == {"queued", "elsewhere"}


def test_run_deletes_one_run_whatever_its_status_and_is_idempotent(leftovers, capsys):
    leftovers.record("live", "Queued")
    leftovers.leave("live", steps=("only",))
    leftovers.leave("other", steps=("x",))
    assert rivers_cli(leftovers.cli("--run", "live")) == 0
    out = capsys.readouterr().out
    assert "deleted ConfigMap rivers-run-live-" in out
    assert re.search(r"^deleted Job rlive-only-\w+-a1 of run live", out, re.M)
    assert f"deleted 3 objects of 1 run in namespace {leftovers.namespace}" in out
    assert {run for _, run in leftovers.objects()} == {"other"}
    # again: nothing left of that run, nothing else touched
    assert rivers_cli(leftovers.cli("--run", "live")) == 0
    assert f"nothing to clean up in namespace {leftovers.namespace}" in capsys.readouterr().out
    assert {run for _, run in leftovers.objects()} == {"other"}


def test_dry_run_lists_and_deletes_nothing(leftovers, capsys):
    leftovers.record("finished", "Success")
    leftovers.leave("finished", steps=("s",))
    before = leftovers.objects()
    assert rivers_cli(leftovers.cli("--dry-run")) == 0
    out = capsys.readouterr().out
    assert re.search(r"^would delete ConfigMap rivers-run-finished-\w+ of run finished$", out, re.M)
    assert re.search(r"^would delete Job \S+ of run finished$", out, re.M)
    assert re.search(r"^would delete Pod \S+ of run finished$", out, re.M)
    assert "would delete 3 objects of 1 run" in out and "(dry run: nothing deleted)" in out
    assert leftovers.objects() == before == {("ConfigMap", "finished"), ("Job", "finished"), ("Pod", "finished")}


def test_jobs_and_pods_without_their_parent_are_swept_by_label(leftovers, capsys):
    leftovers.record("orphaned", "Canceled")
    leftovers.leave("orphaned", steps=("p", "q"), parent=False)
    # a pod whose Job is gone already (deleted with propagation 'orphan')
    job = next(obj for (kind, ns, _), obj in leftovers.api.objects.items()
               if kind == "Job" and ns == leftovers.namespace)
    leftovers.api.objects.pop(("Job", leftovers.namespace, job["metadata"]["name"]))
    assert rivers_cli(leftovers.cli()) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"^deleted Job \S+ of run orphaned$", out, re.M)) == 1
    assert len(re.findall(r"^deleted Pod \S+ of run orphaned", out, re.M)) == 2
    assert leftovers.objects() == set()


def test_namespace_and_connection_come_from_the_rivers_toml_executor_section(leftovers, capsys):
    leftovers.record("cfg", "Success")
    leftovers.leave("cfg", steps=("z",))
    (leftovers.project / "rivers.toml").write_text(
        f'[executor]\nname = "kubernetes"\nkubeconfig = "{leftovers.kubeconfig}"\nnamespace = "{leftovers.namespace}"\n'
        f'[storage]\nurl = "{leftovers.storage_url}"\n', encoding="utf-8")
    assert rivers_cli(["k8s", "cleanup", "--project-dir", str(leftovers.project)]) == 0
    assert f"deleted 3 objects of 1 run in namespace {leftovers.namespace}" in capsys.readouterr().out
    assert leftovers.objects() == set()
    # --namespace wins over the settings: another namespace has nothing
    assert rivers_cli(["k8s", "cleanup", "--project-dir", str(leftovers.project), "--namespace", "empty"]) == 0
    assert "nothing to clean up in namespace empty" in capsys.readouterr().out


def test_an_unreachable_api_is_a_clear_error(leftovers, capsys):
    leftovers.api.outage = True
    try:
        assert rivers_cli(leftovers.cli("--run", "x")) == 1
    finally:
        leftovers.api.outage = False
    err = capsys.readouterr().err
    assert f"the Kubernetes API at {leftovers.api.url} unreachable: 503" in err


def test_a_missing_kubeconfig_names_the_fix(leftovers, tmp_path, capsys):
    assert rivers_cli(["k8s", "cleanup", "--kubeconfig", str(tmp_path / "nope"), "--project-dir",
                       str(leftovers.project)]) == 2
    assert "cannot configure the Kubernetes client" in capsys.readouterr().err


def test_the_command_is_listed_by_rivers_help_and_plugins(capsys):
    with pytest.raises(SystemExit):
        rivers_cli(["--help"])
    assert re.search(r"k8s\s+Kubernetes executor", capsys.readouterr().out)
    listed = {info.name: info for info in rivers.plugins.list_plugins()}
    assert listed["kubernetes"].components["cli_command"] == ("k8s",)
