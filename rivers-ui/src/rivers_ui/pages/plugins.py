"""Plugins: what ``rivers plugins`` shows (plugins, their components and hooks, broken plugins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rivers_ui import html

if TYPE_CHECKING:
    from rivers_ui.context import Ui

__all__ = ["routes"]


def routes(ui: Ui) -> list[Route]:
    def listing(request: Request) -> Response:
        return plugins_page(ui)

    return [Route("/plugins", listing)]


def plugins_page(ui: Ui) -> Response:
    import rivers.plugins
    from rivers.plugins.components import KINDS

    rows = []
    for plugin in rivers.plugins.list_plugins():
        origin = " ".join(part for part in (plugin.distribution, plugin.version) if part) or plugin.source
        components = "<br>".join(f"{html.esc(KINDS[kind].plural if kind in KINDS else kind)}: "
                                 f"{html.esc(', '.join(names))}" for kind, names in plugin.components.items())
        rows.append([html.esc(plugin.name) + (' <span class="muted">built-in</span>' if plugin.builtin else ""),
                     html.esc(origin), components, html.esc(", ".join(plugin.hooks))])
    broken = [[html.esc(b.name), html.esc(" ".join(p for p in (b.distribution, b.version) if p)), html.esc(b.stage),
               f'<span class="error">{html.esc(b.error_type)}: {html.esc(b.message)}</span>']
              for b in rivers.plugins.broken_plugins()]
    body = ("<h1>Plugins</h1>" + html.table(["Plugin", "From", "Components", "Hooks"], rows, cls="list plugins")
            + "<h2>Broken plugins</h2>" + html.table(["Plugin", "From", "Stage", "Error"], broken, cls="list",
                                                     empty="none"))
    return ui.page("Plugins", body, active="/plugins")
