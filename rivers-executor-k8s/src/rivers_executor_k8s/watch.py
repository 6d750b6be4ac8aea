"""One list-and-watch of every pod of a run (resourceVersion; a re-list on 410 Gone)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from rivers_executor_k8s.api import ApiException, KubeApi, events, is_unavailable

_log = logging.getLogger("rivers.k8s")

#: server-side timeout of one watch request (s): the watch is renewed from its resourceVersion
WATCH_TIMEOUT = 60


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


class PodWatch:
    """Follows the pods matching ``selector`` on a thread; ``on_pod(kind, pod)`` sees every change.

    ``kind`` is ``"ADDED"``, ``"MODIFIED"`` or ``"DELETED"`` (a pod missing
    from a re-list is reported deleted). ``outage_since`` is the monotonic
    time the API server stopped answering (None while it answers).
    """

    def __init__(self, api: KubeApi, selector: str, on_pod: Callable[[str, dict[str, Any]], None]) -> None:
        self.api = api
        self.selector = selector
        self.on_pod = on_pod
        self.synced = threading.Event()
        self.outage_since: float | None = None
        self.lists = 0
        self._known: dict[str, dict[str, Any]] = {}
        self._stopped = False
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name="rivers-k8s-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        response = self._response
        if response is not None:
            try:
                response.shutdown() if hasattr(response, "shutdown") else response.close()
            except Exception:  # noqa: BLE001 - closing a stream another thread reads
                pass
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        delay = 0.05
        resource_version = ""
        while not self._stopped:
            try:
                if not resource_version:
                    resource_version = self._list()
                resource_version = self._watch(resource_version)
                delay = 0.05
            except Gone:
                resource_version = ""
            except Exception as error:  # noqa: BLE001 - reconnect; the launcher times outages out
                if self._stopped:
                    return
                if isinstance(error, ApiException) and error.status == 410:
                    resource_version = ""
                    continue
                if self.outage_since is None and is_unavailable(error):
                    self.outage_since = time.monotonic()
                    _log.warning("Kubernetes API unavailable while watching pods: %s", error)
                elif not is_unavailable(error):
                    _log.warning("watch of pods failed, listing again: %s", error)
                    resource_version = ""
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _list(self) -> str:
        items, resource_version = self.api.list_pods(self.selector)
        self.outage_since = None
        self.lists += 1
        seen = {}
        for pod in items:
            seen[pod["metadata"]["name"]] = pod
        for name, pod in list(self._known.items()):
            if name not in seen:
                self._known.pop(name, None)
                self.on_pod("DELETED", pod)
        for name, pod in seen.items():
            self._known[name] = pod
            self.on_pod("MODIFIED", pod)
        self.synced.set()
        return resource_version

    def _watch(self, resource_version: str) -> str:
        response = self._response = self.api.watch_pods(self.selector, resource_version, WATCH_TIMEOUT)
        self.outage_since = None
        try:
            for event in events(response):
                if self._stopped:
                    break
                kind: str = event.get("type") or ""
                pod = event.get("object") or {}
                if kind == "ERROR":
                    if pod.get("code") == 410:
                        raise Gone()
                    raise ApiException(status=pod.get("code") or 500, reason=pod.get("message"))
                version = (pod.get("metadata") or {}).get("resourceVersion")
                if version:
                    resource_version = version
                if kind == "BOOKMARK":
                    continue
                name = pod["metadata"]["name"]
                if kind == "DELETED":
                    self._known.pop(name, None)
                else:
                    self._known[name] = pod
                self.on_pod(kind, pod)
        finally:
            self._response = None
        return resource_version
