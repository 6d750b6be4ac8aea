"""The ASGI application: :func:`create_app` wires the pages, the live streams and the safety checks.

A :class:`Ui` holds what every page needs (the repository, its storage, the
static view of its graph, the event hub, the CSRF token). Page handlers are
plain functions, which Starlette runs in worker threads, so blocking storage
reads never stall the event loop; only the SSE streams are asynchronous.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from rivers import exceptions as errors
from rivers_ui import html
from rivers_ui.layout import GraphLayout, layout
from rivers_ui.live import EventHub
from rivers_ui.model import RepositoryView
from rivers_ui.security import CSRF_FIELD, Guard, new_token, redact_url, same_token

if TYPE_CHECKING:
    from rivers import CodeRepository
    from rivers.storage import Storage

__all__ = ["USER_ERRORS", "Ui", "UiError", "UiSettings", "create_app"]

_LOG = logging.getLogger("rivers.ui")
_STATIC = Path(__file__).parent / "static"

#: Exceptions that mean "the request was wrong" (400 with the message), never "the UI broke".
USER_ERRORS: tuple[type[BaseException], ...] = (
    errors.AssetNotFoundError, errors.ConfigurationError, errors.ExecutionError, errors.NodeNotFoundError,
    errors.PartitionDefinitionError, errors.PartitionValidationError, errors.StorageError,
)


@dataclass
class UiSettings:
    """How the UI is served: the storage name shown (credentials removed), the access token, the CSRF token."""

    storage_url: str = ""
    access_token: str | None = None
    csrf_token: str = field(default_factory=new_token)

    @property
    def storage_label(self) -> str:
        return redact_url(self.storage_url)


class UiError(Exception):
    """A request the UI answers with an error page: ``status`` (400, 404, 409) and a message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class Ui:
    """What the pages share: repository, storage, graph view and layout, event hub, background work."""

    def __init__(self, repository: CodeRepository, storage: Storage, settings: UiSettings) -> None:
        self.repository = repository
        self.storage = storage
        self.settings = settings
        self.view = RepositoryView(repository, storage)
        self._drawing: GraphLayout | None = None
        self.hub = EventHub(storage)
        self._threads: list[threading.Thread] = []

    @property
    def csrf(self) -> str:
        return self.settings.csrf_token

    @property
    def drawing(self) -> GraphLayout:
        """The graph layout (computed on first use: it depends only on the code)."""
        if self._drawing is None:
            self._drawing = layout(self.view)
        return self._drawing

    def page(self, title: str, body: str, *, active: str = "", live: bool = False, status: int = 200) -> HTMLResponse:
        """An HTML page in the shell."""
        text = html.page(title, body, csrf=self.csrf, active=active, storage=self.settings.storage_label, live=live)
        return HTMLResponse(text, status_code=status)

    def check_csrf(self, form: Any, request: Request) -> None:
        """Refuse a POST without this process's CSRF token (form field or ``X-CSRF-Token`` header)."""
        given = form.get(CSRF_FIELD) or request.headers.get("x-csrf-token")
        if not same_token(given if isinstance(given, str) else None, self.csrf):
            raise UiError(403, "Forbidden", "the form's CSRF token is missing or stale; reload the page and try again")

    def in_background(self, name: str, work: Callable[[], Any]) -> None:
        """Run ``work`` in a daemon thread (backfills launched from the UI); failures are logged."""
        def run() -> None:
            try:
                work()
            except Exception:  # noqa: BLE001 - recorded by the backfill layer; the UI goes on
                _LOG.exception("%s failed", name)

        thread = threading.Thread(target=run, name=f"rivers-ui-{name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def close(self) -> None:
        """Stop the event hub."""
        self.hub.stop()


def create_app(repository: CodeRepository, *, storage: Storage | None = None,
               settings: UiSettings | None = None) -> Starlette:
    """The web UI of ``repository`` (resolved against ``storage`` first when given) as an ASGI app."""
    from rivers_ui.pages import assets, automation, backfills, plugins, runs

    if storage is not None:
        repository.resolve(storage)
    ui = Ui(repository, repository.storage, settings or UiSettings())
    routes = [*assets.routes(ui), *runs.routes(ui), *backfills.routes(ui), *automation.routes(ui),
              *plugins.routes(ui), Mount("/static", app=StaticFiles(directory=str(_STATIC)), name="static")]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            ui.close()

    async def ui_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, UiError)
        body = f'<h1>{html.esc(error.title)}</h1><p class="error">{html.esc(error.message)}</p>'
        return ui.page(error.title, body, status=error.status)

    async def user_error(request: Request, error: Exception) -> Response:
        body = (f'<h1>Bad request</h1><p class="error">{html.esc(type(error).__name__)}: '
                f'{html.esc(error)}</p>')
        return ui.page("Bad request", body, status=400)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        text = "page not found" if error.status_code == 404 else str(error.detail)
        body = f"<h1>{error.status_code}</h1><p class=\"error\">{html.esc(text)}: {html.esc(request.url.path)}</p>"
        return ui.page(str(error.status_code), body, status=error.status_code)

    async def server_error(request: Request, error: Exception) -> Response:
        _LOG.error("error serving %s", request.url.path, exc_info=error)
        body = ('<h1>Something went wrong</h1><p class="error">The UI could not answer this request; '
                "the server's log has the details.</p>")
        return ui.page("Error", body, status=500)

    handlers: dict[Any, Callable[..., Any]] = {UiError: ui_error, HTTPException: http_error, 500: server_error}
    for kind in USER_ERRORS:
        handlers[kind] = user_error
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers,
                    middleware=[Middleware(Guard, csrf_token=ui.csrf, access_token=ui.settings.access_token)])
    app.state.ui = ui
    return app
