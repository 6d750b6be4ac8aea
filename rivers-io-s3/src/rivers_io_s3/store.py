"""``S3Store``: the object store of :class:`rivers.io_handlers.pickle.PickleIOHandler` on S3.

The published ``rs.PickleIOHandler(store=..., prefix=...)`` API takes an
obstore store; an ``obstore.store.S3Store`` works as is. This store has the
same constructor spelling (``S3Store("bucket", prefix=..., endpoint=...,
region=...)``) and adds what a pipeline running in several processes needs:
it pickles to its settings without credentials, builds its client again in
each process, and raises the errors of :mod:`rivers_io_s3.errors` naming
the bucket and key::

    from rivers.io_handlers.pickle import PickleIOHandler
    from rivers_io_s3 import S3Store

    handler = PickleIOHandler(store=S3Store("data", prefix="rivers"), prefix="v1")
    # asset "numbers" -> s3://data/rivers/v1/numbers.pkl
"""

from __future__ import annotations

from typing import Any, TypedDict

from rivers_io_s3.client import ClientSettings, build_store
from rivers_io_s3.failures import translate
from rivers_io_s3.runtime import native, process_token

__all__ = ["S3Store"]


class _Options(TypedDict):
    """What an :class:`S3Store` was made with (its pickled state, with the bucket)."""

    prefix: str | None
    endpoint_url: str | None
    region: str | None
    profile: str | None
    anonymous: bool
    retries: int
    backoff_s: float
    timeout_s: float
    connect_timeout_s: float


class S3Store:
    """Objects under ``prefix`` in ``bucket``, with ``put(key, data)`` and ``get(key)``.

    :param bucket: the bucket name.
    :param prefix: a folder inside the bucket prepended to every key.
    :param endpoint: the S3 API endpoint (``endpoint_url`` is accepted too).
    :param region: the region; ``None``: ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
    :param profile: an AWS profile of the shared config files (needs boto3).
    The remaining keywords are those of :class:`~rivers_io_s3.S3IOHandler`.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        endpoint: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        anonymous: bool = False,
        retries: int = 3,
        backoff_s: float = 0.1,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        if endpoint is not None and endpoint_url is not None and endpoint != endpoint_url:
            raise TypeError("S3Store takes endpoint= or endpoint_url=, not both")
        self._options: _Options = {
            "prefix": (prefix or "").strip("/") or None,
            "endpoint_url": endpoint if endpoint is not None else endpoint_url,
            "region": region,
            "profile": profile,
            "anonymous": anonymous,
            "retries": retries,
            "backoff_s": backoff_s,
            "timeout_s": timeout_s,
            "connect_timeout_s": connect_timeout_s,
        }
        self.bucket = bucket
        self._setup()

    def _setup(self) -> None:
        options = self._options
        self._settings = ClientSettings(
            self.bucket, options["endpoint_url"], options["region"], options["profile"], options["anonymous"],
            options["retries"], options["backoff_s"], options["timeout_s"], options["connect_timeout_s"], 16,
            "S3Store",
        )
        self._store: Any = None
        self._process: object = None  # the process_token() the client was built under

    @property
    def prefix(self) -> str | None:
        return self._options["prefix"]

    def client(self) -> Any:
        """This process's ``obstore.store.S3Store``."""
        token = process_token()
        if self._process is not token:  # no lock: a racing thread builds an equivalent store
            self._store = build_store(self._settings, self.prefix)
            self._process = token
        return self._store

    def _full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, exc: BaseException, action: str, key: str) -> Exception:
        return translate(
            exc, action=action, bucket=self.bucket, key=self._full_key(key), endpoint=self._options["endpoint_url"],
            what=f"object {key!r}", retries=self._settings.retries, timeout_s=self._settings.timeout_s,
        )

    def put(self, key: str, data: Any) -> None:
        """Store ``data`` (bytes or any buffer) under ``key`` in one atomic PUT."""
        obstore = native()
        try:
            obstore.put(self.client(), key, data, use_multipart=False)
        except Exception as exc:
            raise self._error(exc, "write", key) from None

    def get(self, key: str) -> Any:
        """The bytes stored under ``key`` (a buffer).

        :raises S3ValueNotFoundError: (a ``FileNotFoundError``) when there is none.
        """
        obstore = native()
        try:
            return obstore.get(self.client(), key).bytes()
        except Exception as exc:
            raise self._error(exc, "read", key) from None

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        obstore = native()
        try:
            obstore.delete(self.client(), key)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._error(exc, "delete", key) from None

    def __getstate__(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "options": dict(self._options)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.bucket = state["bucket"]
        self._options = state["options"]
        self._setup()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, S3Store):
            return NotImplemented
        return (self.bucket, self._options) == (other.bucket, other._options)

    def __hash__(self) -> int:
        return hash((S3Store, self.bucket, tuple(sorted(self._options.items()))))

    def __repr__(self) -> str:
        shown = {name: value for name, value in self._options.items() if name in ("prefix", "endpoint_url", "region")}
        args = "".join(f", {name}={value!r}" for name, value in shown.items() if value is not None)
        return f"S3Store({self.bucket!r}{args})"
