"""A small Kubernetes API server double on 127.0.0.1, for the executor's tests and bench.

The real ``kubernetes`` client talks HTTP to it. Modelled (what the
executor uses):

* ConfigMaps: create (409 on a duplicate name), get, delete;
* batch/v1 Jobs: create (409), get, list and delete-collection by label
  selector (``a=b,c=d`` equality only), delete; a Job controller creates one
  pod per Job (name ``<job>-<5 chars>``, labels of the template plus
  ``job-name`` / ``batch.kubernetes.io/job-name``, owned by the Job),
  counts succeeded/failed pods into the Job's status and enforces
  ``activeDeadlineSeconds`` (condition Failed/DeadlineExceeded, its pod
  deleted);
* Pods: get, list and watch by label selector with resourceVersions (one
  counter for all objects; watch from a version replays the retained
  events after it; a version older than the retained history — or every
  watch after :meth:`ApiDouble.expire_watches` — gets an ``ERROR`` event
  with a 410 Status), delete; pod logs (whole or ``tailLines``);
* deletion with propagation: deleting an owner deletes what its
  ``ownerReferences`` point at, at once (any propagation policy);
* outages: :attr:`ApiDouble.outage` makes every request answer 503 and ends
  open watches.

Not modelled: authentication and RBAC, admission and validation (bodies are
stored as sent, with metadata uid/resourceVersion/creationTimestamp added),
field selectors, set-based label selectors, PATCH/PUT, finalizers and
foreground deletion order, scheduling (the test kubelet decides), pod
restarts, other resource kinds.

Like the real API server (Go's net/http), it answers with ``TCP_NODELAY``:
without it, every small response written after its headers waited for the
client's delayed ACK (~40 ms a call), which the bench once took for the
controller's latency.

Status changes come from the in-process test kubelet through
:meth:`ApiDouble.set_pod_status` (not over HTTP).
"""

from __future__ import annotations

import collections
import json
import random
import string
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

