"""``S3IOHandler``: one object per asset value in an S3 (or S3-compatible) bucket."""

from __future__ import annotations

import functools
import time
from typing import IO, TYPE_CHECKING, Any, cast

from rivers.exceptions import InvalidMetadataError
from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.escaping import escape_component, relative_parts
from rivers.io_handlers.partition_keys import (
    BATCH_SEGMENT,
    NOT_STORED,
    BatchRef,
    batch_id,
    batch_manifest,
    batch_of,
    manifest_batch,
)
from rivers.io_handlers.serialization import PICKLE, Format, FormatUnavailableError, get_format
from rivers.metadata import MetadataValue

from rivers_io_s3.client import ClientSettings, build_store
from rivers_io_s3.errors import S3DeserializationError, S3IOHandlerError, S3SerializationError, S3ValueNotFoundError
from rivers_io_s3.failures import translate
from rivers_io_s3.runtime import native, process_token
from rivers_io_s3.transfer import TransferFailed, Upload, download

if TYPE_CHECKING:
    from rivers.context import InputContext, OutputContext

    Context = InputContext | OutputContext

__all__ = ["FORMAT_METADATA_KEY", "S3IOHandler"]

#: Static asset metadata key choosing the format of one asset (``{"s3/format": "parquet"}``).
FORMAT_METADATA_KEY = "s3/format"
_INSTALL_HINTS = {"parquet": "rivers-io-s3[parquet]"}
#: Extension of a batch's manifest (``<asset>/__batch__/<id>.keys``), next to its value ``<id><ext>``.
_MANIFEST_EXTENSION = ".keys"
_available: set[str] = set()


def _checked_format(name: str, asset: str | None = None) -> Format:
    fmt = get_format(name)
    if name not in _available:
        try:
            fmt.ensure_available(_INSTALL_HINTS.get(name))
        except FormatUnavailableError as exc:
            raise FormatUnavailableError(f"asset {asset!r}: {exc}" if asset else str(exc)) from None
        _available.add(name)
    return fmt


@functools.lru_cache(maxsize=4096)
def _uri_value(uri: str) -> MetadataValue:
    """``uri`` as a URL metadata value (as text if URL normalisation would change it)."""
    try:
        value = MetadataValue.url(uri)
    except InvalidMetadataError:
        return MetadataValue.text(uri)
    return value if value.value == uri else MetadataValue.text(uri)


