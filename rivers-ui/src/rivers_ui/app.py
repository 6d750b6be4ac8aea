"""The ASGI application: :func:`create_app` wires the pages, the live streams and the safety checks.

A :class:`Ui` holds what every page needs (the repository, its storage, the
static view of its graph, the event hub, the CSRF token). Page handlers are
plain functions, which Starlette runs in worker threads, so blocking storage
reads never stall the event loop; only the SSE streams are asynchronous.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from rivers import exceptions as errors
from rivers_ui import html
from rivers_ui.context import Ui, UiError, UiSettings
from rivers_ui.security import Guard

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