_RESOURCES = {("api/v1", "configmaps"): "ConfigMap", ("api/v1", "pods"): "Pod", ("apis/batch/v1", "jobs"): "Job"}
HISTORY = 10_000


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ApiDouble:
    """The server's state and its HTTP front (``url``); start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.version = 0
        self.history: collections.deque[tuple[int, str, dict[str, Any]]] = collections.deque(maxlen=HISTORY)
        self.logs: dict[tuple[str, str], str] = {}
        self.outage = False
        self.watch_epoch = 0  # bumped by expire_watches(): open and older watches get 410
        self.expired_below = 0
        self.requests: collections.Counter[str] = collections.Counter()
        self.listeners: list[Any] = []
        #: every Job ever created (as created), for assertions
        self.history_jobs: list[dict[str, Any]] = []
        #: (time.time(), "job" | "end", name) of Job creations and pod ends, for the bench
        self.timeline: list[tuple[float, str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._deadlines = threading.Thread(target=self._enforce_deadlines, daemon=True)
        self._stopped = False

    # ------------------------------------------------------------------ server
    def start(self) -> str:
        double = self

        class Handler(_Handler):
            api = double

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._deadlines.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._stopped = True
        with self.changed:
            self.changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def kubeconfig(self, path: str, namespace: str = "rivers") -> str:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "double",
            "clusters": [{"name": "double", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "tester",
                                                         "namespace": namespace}}],
        }
        with open(path, "w", encoding="utf-8") as file:
            json.dump(config, file)
        return path

    # ------------------------------------------------------------------ state
    def _bump(self, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def _emit(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        if kind == "Pod":
            snapshot = json.loads(json.dumps(obj))
            self.history.append((self.version, event, snapshot))
            for listener in self.listeners:
                listener(event, snapshot)
        self.changed.notify_all()

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.changed:
            meta = body.setdefault("metadata", {})
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta.update(name=name, namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now())
            key = (kind, namespace, name)
            if key in self.objects:
                return 409, _status(409, "AlreadyExists", f'{kind.lower()}s "{name}" already exists')
            self._bump(body)
            self.objects[key] = body
            self._emit(kind, "ADDED", body)
            if kind == "Job":
                self.history_jobs.append(json.loads(json.dumps(body)))
                self.timeline.append((time.time(), "job", name))
                self._start_job(namespace, body)
            return 201, body

    def _start_job(self, namespace: str, job: dict[str, Any]) -> None:
        template = job["spec"]["template"]
        name = job["metadata"]["name"]
        labels = {**(template.get("metadata") or {}).get("labels", {}), "job-name": name,
                  "batch.kubernetes.io/job-name": name, "controller-uid": job["metadata"]["uid"]}
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=5)),
                         "labels": labels, "annotations": dict((template.get("metadata") or {}).get("annotations", {})),
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                              "uid": job["metadata"]["uid"], "controller": True}]},
            "spec": json.loads(json.dumps(template["spec"])),
            "status": {"phase": "Pending"},
        }
        job["status"] = {"active": 1, "startTime": _now()}
        job["_started"] = time.monotonic()
        self.create("Pod", namespace, pod)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            return None if obj is None else json.loads(json.dumps({k: v for k, v in obj.items() if k[0] != "_"}))

    def list(self, kind: str, namespace: str, selector: str | None) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps({k: v for k, v in obj.items() if k[0] != "_"}))
                    for (k, ns, _), obj in self.objects.items()
                    if k == kind and ns == namespace and _matches(obj["metadata"].get("labels") or {}, selector)]

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        with self.changed:
            obj = self.objects.pop((kind, namespace, name), None)
            if obj is None:
                return False
            self._bump(obj)
            self._emit(kind, "DELETED", obj)
            uid = obj["metadata"]["uid"]
            owned = [key for key, other in self.objects.items()
                     if any(ref.get("uid") == uid for ref in other["metadata"].get("ownerReferences") or ())]
            for key in owned:
                self.delete(*key)
            return True

    def set_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        """The kubelet's status update (False: the pod is gone)."""
        with self.changed:
            pod = self.objects.get(("Pod", namespace, name))
            if pod is None:
                return False
            pod["status"] = status
            self._bump(pod)
            self._emit("Pod", "MODIFIED", pod)
            phase = status.get("phase")
            if phase in ("Succeeded", "Failed"):
                self.timeline.append((time.time(), "end", name))
                owner = (pod["metadata"].get("ownerReferences") or [{}])[0].get("name")
                job = self.objects.get(("Job", namespace, owner))
                if job is not None:
                    job["status"] = {"succeeded" if phase == "Succeeded" else "failed": 1,
                                     "conditions": [{"type": "Complete" if phase == "Succeeded" else "Failed",
                                                     "status": "True"}]}
                    self._bump(job)
            return True

    def expire_watches(self) -> None:
        """Every watch open now, and every watch from a version up to now, gets 410 Gone."""
        with self.changed:
            self.watch_epoch += 1
            self.expired_below = self.version + 1
            self.changed.notify_all()

    def pods(self, namespace: str = "rivers") -> list[dict[str, Any]]:
        return self.list("Pod", namespace, None)

    def _enforce_deadlines(self) -> None:
        while not self._stopped:
            time.sleep(0.1)
            with self.changed:
                for (kind, namespace, name), job in list(self.objects.items()):
                    deadline = job.get("spec", {}).get("activeDeadlineSeconds") if kind == "Job" else None
                    status = job.get("status") or {}
                    if not deadline or not status.get("active") or "_started" not in job:
                        continue
                    if time.monotonic() - job["_started"] > deadline and not status.get("conditions"):
                        job["status"] = {"failed": 1, "conditions": [{
                            "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                            "message": "Job was active longer than specified deadline"}]}
                        self._bump(job)
                        uid = job["metadata"]["uid"]
                        for key, pod in list(self.objects.items()):
                            if key[0] == "Pod" and any(ref.get("uid") == uid
                                                       for ref in pod["metadata"].get("ownerReferences") or ()):
                                self.delete(*key)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client closing its kept-alive connection (a reset) is normal; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}


class _Handler(BaseHTTPRequestHandler):
    api: ApiDouble
    protocol_version = "HTTP/1.1"
    #: TCP_NODELAY, as the real API server's (Go's default): a small response written after its headers
    #: must not wait for the client's delayed ACK (~40 ms per call otherwise)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str, str | None, str | None, dict[str, list[str]]] | None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        for prefix_len in (2, 3):
            prefix = "/".join(parts[:prefix_len])
            rest = parts[prefix_len:]
            if len(rest) >= 3 and rest[0] == "namespaces" and (prefix, rest[2]) in _RESOURCES:
                kind = _RESOURCES[(prefix, rest[2])]
                name = rest[3] if len(rest) > 3 else None
                sub = rest[4] if len(rest) > 4 else None
                return kind, rest[1], name, sub, query
        return None

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _handle(self, method: str) -> None:
        api = self.api
        route = self._route()
        body = self._body() if method in ("POST", "DELETE") else {}
        if route is not None:
            api.requests[f"{method} {route[0]}{'/' + route[3] if route[3] else ''}"
                         f"{' watch' if route[4].get('watch', [''])[0] in ('true', 'True', '1') else ''}"] += 1
        if api.outage:
            self._send(503, _status(503, "ServiceUnavailable", "the API server double is in an outage"))
            return
        if route is None:
            self._send(404, _status(404, "NotFound", f"no route for {self.path}"))
            return
        kind, namespace, name, sub, query = route
        selector = query.get("labelSelector", [None])[0]
        if method == "POST" and name is None:
            code, obj = api.create(kind, namespace, body)
            self._send(code, obj)
        elif method == "GET" and name is None and query.get("watch", [""])[0] in ("true", "True", "1"):
            self._watch(kind, namespace, selector, query)
        elif method == "GET" and name is None:
            with api.lock:
                items, version = api.list(kind, namespace, selector), str(api.version)
            self._send(200, {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {"resourceVersion": version},
                             "items": items})
        elif method == "GET" and sub == "log":
            if api.get(kind, namespace, name) is None:
                self._send(404, _status(404, "NotFound", f'pods "{name}" not found'))
                return
            text = api.logs.get((namespace, name), "")
            tail = query.get("tailLines", [None])[0]
            if tail is not None:
                text = "".join(text.splitlines(keepends=True)[-int(tail):])
            self._send(200, text, "text/plain")
        elif method == "GET":
            obj = api.get(kind, namespace, name)
            if obj is None:
                self._send(404, _status(404, "NotFound", f'{kind.lower()}s "{name}" not found'))
            else:
                self._send(200, obj)
        elif method == "DELETE" and name is None:
            for obj in api.list(kind, namespace, selector):
                api.delete(kind, namespace, obj["metadata"]["name"])
            self._send(200, _status(200, "Success", "deleted"))
        elif method == "DELETE":
            if api.delete(kind, namespace, name):
                self._send(200, _status(200, "Success", "deleted") | {"status": "Success"})
            else:
                self._send(404, _status(404, "NotFound", f'{kind.lower()}s "{name}" not found'))
        else:
            self._send(405, _status(405, "MethodNotAllowed", method))

    def _watch(self, kind: str, namespace: str, selector: str | None, query: dict[str, list[str]]) -> None:
        api = self.api
        since = int(query.get("resourceVersion", ["0"])[0] or 0)
        timeout = float(query.get("timeoutSeconds", ["60"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        end = time.monotonic() + timeout
        with api.lock:
            epoch = api.watch_epoch
        try:
            while True:
                with api.changed:
                    if since < api.expired_below or (api.history and since < api.history[0][0] - 1):
                        self._chunk({"type": "ERROR", "object": _status(410, "Expired", "too old resource version")})
                        break
                    pending = []
                    for version, event, obj in reversed(api.history):  # newest first: stop at what was sent
                        if version <= since:
                            break
                        if obj["metadata"].get("namespace") == namespace and \
                                _matches(obj["metadata"].get("labels") or {}, selector):
                            pending.append((version, event, obj))
                    pending.reverse()
                    if not pending:
                        if api.outage or api._stopped or time.monotonic() > end or api.watch_epoch != epoch:
                            if api.watch_epoch != epoch:
                                self._chunk({"type": "ERROR", "object": _status(410, "Expired", "expired")})
                            break
                        api.changed.wait(0.5)
                        since = max(since, 0)
                        continue
                    latest = api.history[-1][0]
                for version, event, obj in pending:
                    self._chunk({"type": event, "object": obj})
                since = max(latest, since)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")
