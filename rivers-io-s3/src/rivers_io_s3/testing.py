"""Test helpers: a moto S3 server in a subprocess and a fault-injecting proxy.

Both listen on 127.0.0.1 only, on a free port, and speak real HTTP, so the
handler is exercised over the network path it uses in production (no
in-process patching of any client)::

    from rivers_io_s3.testing import FaultProxy, MotoServer

    with MotoServer() as server:                 # needs ``moto[server]``
        server.create_bucket("data")
        with FaultProxy(server.endpoint_url) as proxy:
            proxy.fail_next(2, status=503)       # the next two requests answer 503
            handler = S3IOHandler(bucket="data", endpoint_url=proxy.endpoint_url)

The proxy forwards every request to the upstream and can, on demand, answer
with an error status, delay requests, or drop the connection after reading
part of a request body (a connection lost mid-upload).
"""

from __future__ import annotations

import http.client
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Any

__all__ = ["FaultProxy", "MotoServer", "free_port"]

#: Credentials moto accepts (any value works); tests put them in the environment.
MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1 and a free port, in a subprocess.

    :param env: extra environment variables of the server process (e.g.
        ``{"INITIAL_NO_AUTH_ACTION_COUNT": "5"}`` to make it enforce IAM after
        five requests).
    """

    def __init__(self, env: dict[str, str] | None = None, startup_timeout: float = 60.0) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._env = dict(env or {})
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        """Start the server and wait until it answers."""
        environ = {**os.environ, **MOTO_CREDENTIALS, **self._env}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self._process.returncode}; is moto[server] installed?")
            try:
                with urllib.request.urlopen(self.endpoint_url + "/moto-api/data.json", timeout=1):
                    return self
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not answer on {self.endpoint_url}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, **kwargs: Any) -> Any:
        """A boto3 S3 client for this server (needs boto3), for test setup and inspection."""
        import boto3

        options = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
        return boto3.client("s3", endpoint_url=self.endpoint_url, **{**options, **kwargs})

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name`` (through the S3 API: ``PUT /<name>``); returns the name."""
        request = urllib.request.Request(f"{self.endpoint_url}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=30):
            return name

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset API)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ProxyServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout) or a dropped connection: nothing to report


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _body(self, limit: int | None = None) -> bytes | None:
        """The request body (``None`` when the connection was dropped after ``limit`` bytes)."""
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            self.rfile.read(limit)
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.server.proxy
        kind, value = proxy.begin(self.command, self.path, int(self.headers.get("Content-Length") or 0))
        try:
            self._act(kind, value)
        finally:
            proxy.end()

    def _act(self, kind: str, value: Any) -> None:
        if kind == "drop":
            self._body(limit=value)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = self._body()
        if kind == "status":
            payload = f"<Error><Code>InjectedFault</Code><Message>status {value}</Message></Error>".encode()
            self.send_response(value)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if kind == "delay":
            time.sleep(value)
        self._forward(body)

    def _forward(self, body: bytes | None) -> None:
        upstream = http.client.HTTPConnection(self.server.proxy.upstream_host, self.server.proxy.upstream_port, timeout=120)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                    self.send_header(name, value)
            length = response.getheader("Content-Length")
            data = None if length is not None else response.read()
            self.send_header("Content-Length", length if length is not None else str(len(data or b"")))
            self.end_headers()
            if data is not None:
                self.wfile.write(data)
            else:
                while chunk := response.read(1 << 20):
                    self.wfile.write(chunk)
        finally:
            upstream.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` that injects faults on request.

    By default it forwards everything. :meth:`fail_next`, :meth:`delay`
    and :meth:`drop_uploads` change what it does to the following requests;
    :meth:`clear` goes back to forwarding. ``requests`` lists ``(method, path)``
    of what it saw; ``max_in_flight`` is the most requests it held at once.
    """

    def __init__(self, upstream: str) -> None:
        host_port = upstream.split("://", 1)[-1].rstrip("/")
        host, _, port = host_port.partition(":")
        self.upstream_host, self.upstream_port = host, int(port or 80)
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._delay = 0.0
        self._drop_after: int | None = None
        self.requests: list[tuple[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` instead of forwarding them."""
        with self._lock:
            self._failures.extend([status] * count)

    def delay(self, seconds: float) -> None:
        """Wait ``seconds`` before forwarding every request (a slow server, or S3's latency)."""
        with self._lock:
            self._delay = seconds

    def drop_uploads(self, after_bytes: int) -> None:
        """Close the connection of every request with a body larger than ``after_bytes``, after reading that much."""
        with self._lock:
            self._drop_after = after_bytes

    def clear(self) -> None:
        """Forward everything again."""
        with self._lock:
            self._failures.clear()
            self._delay = 0.0
            self._drop_after = None

    def begin(self, method: str, path: str, length: int) -> tuple[str, Any]:
        """Record a request and decide what to do with it: ``(kind, value)``."""
        with self._lock:
            self.requests.append((method, path))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self._drop_after is not None and length > self._drop_after:
                return ("drop", self._drop_after)
            if self._failures:
                return ("status", self._failures.pop(0))
            if self._delay:
                return ("delay", self._delay)
            return ("forward", None)

    def end(self) -> None:
        """A request is done."""
        with self._lock:
            self.in_flight -= 1

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
