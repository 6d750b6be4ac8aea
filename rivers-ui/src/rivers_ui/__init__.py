"""rivers-ui: a web UI to see and steer rivers assets, runs, backfills and automation.

:func:`create_app` builds the ASGI application for a resolved
:class:`~rivers.CodeRepository`; ``rivers ui TARGET`` serves it with uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["UiSettings", "create_app"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from rivers_ui.app import UiSettings, create_app


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rivers_ui import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