def _describe(context: Context, partition_key: Any) -> str:
    if partition_key is None:
        return f"asset {context.asset_name!r}"
    suffix = getattr(partition_key, "path_suffix", None)
    shown = suffix() if suffix is not None and not isinstance(partition_key, str) else partition_key
    return f"asset {context.asset_name!r} partition {shown!r}"


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class S3IOHandler(BaseIOHandler):
    """Persists each asset value as an object in ``bucket``.

    Settings (all but ``bucket`` optional):

    ``bucket``
        The bucket name.
    ``prefix``
        Folder inside the bucket (``"prod/rivers"``); leading and trailing
        ``/`` are ignored.
    ``endpoint_url``
        The S3 API endpoint for S3-compatible stores (MinIO, Ceph, R2,
        moto): ``"http://127.0.0.1:9000"``. ``None``: AWS S3 of ``region``.
    ``region``
        The region; ``None``: ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
    ``format``
        ``"pickle"`` (default), ``"json"``, ``"parquet"`` (needs
        ``rivers-io-s3[parquet]``) or any format registered in
        :mod:`rivers.io_handlers.serialization`; one asset can override it
        with the static metadata ``{"s3/format": "json"}``.
    ``profile``
        An AWS profile of the shared config files (needs boto3). Credentials
        are never settings: see :mod:`rivers_io_s3.client` for the chain.
    ``anonymous``
        Send unsigned requests (public buckets).
    ``retries``, ``backoff_s``
        Failed requests (5xx answers, dropped connections, timeouts of
        reads) are retried ``retries`` times (default 3) with exponential
        backoff starting at ``backoff_s`` seconds (default 0.1), with jitter.
    ``timeout_s``, ``connect_timeout_s``
        Longest time of one request (default 120 s) and of connecting (5 s).
    ``max_concurrency``
        Requests in flight for a multi-partition load and for the parts of
        one multipart upload (default 16).

    Layout: ``<prefix>/<asset><ext>`` and ``<prefix>/<asset>/<partition><ext>``,
    every component escaped as in :mod:`rivers.io_handlers.escaping` (the
    fs plugin's scheme). Override :meth:`key_for` to change it.

    Output metadata: ``uri`` (``s3://bucket/key``), ``size_bytes``, ``etag``,
    ``format``, ``write_duration_s``.

    The handler pickles to its settings and builds its client in the
    process that uses it (again after a fork), so executors can send it to
    worker processes and pods.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    format: str = "pickle"
    profile: str | None = None
    anonymous: bool = False
    retries: int = 3
    backoff_s: float = 0.1
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    max_concurrency: int = 16

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._configure()

    def _configure(self) -> None:
        self._client_settings = ClientSettings(
            self.bucket, self.endpoint_url, self.region, self.profile, self.anonymous, self.retries,
            self.backoff_s, self.timeout_s, self.connect_timeout_s, self.max_concurrency, "S3IOHandler",
        )
        if not isinstance(self.prefix, str):
            raise TypeError(f"S3IOHandler prefix must be a str, got {type(self.prefix).__name__}")
        if not isinstance(self.format, str):
            raise TypeError(f"S3IOHandler format must be a format name (str), got {self.format!r}")
        prefix = self.prefix.strip("/")
        self._key_prefix = prefix + "/" if prefix else ""
        self._format = _checked_format(self.format)
        self._store: Any = None
        self._process: object = None  # the process_token() the client was built under
        self._pool: Any = None

    # ------------------------------------------------- pickling and copies
    def __getstate__(self) -> dict[str, Any]:
        return self.settings()  # no client, no credentials: rebuilt in the receiving process

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._configure()

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        clone = super().model_copy(update=update)
        clone._configure()
        return clone

    # -------------------------------------------------------------- client
    def client(self) -> Any:
        """This process's ``obstore.store.S3Store`` (built on first use, and again after a fork).

        No lock: two threads racing here build two equivalent stores and one
        is dropped (a lock could be inherited held by a forked child).
        """
        token = process_token()
        if self._process is not token:
            self._store = build_store(self._client_settings)
            self._pool = None
            self._process = token
        return self._store

    def _executor(self) -> Any:
        """This process's thread pool of concurrent loads."""
        self.client()
        pool = self._pool
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="rivers-s3")
        return pool

    # -------------------------------------------------------------- layout
    def format_for(self, context: Context) -> Format:
        """The format of ``context``'s asset: its ``s3/format`` metadata, else ``format``."""
        metadata = context.asset_metadata
        if metadata:
            name = metadata.get(FORMAT_METADATA_KEY)
            if name is not None and name != self._format.name:
                return _checked_format(name, context.asset_name)
        return self._format

    def key_for(self, context: Context, partition_key: Any = None) -> str:
        """The object key of ``context``'s asset at ``partition_key`` (``None``: unpartitioned).

        Override it to change the layout; writes and loads (once per key of a
        multi-partition load) use it.
        """
        extension = self.format_for(context).extension
        try:
            if partition_key is None:
                return self._key_prefix + escape_component(context.asset_name) + extension
            return self._key_prefix + "/".join(relative_parts(context.asset_name, partition_key, extension))
        except ValueError as exc:
            raise ValueError(f"asset {context.asset_name!r}: {exc}") from None

    def uri(self, key: str) -> str:
        """``s3://<bucket>/<key>``."""
        return f"s3://{self.bucket}/{key}"

    def _error(
        self, exc: BaseException, action: str, context: Context, partition_key: Any, key: str
    ) -> S3IOHandlerError:
        settings = self._client_settings
        return translate(
            exc, action=action, bucket=self.bucket, key=key, endpoint=self.endpoint_url,
            what=_describe(context, partition_key), retries=settings.retries, timeout_s=settings.timeout_s,
            asset=context.asset_name, partition=partition_key,
        )

    # -------------------------------------------------------------- writes
    def handle_output(self, context: OutputContext, obj: Any) -> None:
        start = time.perf_counter()
        fmt = self.format_for(context)
        partition = context.partition
        batch = batch_of(partition)
        if batch is None:
            partition_key = None if partition is None else partition.key
            key = self.key_for(context, partition_key)
        else:
            partition_key = batch.first
            key = self._batch_prefix(context) + batch.batch_id + fmt.extension
        size, etag = self._write(context, obj, fmt, key, partition_key)
        if batch is not None:
            self._finish_batch(context, batch, key)
        context.add_output_metadata(
            {
                "uri": _uri_value(self.uri(key)),
                "size_bytes": MetadataValue.int(size),
                "etag": MetadataValue.text((etag or "").strip('"')),
                "format": MetadataValue.text(fmt.name),
                "write_duration_s": MetadataValue.float_(round(time.perf_counter() - start, 6)),
            }
        )

    def _write(self, context: OutputContext, obj: Any, fmt: Format, key: str, partition_key: Any) -> tuple[int, Any]:
        """Serialise ``obj`` into the object ``key``; ``(size, etag)``. Nothing is stored if it fails."""
        upload = Upload(self.client(), key, self.max_concurrency)
        try:
            fmt.write(obj, cast("IO[bytes]", upload))  # a raw binary file object: what formats write to
        except TransferFailed as exc:
            upload.abort(exc.error)
            raise self._error(exc.error, "write", context, partition_key, key) from None
        except FormatUnavailableError:
            upload.abort(RuntimeError("format unavailable"))
            raise
        except Exception as exc:
            upload.abort(exc)
            raise S3SerializationError(
                f"cannot write {_describe(context, partition_key)} to {self.uri(key)}: the {fmt.name!r} format "
                f"cannot store a {_type_name(obj)} ({type(exc).__name__}: {exc}); nothing was stored",
                bucket=self.bucket, key=key, asset=context.asset_name, partition=partition_key,
            ) from exc
        try:
            etag = upload.finish()
        except Exception as exc:
            upload.abort(exc)
            raise self._error(exc, "write", context, partition_key, key) from None
        return upload.size, etag

    # -------------------------------------------------------- batch values
    def _batch_prefix(self, context: Context) -> str:
        """``<prefix>/<asset>/__batch__/``: where the asset's batch values and their manifests live."""
        return f"{self._key_prefix}{escape_component(context.asset_name)}/{BATCH_SEGMENT}/"

    def _finish_batch(self, context: OutputContext, batch: BatchRef, key: str) -> None:
        """After a batch's value is stored: its manifest, then the members' own objects go (one bulk delete).

        A member loaded on its own then finds no object and, through the
        manifests (the cold path of a missing value), raises ``BatchValueError``.
        """
        keys = context.partition.keys
        manifest_key = key[: len(key) - len(self.format_for(context).extension)] + _MANIFEST_EXTENSION
        store, obstore = self.client(), native()
        try:
            obstore.put(store, manifest_key, batch_manifest(batch, keys), use_multipart=False)
            obstore.delete(store, [self.key_for(context, member) for member in keys])
        except Exception as exc:
            raise self._error(exc, "write", context, batch.first, manifest_key) from None

    def _batch_holding(self, context: InputContext, partition_key: Any) -> BatchRef | None:
        """The newest batch of the asset whose manifest lists ``partition_key`` (None if none, or unreadable)."""
        store, obstore = self.client(), native()
        try:
            listing = obstore.list(store, self._batch_prefix(context)).collect()
            manifests = sorted(
                (item for item in listing if item["path"].endswith(_MANIFEST_EXTENSION)),
                key=lambda item: item["last_modified"], reverse=True,
            )
            for item in manifests:
                batch = manifest_batch(bytes(obstore.get(store, item["path"]).bytes()), partition_key)
                if batch is not None:
                    return batch
        except Exception:  # noqa: BLE001 - no listing rights, a race: the plain missing-value error stands
            return None
        return None

    # --------------------------------------------------------------- loads
    def load_input(self, context: InputContext) -> Any:
        """The stored value; a context with several partition keys loads ``{key: value}``, fetched concurrently.

        Several keys that are exactly a batch a batched step stored load as
        that batch's one value; a member of a batch loaded otherwise raises
        :class:`~rivers.exceptions.BatchValueError`.
        """
        partition = context.partition
        if partition is None:
            return self._read(context, self.key_for(context, None), None)
        keys = list(partition.keys)
        if len(keys) == 1:
            return self._load_key(context, keys[0])
        value = self._load_batch(context, keys)
        if value is not NOT_STORED:
            return value
        values = self._executor().map(lambda key: self._load_key(context, key), keys)
        return dict(zip(keys, values))

    def _load_key(self, context: InputContext, partition_key: Any) -> Any:
        try:
            return self._read(context, self.key_for(context, partition_key), partition_key)
        except S3ValueNotFoundError as missing:
            batch = self._batch_holding(context, partition_key)
            if batch is None:
                raise
            raise batch.error(context.asset_name, partition_key) from missing

    def _load_batch(self, context: InputContext, keys: list[Any]) -> Any:
        key = self._batch_prefix(context) + batch_id(keys) + self.format_for(context).extension
        try:
            return self._read(context, key, keys[0])
        except S3ValueNotFoundError:
            return NOT_STORED

    def _read(self, context: InputContext, key: str, partition_key: Any) -> Any:
        fmt = self.format_for(context)
        try:
            buffer, stream = download(self.client(), key, stream_reader=fmt is PICKLE)
        except Exception as exc:
            raise self._error(exc, "read", context, partition_key, key) from None
        try:
            return fmt.loads(buffer) if stream is None else fmt.read(stream)
        except TransferFailed as exc:
            raise self._error(exc.error, "read", context, partition_key, key) from None
        except FormatUnavailableError:
            raise
        except Exception as exc:
            raise S3DeserializationError(
                f"cannot read {_describe(context, partition_key)} from {self.uri(key)} with the {fmt.name!r} "
                f"format ({type(exc).__name__}: {exc}); was it written with another format or version?",
                bucket=self.bucket, key=key, asset=context.asset_name, partition=partition_key,
            ) from exc
