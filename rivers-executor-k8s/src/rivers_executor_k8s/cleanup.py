"""Deleting what a run left in the cluster: its parent object (cascading to every step Job) and a label sweep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rivers_executor_k8s.api import KubeApi
from rivers_executor_k8s.manifests import MANAGED_LABEL, RUN_LABEL, label_value, parent_name, run_selector

__all__ = ["Leftover", "delete_leftovers", "find_leftovers", "sweep"]

#: what every object the executor creates is labelled with
MANAGED_SELECTOR = f"{MANAGED_LABEL}=rivers"


def sweep(api: KubeApi, run_id: str) -> None:
    """Delete the run's parent ConfigMap (its Jobs and pods go with it) and any Job still labelled with the run.

    Idempotent: what is gone already is not an error.
    """
    api.delete_config_map_if_present(parent_name(run_id))
    api.delete_jobs(run_selector(run_id))


@dataclass(frozen=True)
class Leftover:
    """One object of a run still in the cluster: ``kind`` is ``ConfigMap``, ``Job`` or ``Pod``.

    ``run_id`` is the run's id (from the parent ConfigMap when there is one,
    else the run-id label's value); ``owned`` says the object goes with
    another leftover of the list (a Job with its run's ConfigMap, a pod with
    its Job), so deleting that one deletes it.
    """

    kind: str
    name: str
    run_id: str
    owned: bool = False


def _owners(obj: dict[str, Any]) -> set[tuple[str, str]]:
    return {(ref.get("kind", ""), ref.get("name", "")) for ref in obj["metadata"].get("ownerReferences") or ()}


def find_leftovers(api: KubeApi, run_id: str | None = None) -> list[Leftover]:
    """The parent ConfigMaps, Jobs and pods of ``run_id`` (every run's, when ``None``) in the API's namespace.

    Ordered parents first, then Jobs, then pods; each group by run and name.
    """
    selector = run_selector(run_id) if run_id is not None else MANAGED_SELECTOR
    parents = api.list_config_maps(selector)
    jobs = api.list_jobs(selector)
    pods, _ = api.list_pods(selector)
    # the run-id label holds a sanitized id; the parent keeps the real one
    run_ids = {label_value(run_id): run_id} if run_id is not None else {}
    for parent in parents:
        real = (parent.get("data") or {}).get("run_id")
        if real:
            run_ids[label_value(real)] = real
    present = {("ConfigMap", p["metadata"]["name"]) for p in parents} | {("Job", j["metadata"]["name"]) for j in jobs}
    leftovers: list[Leftover] = []
    for kind, objects in (("ConfigMap", parents), ("Job", jobs), ("Pod", pods)):
        group = []
        for obj in objects:
            label = (obj["metadata"].get("labels") or {}).get(RUN_LABEL, "")
            group.append(Leftover(kind=kind, name=obj["metadata"]["name"], run_id=run_ids.get(label, label),
                                  owned=bool(_owners(obj) & present)))
        leftovers.extend(sorted(group, key=lambda item: (item.run_id, item.name)))
    return leftovers


def delete_leftovers(api: KubeApi, leftovers: list[Leftover]) -> list[Leftover]:
    """Delete ``leftovers`` (owners first: what they own goes with them); the ones this call found and removed.

    Idempotent: an object already gone is skipped, not an error; owned
    objects are deleted too in case the cluster orphaned them.
    """
    deleted = []
    for item in leftovers:
        if item.kind == "ConfigMap":
            gone = api.delete_config_map_if_present(item.name)
        elif item.kind == "Job":
            gone = api.delete_job(item.name)
        else:
            gone = api.delete_pod(item.name)
        if gone or item.owned:  # an owned object that is gone already went with its owner just now
            deleted.append(item)
    return deleted
