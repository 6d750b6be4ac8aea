"""URL canonicalisation of ``MetadataValue.url`` (a WHATWG-style subset; ``urllib.parse`` imported lazily)."""

from __future__ import annotations

import builtins as _builtins

from rivers.exceptions import InvalidMetadataError

__all__ = ["canonicalize_url"]


_SPECIAL_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "file": None}
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_FORBIDDEN_HOST = frozenset(" #/:<>?@[\\]^|\t\n\r\x00")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | frozenset("%\x7f")

# Printable ASCII characters left as-is in each component (WHATWG percent-encode sets).
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))
_PATH_SAFE = "".join(c for c in _PRINTABLE if c not in '"#<>?`{}')
_QUERY_SAFE = "".join(c for c in _PRINTABLE if c not in '"#<>')
_SPECIAL_QUERY_SAFE = _QUERY_SAFE.replace("'", "")
_FRAGMENT_SAFE = "".join(c for c in _PRINTABLE if c not in '"<>`')
_USERINFO_SAFE = "".join(c for c in _PATH_SAFE if c not in "/:;=@[\\]^|")


def _invalid_url(value: str, reason: str) -> InvalidMetadataError:
    return InvalidMetadataError(f"Invalid URL: {value!r} ({reason})")


def _remove_dot_segments(segments: list[str]) -> list[str]:
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        low = seg.lower()
        if low in ("..", ".%2e", "%2e.", "%2e%2e"):
            if out:
                out.pop()
            if i == last:
                out.append("")
        elif low in (".", "%2e"):
            if i == last:
                out.append("")
        else:
            out.append(seg)
    return out


def canonicalize_url(value: str) -> str:
    """Parse ``value`` as an absolute URL and return its canonical serialisation.

    Follows the WHATWG URL standard for the common cases (what the Rust ``url``
    crate and browsers do): lower-case scheme and (special-scheme) host, IDNA
    for non-ASCII hosts, default port removed, ``/`` path for special schemes,
    dot segments resolved, unsafe characters percent-encoded. A scheme and a
    host are required (``file:`` URLs may have an empty host).
    """
    from urllib.parse import quote, unquote

    s = value.strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    s = s.replace("\t", "").replace("\n", "").replace("\r", "")
    colon = s.find(":")
    if colon <= 0 or s[0] not in _ASCII_LETTERS or not _SCHEME_CHARS.issuperset(s[:colon]):
        raise _invalid_url(value, "missing scheme")
    scheme = s[:colon].lower()
    rest = s[colon + 1 :]
    special = scheme in _SPECIAL_PORTS
    if special:
        rest = rest.replace("\\", "/")

    # Split off fragment and query.
    fragment = query = None
    hash_pos = rest.find("#")
    if hash_pos >= 0:
        rest, fragment = rest[:hash_pos], rest[hash_pos + 1 :]
    q_pos = rest.find("?")
    if q_pos >= 0:
        rest, query = rest[:q_pos], rest[q_pos + 1 :]

    # Authority.
    if scheme == "file":
        if rest.startswith("//"):
            rest = rest[2:]
            slash = rest.find("/")
            authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
        else:
            authority, path = "", rest
    elif special:
        rest = rest.lstrip("/")
        slash = rest.find("/")
        authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    else:
        if not rest.startswith("//"):
            raise _invalid_url(value, "missing host")
        rest = rest[2:]
        slash = rest.find("/")
        authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])

    userinfo = ""
    at = authority.rfind("@")
    if at >= 0:
        userinfo, authority = authority[:at], authority[at + 1 :]
        if scheme == "file":
            raise _invalid_url(value, "file URLs cannot have credentials")

    # Host and port.
    port_str = ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _invalid_url(value, "unterminated IPv6 address")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise _invalid_url(value, "invalid IPv6 address")
            port_str = after[1:]
        import ipaddress

        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise _invalid_url(value, "invalid IPv6 address") from None
    else:
        host, _, port_str = authority.partition(":")
        if special:
            host = unquote(host)
            if any(c in _FORBIDDEN_DOMAIN for c in host):
                raise _invalid_url(value, "invalid host character")
            if host.isascii():
                host = host.lower()
            else:
                try:
                    host = host.encode("idna").decode("ascii")
                except UnicodeError:
                    raise _invalid_url(value, "invalid international domain name") from None
        else:
            if any(c in _FORBIDDEN_HOST for c in host):
                raise _invalid_url(value, "invalid host character")
            host = quote(host, safe=_PRINTABLE)
    if scheme == "file":
        if host == "localhost":
            host = ""
    elif not host:
        raise _invalid_url(value, "empty host")

    port = ""
    if port_str:
        if not port_str.isdigit() or not port_str.isascii():
            raise _invalid_url(value, "invalid port number")
        port_num = _builtins.int(port_str)
        if port_num > 65535:
            raise _invalid_url(value, "invalid port number")
        if scheme == "file":
            raise _invalid_url(value, "file URLs cannot have a port")
        if _SPECIAL_PORTS.get(scheme) != port_num:
            port = f":{port_num}"

    # Path.
    if path or special:
        segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
        segments = _remove_dot_segments(segments) if segments else [""]
        path = "/" + "/".join(quote(seg, safe=_PATH_SAFE) for seg in segments)

    if userinfo:
        user, _, password = userinfo.partition(":")
        user = quote(user, safe=_USERINFO_SAFE)
        password = quote(password, safe=_USERINFO_SAFE)
        userinfo = f"{user}:{password}@" if password else f"{user}@"

    out = f"{scheme}://{userinfo}{host}{port}{path}"
    if query is not None:
        out += "?" + quote(query, safe=_SPECIAL_QUERY_SAFE if special else _QUERY_SAFE)
    if fragment is not None:
        out += "#" + quote(fragment, safe=_FRAGMENT_SAFE)
    return out
