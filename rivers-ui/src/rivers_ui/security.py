"""What keeps the UI safe to run: access token, cross-site request protection, no secrets in pages.

* The server binds 127.0.0.1 unless told otherwise; another address needs
  ``--allow-remote`` *and* an access token (checked by :class:`Guard`).
* Every state-changing request is a POST carrying the per-process CSRF token
  (a hidden form field or the ``X-CSRF-Token`` header, compared in constant
  time) and, when the browser sends one, an ``Origin`` equal to the server's own.
* :func:`redact_url` removes credentials from URLs before they reach a page.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "Guard", "TOKEN_COOKIE", "new_token", "redact_url", "same_token"]

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_COOKIE = "rivers_ui_token"
_SECRET_PARAMS = ("password", "passwd", "pwd", "secret", "token", "key", "credential", "signature", "sig")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    """A fresh random token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def redact_url(url: str) -> str:
    """``url`` without credentials: the password of its user information and secret query values become ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(name, "***" if any(word in name.lower() for word in _SECRET_PARAMS) else value)
                           for name, value in pairs], safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Guard:
    """ASGI middleware: the access token (when one is set) on every request, CSRF checks on every POST.

    A browser presents the access token once as ``?token=...`` (it is then
    kept in an HttpOnly, SameSite=Strict cookie) or on every request as
    ``Authorization: Bearer ...``.
    """

    def __init__(self, app: ASGIApp, *, csrf_token: str, access_token: str | None) -> None:
        self.app = app
        self.csrf_token = csrf_token
        self.access_token = access_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        if self.access_token is not None and not self._authorised(scope, headers):
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if same_token(query.get("token"), self.access_token):
                await _redirect_setting_cookie(send, scope.get("path", "/"), self.access_token)
                return
            await _plain(send, 401, "401 Unauthorized: this rivers UI needs its access token "
                                    "(open the URL printed by `rivers ui`, or send Authorization: Bearer TOKEN)")
            return
        if scope["method"] == "POST":
            problem = self._cross_site_problem(headers)
            if problem is not None:
                await _plain(send, 403, f"403 Forbidden: {problem}")
                return
            scope.setdefault("state", {})["csrf_header"] = headers.get(CSRF_HEADER)
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.access_token is not None
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and same_token(bearer[7:].strip(), self.access_token):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            return False
        morsel = cookie.get(TOKEN_COOKIE)
        return morsel is not None and same_token(morsel.value, self.access_token)

    @staticmethod
    def _cross_site_problem(headers: dict[str, str]) -> str | None:
        """Why a POST looks cross-site (an ``Origin`` that is not this server), else ``None``."""
        origin = headers.get("origin")
        host = headers.get("host", "")
        if origin is not None and origin != "null":
            if urlsplit(origin).netloc != host:
                return f"cross-site request refused (Origin {origin} is not this server, {host})"
        elif origin == "null":
            return "cross-site request refused (Origin null)"
        return None


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_setting_cookie(send: Send, path: str, token: str) -> None:
    cookie = f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", (path or "/").encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                            (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
