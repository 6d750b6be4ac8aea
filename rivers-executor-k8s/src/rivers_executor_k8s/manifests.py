"""The Kubernetes objects of a run: its parent ConfigMap and one Job per step attempt (plain dicts)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

#: label keys (values are sanitized label values; the full step key is an annotation)
RUN_LABEL = "rivers.io/run-id"
STEP_LABEL = "rivers.io/step"
STEP_HASH_LABEL = "rivers.io/step-hash"
ASSET_LABEL = "rivers.io/asset"
ATTEMPT_LABEL = "rivers.io/attempt"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
STEP_ANNOTATION = "rivers.io/step-key"
#: the keys of the steps a bundle's pod runs after its first (JSON list)
BUNDLE_ANNOTATION = "rivers.io/bundle"
#: the environment variable carrying the base64 wire request in the pod
REQUEST_ENV = "RIVERS_STEP_REQUEST"
CONTAINER = "step"

_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")
_NAME_INVALID = re.compile(r"[^a-z0-9-]+")


def label_value(text: str) -> str:
    """``text`` as a label value (at most 63 characters of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    value = _INVALID.sub("_", text)[:63].strip("_.-")
    return value or "x"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def step_hash(step_key: str) -> str:
    """A short stable digest of a step key (exact lookups by label whatever the key's characters)."""
    return _digest(step_key)


def _slug(text: str, length: int) -> str:
    return _NAME_INVALID.sub("-", text.lower())[:length].strip("-") or "x"


def parent_name(run_id: str) -> str:
    """The per-run parent object owning every step Job of the run (deleting it deletes them all)."""
    return f"rivers-run-{_slug(run_id, 40)}-{_digest(run_id)[:5]}"


def job_name(run_id: str, step_key: str, attempt: int) -> str:
    """A DNS-1123 name unique per run, step and attempt (≤ 52 characters: pods add a suffix)."""
    return f"r{_slug(run_id, 8)}-{_slug(step_key, 22)}-{_digest(run_id + chr(0) + step_key)}-a{attempt}"


def run_selector(run_id: str) -> str:
    return f"{RUN_LABEL}={label_value(run_id)}"


def parent_body(run_id: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": parent_name(run_id), "namespace": namespace,
                     "labels": {RUN_LABEL: label_value(run_id), MANAGED_LABEL: "rivers"}},
        "data": {"run_id": run_id},
    }


def request_env(position: int) -> str:
    """The variable carrying the request of a pod's ``position``-th step (0: its own; more in a bundle)."""
    return REQUEST_ENV if position == 0 else f"{REQUEST_ENV}_{position}"


def _container(config: Any, requests: Sequence[bytes], resources: dict[str, Any], image: str) -> dict[str, Any]:
    env = [{"name": name, "value": value} for name, value in config.env.items()]
    command = [*config.worker_command]
    for position, request in enumerate(requests):
        env.append({"name": request_env(position), "value": base64.b64encode(request).decode("ascii")})
        command += ["--request-env", request_env(position)]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "command": [*command, "--format", "json"],
        "env": env,
    }
    env_from = [{"secretRef": {"name": name}} for name in config.env_from_secrets]
    env_from.extend({"configMapRef": {"name": name}} for name in config.env_from_config_maps)
    if env_from:
        container["envFrom"] = env_from
    if config.image_pull_policy:
        container["imagePullPolicy"] = config.image_pull_policy
    if resources:
        container["resources"] = resources
    if config.volume_mounts:
        container["volumeMounts"] = [dict(mount) for mount in config.volume_mounts]
    return container


def job_body(config: Any, *, run_id: str, namespace: str, step_key: str, asset: str, attempt: int,
             request: bytes, resources: dict[str, Any], image: str, owner: dict[str, Any] | None,
             bundle: Sequence[tuple[str, bytes]] = ()) -> dict[str, Any]:
    """The Job running one attempt: one pod, never restarted, owned by the run's parent object.

    ``bundle``: the (step key, request) of the steps its pod runs after this
    one, in order (the worker stops at the first that does not succeed).
    """
    labels = {**config.labels, RUN_LABEL: label_value(run_id), STEP_LABEL: label_value(step_key),
              STEP_HASH_LABEL: step_hash(step_key), ASSET_LABEL: label_value(asset),
              ATTEMPT_LABEL: str(attempt), MANAGED_LABEL: "rivers"}
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [
        _container(config, [request, *(blob for _, blob in bundle)], resources, image)]}
    if config.service_account:
        pod_spec["serviceAccountName"] = config.service_account
    if config.node_selector:
        pod_spec["nodeSelector"] = dict(config.node_selector)
    if config.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in config.tolerations]
    if config.volumes:
        pod_spec["volumes"] = [dict(v) for v in config.volumes]
    if config.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in config.image_pull_secrets]
    annotations = {**config.annotations, STEP_ANNOTATION: step_key}
    if bundle:
        annotations[BUNDLE_ANNOTATION] = json.dumps([key for key, _ in bundle])
    metadata: dict[str, Any] = {"name": job_name(run_id, step_key, attempt), "namespace": namespace,
                                "labels": labels, "annotations": annotations}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
        "template": {"metadata": {"labels": labels, "annotations": {STEP_ANNOTATION: step_key}}, "spec": pod_spec},
    }
    if config.active_deadline_seconds:
        spec["activeDeadlineSeconds"] = config.active_deadline_seconds
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def owner_reference(parent: dict[str, Any]) -> dict[str, Any]:
    meta = parent["metadata"]
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": meta["name"], "uid": meta["uid"],
            "blockOwnerDeletion": False, "controller": False}
