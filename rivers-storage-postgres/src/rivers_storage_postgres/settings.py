"""The storage URL and its settings: parsed once, credentials kept out of every display form.

``postgresql://[user[:password]@][host][:port]/database[?name=value&...]``
(scheme ``postgres`` too). Query parameters that rivers knows configure the
storage (:data:`STORAGE_PARAMETERS`); every other one (``sslmode``,
``connect_timeout``, ...) goes to libpq unchanged. The password comes from,
in this order: the ``password=`` argument, the URL, and then libpq's own
sources (``PGPASSWORD``, the password file ``~/.pgpass`` or ``PGPASSFILE``),
or ``RIVERS_STORAGE_PASSWORD``. :meth:`PostgresSettings.display` is the
only form of the URL that logs, reprs and error messages use: it never
holds a password.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from rivers.exceptions import ConfigurationError
from rivers.storage.pools import parse_duration

__all__ = ["DEFAULT_POOL_SIZE", "PASSWORD_ENV", "STORAGE_PARAMETERS", "PostgresSettings"]

#: Connections one storage object keeps at most (threads share them).
DEFAULT_POOL_SIZE: Final = 4
#: Environment variable read for the password when neither the URL nor ``password=`` has one.
PASSWORD_ENV: Final = "RIVERS_STORAGE_PASSWORD"
SCHEMES: Final = ("postgresql", "postgres")

#: Query parameters / keyword arguments that configure the storage rather than libpq.
STORAGE_PARAMETERS: Final = (
    "pool_size", "pool", "schema", "statement_timeout", "retry_timeout", "connect_timeout", "application_name",
)
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("0", "false", "no", "off")


def _seconds(value: object, name: str, display: str) -> float:
    try:
        seconds = parse_duration(value, name)  # type: ignore[arg-type]
    except ValueError as error:
        raise ConfigurationError(f"PostgreSQL storage {display}: {error}") from None
    return seconds


class PostgresSettings:
    """Connection settings of one PostgreSQL storage (see the module docstring)."""

    def __init__(self, url: str, config: Mapping[str, Any]) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ConfigurationError(f"not a PostgreSQL storage URL: scheme {parts.scheme!r} (expected postgresql://)")
        self.user: str | None = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        try:
            self.host: str | None = parts.hostname
            self.port: int | None = parts.port
        except ValueError:
            raise ConfigurationError(
                f"PostgreSQL storage URL has an invalid port: {self._scrubbed(url, password)!r}"
            ) from None
        self.database: str | None = unquote(parts.path.lstrip("/")) or None
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        config = dict(config)
        # the connect() keywords of the published package
        if "username" in config:
            config.setdefault("user", config.pop("username"))
        if "namespace" in config:
            config.setdefault("schema", config.pop("namespace"))
        self.user = config.pop("user", None) or options.pop("user", None) or self.user
        self.database = config.pop("database", None) or options.pop("dbname", None) or self.database
        password = config.pop("password", None) or options.pop("password", None) or password
        if password is None:
            password = os.environ.get(PASSWORD_ENV) or None
        self._password = password
        self.host = options.pop("host", None) or self.host
        if "port" in options:
            self.port = int(options.pop("port"))
        storage: dict[str, Any] = {name: options.pop(name) for name in STORAGE_PARAMETERS if name in options}
        storage.update(config)
        unknown = sorted(set(storage) - set(STORAGE_PARAMETERS))
        if unknown:
            raise ConfigurationError(
                f"PostgreSQL storage {self.display()}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(STORAGE_PARAMETERS)} (libpq parameters go in the URL's query string)"
            )
        self.libpq_options: dict[str, str] = options
        self.pool_size = self._pool_size(storage.get("pool_size", DEFAULT_POOL_SIZE), storage.get("pool", True))
        self.schema = self._schema(storage.get("schema", "public"))
        timeout = storage.get("statement_timeout")
        self.statement_timeout: float | None = (
            None if timeout in (None, "", 0, "0") else _seconds(timeout, "statement_timeout", self.display())
        )
        self.retry_timeout = _seconds(storage.get("retry_timeout", 30.0), "retry_timeout", self.display())
        self.connect_timeout = _seconds(storage.get("connect_timeout", 10.0), "connect_timeout", self.display())
        self.application_name = str(storage.get("application_name", "rivers"))

    # -- validation -------------------------------------------------------------

    def _pool_size(self, size: object, pool: object) -> int:
        """Connections of the pool; 0 means no pool (a connection per operation, for pgBouncer)."""
        text = str(pool).lower()
        if text in _FALSE:
            return 0
        if text not in _TRUE:
            raise ConfigurationError(f"PostgreSQL storage {self.display()}: pool must be on or off, not {pool!r}")
        try:
            number = int(size)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            number = -1
        if isinstance(size, bool) or number < 0:
            raise ConfigurationError(
                f"PostgreSQL storage {self.display()}: pool_size must be an int >= 0 (0: no pool), not {size!r}"
            )
        return number

    def _schema(self, schema: object) -> str:
        if not isinstance(schema, str) or not _IDENTIFIER.match(schema):
            raise ConfigurationError(
                f"PostgreSQL storage {self.display()}: schema must be a plain SQL identifier "
                f"(letters, digits, '_'), not {schema!r}"
            )
        return schema.lower()

    # -- forms of the URL ------------------------------------------------------------

    @property
    def has_password(self) -> bool:
        """Whether a password was given (otherwise libpq looks in PGPASSWORD and ~/.pgpass)."""
        return self._password is not None

    def display(self) -> str:
        """``postgresql://user@host:port/database`` without the password (for logs, reprs and errors)."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        host = self.host or ""
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{host}{port}/{self.database or ''}"

    def where(self) -> str:
        """``database 'x' on host:port`` for error messages."""
        host = self.host or os.environ.get("PGHOST") or "the local socket"
        port = f":{self.port}" if self.port else ""
        database = self.database or os.environ.get("PGDATABASE") or self.user or "(default)"
        return f"database '{database}' on {host}{port}"

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``psycopg.connect`` (the password among them; never display these)."""
        kwargs: dict[str, Any] = dict(self.libpq_options)
        for name, value in (("host", self.host), ("port", self.port), ("dbname", self.database),
                            ("user", self.user), ("password", self._password)):
            if value is not None:
                kwargs[name] = value
        kwargs.setdefault("connect_timeout", max(1, round(self.connect_timeout)))
        kwargs.setdefault("application_name", self.application_name)
        return kwargs

    def scrub(self, text: str) -> str:
        """``text`` with the password (if it occurs) replaced by ``***``."""
        return self._scrubbed(text, self._password)

    @staticmethod
    def _scrubbed(text: str, password: str | None) -> str:
        if password:
            text = text.replace(password, "***").replace(quote(password, safe=""), "***")
        return text
