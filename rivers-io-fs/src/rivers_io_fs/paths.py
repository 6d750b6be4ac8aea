"""Where values live: ``<base_dir>/<asset>[/<partition>]<extension>``, escaped.

The escaping scheme is shared with the other handlers that name values
(``rivers-io-s3`` uses it for object keys), so it lives in rivers-core:
:mod:`rivers.io_handlers.escaping` documents it. This module keeps the names
this distribution has always exported.
"""

from __future__ import annotations

from rivers.io_handlers.escaping import (
    MAX_COMPONENT,
    escape_component,
    partition_segments,
    relative_parts,
    unescape_component,
)

__all__ = [
    "MAX_COMPONENT",
    "escape_component",
    "partition_segments",
    "relative_parts",
    "unescape_component",
]
