"""Small HTML helpers: the page shell, tables, timestamps, forms with the CSRF token.

Every dynamic value goes through :func:`html.escape`; pages are plain HTML
with one stylesheet and one script, both shipped in the wheel.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import quote

from rivers_ui.security import CSRF_FIELD

__all__ = ["badge", "duration", "esc", "form", "link", "page", "table", "timestamp", "url"]

_NAV = (("/", "Graph"), ("/assets", "Assets"), ("/runs", "Runs"), ("/backfills", "Backfills"),
        ("/automation", "Automation"), ("/plugins", "Plugins"))


def esc(value: object) -> str:
    """``value`` as escaped HTML text (``None`` as an empty string)."""
    return "" if value is None else escape(str(value))


def url(*parts: str, **query: str | None) -> str:
    """A path from escaped ``parts`` (``url("assets", name)`` is ``/assets/<name>``) and a query string."""
    path = "/" + "/".join(quote(part, safe="") for part in parts)
    pairs = [f"{quote(key)}={quote(value, safe='')}" for key, value in query.items() if value]
    return path + ("?" + "&".join(pairs) if pairs else "")


def link(href: str, text: object, cls: str = "") -> str:
    """An ``<a>`` to ``href`` with escaped ``text``."""
    return f'<a href="{escape(href)}"{f" class={json.dumps(cls)}" if cls else ""}>{esc(text)}</a>'


def badge(status: object) -> str:
    """A coloured status label (``success``, ``failure``, ``running``, ``fresh``, ...)."""
    text = str(status or "unknown")
    return f'<span class="badge b-{escape(text.lower())}">{escape(text)}</span>'


def timestamp(ns: int | None) -> str:
    """A UTC time for ``ns`` nanoseconds since the epoch (``never`` for ``None``)."""
    if not ns:
        return "never"
    moment = dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc)
    return f'<time datetime="{moment.isoformat()}">{moment.strftime("%Y-%m-%d %H:%M:%S")} UTC</time>'


def duration(start_ns: int | None, end_ns: int | None) -> str:
    """``1.25 s`` between two times (empty when either is unknown)."""
    if not start_ns or not end_ns:
        return ""
    seconds = (end_ns - start_ns) / 1e9
    return f"{seconds:.2f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "", empty: str = "none") -> str:
    """A table of already-escaped cells."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(header)}</th>" for header in headers)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def form(action: str, csrf: str, button: str, fields: Iterable[tuple[str, str]] = (), cls: str = "",
         confirm: str | None = None, inner: str = "") -> str:
    """A POST form to ``action`` with the CSRF token, hidden ``fields`` and a submit button."""
    hidden = "".join(f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">' for name, value in fields)
    check = f' data-confirm="{esc(confirm)}"' if confirm else ""
    return (f'<form method="post" action="{escape(action)}" class="inline {escape(cls)}"{check}>'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{esc(csrf)}">{hidden}{inner}'
            f'<button type="submit">{esc(button)}</button></form>')


def page(title: str, body: str, *, csrf: str, active: str = "", storage: str = "", live: bool = False) -> str:
    """The page shell: navigation, live indicator, storage name, ``body``."""
    nav = "".join(f'<a href="{href}"{" class=active" if href == active else ""}>{esc(text)}</a>'
                  for href, text in _NAV)
    indicator = ('<span id="live" class="live off" title="live updates">offline</span>' if live else "")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)} \u00b7 rivers</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{esc(csrf)}">'
        '<link rel="stylesheet" href="/static/ui.css"><script defer src="/static/ui.js"></script>'
        f'</head><body><header><a class="brand" href="/">rivers</a><nav>{nav}</nav>{indicator}'
        f'<span class="storage" title="storage">{esc(storage)}</span></header>'
        f"<main>{body}</main></body></html>"
    )
