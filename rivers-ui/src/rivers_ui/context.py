"""What every page shares: :class:`Ui` (repository, storage, graph view, event hub, CSRF token), its settings and :class:`UiError`.

Its own module, below the pages and :mod:`rivers_ui.app`, so that the pages
import it without importing the application that imports them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from rivers_ui import html
from rivers_ui.layout import GraphLayout, layout
from rivers_ui.live import EventHub
from rivers_ui.model import RepositoryView
from rivers_ui.security import CSRF_FIELD, new_token, redact_url, same_token

if TYPE_CHECKING:
    from rivers import CodeRepository
    from rivers.storage import Storage

__all__ = ["Ui", "UiError", "UiSettings"]

_LOG = logging.getLogger("rivers.ui")


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
