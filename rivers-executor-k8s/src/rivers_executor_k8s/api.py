"""The few Kubernetes API calls the executor makes, through the official client, as plain dicts.

Responses are read with ``_preload_content=False`` and parsed as JSON: the
controller never builds the client's model objects (most of its CPU per
step otherwise).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

#: connect/read timeout of ordinary calls (s)
CALL_TIMEOUT = (5.0, 15.0)


def _configure(config: Any) -> tuple[kubernetes.client.Configuration, str | None]:
    """Client configuration from the cluster (in a pod) or a kubeconfig; and that source's namespace."""
    configuration = kubernetes.client.Configuration()
    in_cluster = config.in_cluster
    if in_cluster is None:
        in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and config.kubeconfig is None
    if in_cluster:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
        namespace = None
        if os.path.exists(_NAMESPACE_FILE):
            with open(_NAMESPACE_FILE, encoding="utf-8") as file:
                namespace = file.read().strip() or None
        return configuration, namespace
    # $KUBECONFIG read now: the client reads it once, when it is imported
    config_file = config.kubeconfig or os.environ.get("KUBECONFIG") or None
    kubernetes.config.load_kube_config(config_file=config_file, context=config.context,
                                       client_configuration=configuration)
    namespace = None
    try:
        contexts, active = kubernetes.config.list_kube_config_contexts(config_file=config_file)
        chosen = next((c for c in contexts if c["name"] == config.context), active) if config.context else active
        namespace = (chosen or {}).get("context", {}).get("namespace")
    except Exception:  # noqa: BLE001 - the namespace is a default only
        namespace = None
    return configuration, namespace


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the API server is unreachable or failing (5xx, 429, connection errors)."""
    if isinstance(error, ApiException):
        return error.status in (0, None, 429) or (error.status or 0) >= 500
    return isinstance(error, (OSError, kubernetes.client.exceptions.OpenApiException)) or \
        type(error).__module__.startswith("urllib3")


class KubeApi:
    """Jobs, pods, pod logs and the run's parent ConfigMap in one namespace."""

    def __init__(self, config: Any) -> None:
        configuration, found = _configure(config)
        configuration.connection_pool_maxsize = max(8, config.max_concurrent_steps)
        self.client = kubernetes.client.ApiClient(configuration)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.batch = kubernetes.client.BatchV1Api(self.client)
        self.namespace: str = config.namespace or found or "default"

    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    # -- parent object ---------------------------------------------------------------------------
    def create_config_map(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self.core.create_namespaced_config_map(
            self.namespace, body,  # type: ignore[arg-type]  # the client serialises a dict body like a model
            _preload_content=False, _request_timeout=CALL_TIMEOUT))

    def read_config_map(self, name: str) -> dict[str, Any]:
        return self._json(self.core.read_namespaced_config_map(
            name, self.namespace, _preload_content=False, _request_timeout=CALL_TIMEOUT))

    def delete_config_map(self, name: str) -> None:
        self.core.delete_namespaced_config_map(name, self.namespace, propagation_policy="Background",
                                               _preload_content=False, _request_timeout=CALL_TIMEOUT)

    def delete_config_map_if_present(self, name: str) -> bool:
        """Delete a ConfigMap and what it owns (False: it was gone already)."""
        return _present(self.delete_config_map, name)

    def list_config_maps(self, selector: str) -> list[dict[str, Any]]:
        return self._json(self.core.list_namespaced_config_map(
            self.namespace, label_selector=selector, _preload_content=False,
            _request_timeout=CALL_TIMEOUT)).get("items") or []

    # -- jobs --------------------------------------------------------------------------------------
    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self.batch.create_namespaced_job(
            self.namespace, body,  # type: ignore[arg-type]  # the client serialises a dict body like a model
            _preload_content=False, _request_timeout=CALL_TIMEOUT))

    def read_job(self, name: str) -> dict[str, Any] | None:
        try:
            return self._json(self.batch.read_namespaced_job(
                name, self.namespace, _preload_content=False, _request_timeout=CALL_TIMEOUT))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list_jobs(self, selector: str) -> list[dict[str, Any]]:
        return self._json(self.batch.list_namespaced_job(
            self.namespace, label_selector=selector, _preload_content=False,
            _request_timeout=CALL_TIMEOUT)).get("items") or []

    def delete_job(self, name: str) -> bool:
        """Delete a Job and its pod (False: it was gone already)."""
        return _present(lambda job: self.batch.delete_namespaced_job(
            job, self.namespace, propagation_policy="Background", _preload_content=False,
            _request_timeout=CALL_TIMEOUT), name)

    def delete_jobs(self, selector: str) -> None:
        self.batch.delete_collection_namespaced_job(self.namespace, label_selector=selector,
                                                    propagation_policy="Background", _preload_content=False,
                                                    _request_timeout=CALL_TIMEOUT)

    # -- pods --------------------------------------------------------------------------------------
    def list_pods(self, selector: str) -> tuple[list[dict[str, Any]], str]:
        data = self._json(self.core.list_namespaced_pod(
            self.namespace, label_selector=selector, _preload_content=False, _request_timeout=CALL_TIMEOUT))
        return data.get("items") or [], (data.get("metadata") or {}).get("resourceVersion") or ""

    def watch_pods(self, selector: str, resource_version: str, timeout_s: int) -> Any:
        """An open watch response for pod events after ``resource_version`` (read it with :func:`events`)."""
        return self.core.list_namespaced_pod(
            self.namespace, label_selector=selector, watch=True, resource_version=resource_version,
            allow_watch_bookmarks=True, timeout_seconds=timeout_s, _preload_content=False,
            _request_timeout=(CALL_TIMEOUT[0], timeout_s + 10.0))

    def delete_pod(self, name: str) -> bool:
        """Delete a pod (False: it was gone already)."""
        return _present(lambda pod: self.core.delete_namespaced_pod(
            pod, self.namespace, _preload_content=False, _request_timeout=CALL_TIMEOUT), name)

    def pod_log(self, name: str, tail_lines: int | None = None) -> str:
        kwargs: dict[str, Any] = {} if tail_lines is None else {"tail_lines": tail_lines}
        response = self.core.read_namespaced_pod_log(name, self.namespace, _preload_content=False,
                                                     _request_timeout=CALL_TIMEOUT, **kwargs)
        # (with _preload_content=False the client returns the urllib3 response, not the str its hints say)
        return response.data.decode("utf-8", errors="replace")  # type: ignore[attr-defined]

    def close(self) -> None:
        self.client.close()


def _present(delete: Callable[[str], Any], name: str) -> bool:
    """Run ``delete(name)``; False when the object was gone already (404)."""
    try:
        delete(name)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def events(response: Any) -> Iterator[dict[str, Any]]:
    """The watch events (``{"type", "object"}``) of an open watch response, until it ends."""
    try:
        for line in iter_resp_lines(response):
            if line:
                yield json.loads(line)
    finally:
        response.release_conn()


__all__ = ["ApiException", "KubeApi", "events", "is_unavailable"]
