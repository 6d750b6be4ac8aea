"""How handlers name stored values: ``<root>/<asset>[/<partition>]<extension>``, escaped.

Shared by the handlers that persist values under names (``rivers-io-fs``
builds file paths with it, ``rivers-io-s3`` object keys), so that every one
lays values out the same way and a graph node ``g/t`` never collides with
partition ``t`` of asset ``g``.

Each *component* (the asset name, each segment of a partition key) is
escaped on its own with :func:`escape_component`:

* ASCII letters, digits and ``- _ = + , @`` are kept;
* every other character — including ``/``, ``\\``, ``.``, ``%``, ``:``,
  spaces, control and non-ASCII characters — becomes ``%XX`` per UTF-8
  byte (upper-case hex), as in URLs;
* a component equal to a Windows device name (``CON``, ``PRN``, ``AUX``,
  ``NUL``, ``COM0``-``COM9``, ``LPT0``-``LPT9``, any case) has its first
  character escaped (``con`` -> ``%63on``);
* a component longer than 200 characters after escaping is cut to 160 and
  followed by ``%~`` and 32 hex digits of its SHA-256 (names stay unique
  and within the 255-byte limit of common filesystems; such names cannot be
  unescaped).

Because ``.`` is always escaped, a component never contains a dot: the only
dot in a path is the one before the format's extension. So a value file can
never be mistaken for a directory (asset ``x`` stored as ``x.pkl`` vs a
partitioned asset named ``x.pkl``), no component is ``.`` or ``..`` or hidden,
and no name ends with a dot or space (which Windows drops). Because ``/`` is
escaped, the graph-internal node ``g/t`` is the single file ``g%2Ft.pkl`` and
cannot collide with partition ``t`` of asset ``g`` (``g/t.pkl``). The fs
handler's temporary files start with a dot, so they never collide with a value.

Partition keys:

* a plain ``str`` key is one component (``"a/b"`` -> ``a%2Fb``);
* a key object with ``path_suffix()`` (multi-dimensional keys) gives a
  relative path; it is split on ``/`` and each segment is escaped
  (``"d=2024-01-02/r=us"`` -> ``d=2024-01-02/r=us``);
* any other object is ``str(key)``, one component.

Escaping is a pure function of the names, so any process (or another tool)
computes the same paths and keys. Case-insensitive filesystems (macOS, Windows) treat
``Orders`` and ``orders`` as the same file: avoid asset names or keys that
differ only in case there.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any
from urllib.parse import unquote

__all__ = [
    "MAX_COMPONENT",
    "escape_component",
    "partition_segments",
    "relative_parts",
    "unescape_component",
]

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+,@")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(10)] + [f"LPT{i}" for i in range(10)]
)
#: Longest escaped component kept as is.
MAX_COMPONENT = 200
_KEEP = 160
_HASH_MARK = "%~"


def _escape_char(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=4096)
def escape_component(text: str) -> str:
    """The file-name-safe form of one path component (see the module docstring).

    >>> escape_component("g/t")
    'g%2Ft'
    >>> escape_component("2024-01-01T00:00")
    '2024-01-01T00%3A00'

    :raises ValueError: ``text`` is empty or not a str.
    """
    if not isinstance(text, str):
        raise ValueError(f"path components must be str, got {type(text).__name__} {text!r}")
    if not text:
        raise ValueError("empty names and partition keys cannot be stored")
    safe = _SAFE
    if all(char in safe for char in text):
        escaped = text
    else:
        escaped = "".join(char if char in safe else _escape_char(char) for char in text)
    if escaped.upper() in _WINDOWS_RESERVED:
        escaped = _escape_char(escaped[0]) + escaped[1:]
    if len(escaped) > MAX_COMPONENT:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        kept: list[str] = []
        length = 0
        for char in text:  # cut between characters, never inside an escape sequence
            piece = char if char in safe else _escape_char(char)
            if length + len(piece) > _KEEP:
                break
            kept.append(piece)
            length += len(piece)
        escaped = "".join(kept) + _HASH_MARK + digest
    return escaped


def unescape_component(component: str) -> str:
    """Inverse of :func:`escape_component`.

    :raises ValueError: for a shortened (hashed) component, which cannot be reversed.
    """
    if _HASH_MARK in component:
        raise ValueError(f"{component!r} is a shortened name and cannot be unescaped")
    return unquote(component, errors="surrogatepass")


def partition_segments(key: Any) -> list[str]:
    """The escaped directory/file segments of a partition key."""
    suffix = getattr(key, "path_suffix", None)
    if suffix is not None:
        text = suffix()
        if not isinstance(text, str):
            raise ValueError(f"path_suffix() of partition key {key!r} returned {type(text).__name__}, not str")
        try:
            return [escape_component(part) for part in text.split("/")]
        except ValueError:
            raise ValueError(f"partition key {key!r} has an empty segment in its path suffix {text!r}") from None
    text = key if isinstance(key, str) else str(key)
    try:
        return [escape_component(text)]
    except ValueError:
        raise ValueError("an empty partition key cannot be stored") from None


def relative_parts(asset_name: str, partition_key: Any, extension: str) -> list[str]:
    """Path components (or object-key segments), relative to the root, of one stored value.

    >>> relative_parts("orders", None, ".pkl")
    ['orders.pkl']
    >>> relative_parts("orders", "2024-01-01", ".pkl")
    ['orders', '2024-01-01.pkl']
    """
    asset = escape_component(asset_name)
    if partition_key is None:
        return [asset + extension]
    parts = partition_segments(partition_key)
    parts[-1] += extension
    return [asset, *parts]
