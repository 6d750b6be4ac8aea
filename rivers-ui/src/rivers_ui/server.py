"""Serving the UI with uvicorn on a socket bound here (so ``--port 0`` can report the port it got)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rivers.exceptions import ConfigurationError

from rivers_ui.security import new_token

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["TOKEN_ENV", "access_token_for", "bind", "is_loopback", "serve"]

#: The environment variable that gives the access token for ``--allow-remote``.
TOKEN_ENV = "RIVERS_UI_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def access_token_for(host: str, allow_remote: bool, token: str | None) -> str | None:
    """The access token the server requires: none on loopback; given, from the environment or fresh otherwise.

    :raises ConfigurationError: for a non-loopback ``host`` without ``allow_remote``.
    """
    token = token or os.environ.get(TOKEN_ENV) or None
    if is_loopback(host):
        return token
    if not allow_remote:
        raise ConfigurationError(
            f"--host {host}: the UI binds 127.0.0.1 unless told otherwise; to listen on {host}, add --allow-remote "
            f"(every request then needs the access token of --token or {TOKEN_ENV}, generated when neither is set)")
    if token is not None and len(token) < 16:
        raise ConfigurationError("--token: an access token for a remote UI needs at least 16 characters")
    return token or new_token()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (``0``: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(app: Starlette, sock: socket.socket, *, on_started: Callable[[], None] | None = None) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM (uvicorn's handlers: open streams are closed)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2,
                            access_log=False)
    server = uvicorn.Server(config)
    if on_started is not None:
        started = server.startup

        async def startup(sockets: list[socket.socket] | None = None) -> None:
            await started(sockets=sockets)
            on_started()

        server.startup = startup  # type: ignore[method-assign]
    with _quiet_signals():
        server.run(sockets=[sock])


@contextlib.contextmanager
def _quiet_signals() -> Iterator[None]:
    """While serving, SIGINT/SIGTERM only stop the server: uvicorn hands the signal back to the handler it
    found once it has shut down, and this one ignores it, so the command ends normally (exit code 0)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda number, frame: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
