"""``FilesystemIOHandler``: one file per asset value under a base directory."""

from __future__ import annotations

import errno as _errno
import functools
import io
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.partition_keys import (
    BATCH_SEGMENT,
    NOT_STORED,
    BatchRef,
    batch_manifest,
    batch_of,
    load_partitions,
    manifest_batch,
)
from rivers.io_handlers.serialization import (
    JSON,
    PICKLE,
    Format,
    FormatUnavailableError,
    available_formats,
    get_format,
)
from rivers.metadata import MetadataValue

from rivers_io_fs.atomic import atomic_write
from rivers_io_fs.errors import (
    DeserializationError,
    FilesystemAccessError,
    FilesystemIOHandlerError,
    SerializationError,
    ValueNotFoundError,
)
from rivers_io_fs.paths import escape_component, relative_parts

__all__ = ["FORMAT_METADATA_KEY", "MANIFEST_EXTENSION", "FilesystemIOHandler"]

#: Static asset metadata key choosing the format of one asset (``{"fs/format": "parquet"}``).
FORMAT_METADATA_KEY = "fs/format"

#: Extension of a batch's manifest (its keys), next to the batch value in ``<asset>/__batch__/``.
MANIFEST_EXTENSION = ".keys"

#: What to install for a format whose library is missing.
_INSTALL_HINTS = {"parquet": "rivers-io-fs[parquet]"}
_available: set[str] = set()  # formats whose required modules were found

_SEP = os.sep
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
#: Buffer of streamed reads (``io.DEFAULT_BUFFER_SIZE``; larger ones measured slower for pickle,
#: which reads big payloads past the buffer). Giving a size also skips ``open``'s ``isatty`` call.
_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
#: Files up to this size of a bytes-native format are read with one ``pread``
#: and decoded with ``loads``; larger ones are streamed (no second copy of the data).
WHOLE_READ_LIMIT = 64 * 1024
#: The built-in formats whose ``write`` only calls ``fileobj.write`` with a few
#: large chunks and whose ``loads`` decodes a whole file's bytes: they are
#: written unbuffered and small files are read in one system call. Other
#: formats (parquet, your own) get ordinary buffered file objects.
_BYTES_NATIVE = (PICKLE, JSON)
_pread = getattr(os, "pread", None)  # not on Windows
_perf_counter = time.perf_counter
_path_value = MetadataValue.path
_int_value = MetadataValue.int
_float_value = MetadataValue.float_


@functools.lru_cache(maxsize=64)
def _format_value(name: str) -> MetadataValue:
    return MetadataValue.text(name)


class FilesystemIOHandler(BaseIOHandler):
    """Persists each asset value as a file under ``base_dir``.

    Settings:

    ``base_dir``
        Root directory (default ``"data"``). A relative path is resolved
        against the working directory *when the handler is created*, so a
        later ``chdir`` (or a worker process started elsewhere) uses the same
        files. ``~`` is expanded. The directory is created on first write.
    ``format``
        ``"pickle"`` (default), ``"json"`` or ``"parquet"`` (pandas/polars
        DataFrames, pyarrow Tables; needs ``pip install 'rivers-io-fs[parquet]'``),
        or any format registered in :mod:`rivers.io_handlers.serialization`.
        One asset can use another format through its static metadata:
        ``@rs.Asset(metadata={"fs/format": "parquet"})``.
    ``fsync``
        ``True`` (default): every write is synced to disk before it becomes
        visible, and the directory after the rename, so a value survives a
        power loss. That is two device flushes per write: about 0.2 ms for a
        small value on the benchmark VM, where a plain ``pickle.dump`` of
        1 KB takes 0.25 ms (see the README's Performance section).
        ``False``: writes are still atomic against crashing processes (a
        killed writer never leaves a torn value), but the kernel decides
        when the data reaches the disk, so after a power loss or kernel
        crash a value can be older, or even empty, depending on the
        filesystem — much faster for many small values.

    Layout: ``<base_dir>/<asset><ext>`` and, for partitioned values,
    ``<base_dir>/<asset>/<partition><ext>``, with names escaped as described
    in :mod:`rivers_io_fs.paths`. Override :meth:`path_for` to change it.
    A batched step's one value (see :mod:`rivers.io_handlers.partition_keys`)
    is written once to ``<base_dir>/<asset>/__batch__/<batch id><ext>``
    (:meth:`batch_path_for`) with its manifest ``<batch id>.keys`` (the
    batch's keys, JSON) beside it, and older values the members had on their
    own are removed; loading a member alone finds the manifest and raises
    :class:`~rivers.exceptions.BatchValueError`.

    Writes are atomic (temporary file in the same directory, ``os.replace``).
    Loading a context whose partition has several keys returns a dict
    ``{key: value}``. A value that does not exist raises
    :class:`~rivers_io_fs.ValueNotFoundError` (a ``FileNotFoundError``).

    Output metadata: ``path`` (``MetadataValue.path``), ``size_bytes``,
    ``format`` and ``write_duration_s`` (seconds, a float: serialisation,
    write, fsync and rename).

    The handler holds no open files and pickles to its settings, so it can be
    sent to worker processes.
    """

    base_dir: str = "data"
    format: str = "pickle"
    fsync: bool = True

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._configure()

    def _configure(self) -> None:
        base_dir = self.base_dir
        if not isinstance(base_dir, (str, os.PathLike)):
            raise TypeError(f"FilesystemIOHandler base_dir must be a str or path, got {type(base_dir).__name__}")
        if not os.fspath(base_dir):
            raise ValueError("FilesystemIOHandler base_dir must not be empty; use '.' for the working directory")
        if not isinstance(self.fsync, bool):
            raise TypeError(f"FilesystemIOHandler fsync must be true or false, got {self.fsync!r}")
        if not isinstance(self.format, str):
            raise TypeError(f"FilesystemIOHandler format must be a format name (str), got {self.format!r}")
        self._root = os.path.abspath(os.path.expanduser(os.fspath(base_dir)))
        self._prefix = self._root if self._root.endswith(_SEP) else self._root + _SEP
        self._format = _checked_format(self.format)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        clone = super().model_copy(update=update)
        clone._configure()
        return clone

    # ------------------------------------------------------------------ layout
    @property
    def root(self) -> Path:
        """The absolute base directory."""
        return Path(self._root)

    def format_for(self, context: Any) -> Format:
        """The format of ``context``'s asset: its ``fs/format`` metadata, else ``format``."""
        metadata = context.asset_metadata
        if metadata:
            name = metadata.get(FORMAT_METADATA_KEY)
            if name is not None and name != self._format.name:
                return _checked_format(name, context.asset_name)
        return self._format

    def path_for(self, context: Any) -> str | os.PathLike[str]:
        """The file holding the value of ``context`` (its asset and ``partition.key``).

        The default returns a ``str`` (building ``pathlib.Path`` objects would
        cost more than reading a small value). Override it to change the
        layout, returning a ``str`` or ``pathlib.Path``, absolute or relative
        to the working directory; ``self.root`` is the base directory.
        ``handle_output`` and ``load_input`` both call it, the latter once per
        key, with a context whose partition holds that single key.
        """
        extension = self.format_for(context).extension
        partition = context.partition
        try:
            if partition is None:  # the common case, kept cheap
                return self._prefix + escape_component(context.asset_name) + extension
            return self._prefix + _SEP.join(relative_parts(context.asset_name, partition.key, extension))
        except ValueError as exc:
            raise ValueError(f"asset {context.asset_name!r}: {exc}") from None

    def batch_path_for(self, context: Any, batch_id: str) -> str:
        """The file holding the one value of a batch (see :mod:`rivers.io_handlers.partition_keys`)."""
        extension = self.format_for(context).extension
        return self._prefix + _SEP.join((escape_component(context.asset_name), BATCH_SEGMENT, batch_id + extension))

    # ------------------------------------------------------------------ writes
    def handle_output(self, context: Any, obj: Any) -> None:
        batch = batch_of(context.partition)
        if batch is not None:
            self._write_batch(context, obj, batch)
            return
        self._write(context, obj, os.fspath(self.path_for(context)))

    def _write_batch(self, context: Any, obj: Any, batch: BatchRef) -> None:
        path = self.batch_path_for(context, batch.batch_id)
        self._write(context, obj, path)
        manifest = batch_manifest(batch, context.partition.keys)
        atomic_write(os.path.join(os.path.dirname(path), batch.batch_id + MANIFEST_EXTENSION),
                     lambda fileobj: fileobj.write(manifest), fsync=self.fsync, buffered=False)
        for key in context.partition.keys:
            try:
                os.unlink(self.path_for(_SingleKeyContext(context, key)))  # the batch replaces the key's own value
            except FileNotFoundError:
                pass

    def _write(self, context: Any, obj: Any, path: str) -> None:
        start = _perf_counter()
        fmt = self.format_for(context)
        write = fmt.write
        with _Translating("write", context, path, fmt, SerializationError, lambda error: (
            f"cannot write {_what(context)} to {path}: the {fmt.name!r} format cannot store "
            f"{_type_name(obj)} ({type(error).__name__}: {error})"
        )):
            size = atomic_write(
                path, lambda fileobj: write(obj, fileobj), fsync=self.fsync, buffered=fmt not in _BYTES_NATIVE
            )
        context.add_output_metadata(
            {
                "path": _path_value(path),
                "size_bytes": _int_value(size),
                "format": _format_value(fmt.name),
                "write_duration_s": _float_value(round(_perf_counter() - start, 6)),
            }
        )

    # ------------------------------------------------------------------- loads
    def load_input(self, context: Any) -> Any:
        partition = context.partition
        if partition is not None and len(partition.keys) > 1:
            return load_partitions(context, lambda key: self._load(_SingleKeyContext(context, key)),
                                   lambda batch_id: self._load_batch(context, batch_id))
        return self._load(context)

    def _batch_holding(self, context: Any, key: Any) -> BatchRef | None:
        """The newest batch whose manifest lists ``key`` (a missing value's cold path)."""
        directory = os.path.dirname(self.batch_path_for(context, "manifest"))
        try:
            entries = [entry for entry in os.scandir(directory) if entry.name.endswith(MANIFEST_EXTENSION)]
        except OSError:
            return None
        for entry in sorted(entries, key=lambda e: e.stat().st_mtime_ns, reverse=True):
            try:
                with open(entry.path, "rb") as manifest:
                    batch = manifest_batch(manifest.read(), key)
            except OSError:
                continue
            if batch is not None:
                return batch
        return None

    def _load_batch(self, context: Any, batch_id: str) -> Any:
        path = self.batch_path_for(context, batch_id)
        if not os.path.exists(path):
            return NOT_STORED
        return self._load(context, path)

    def _load(self, context: Any, path: str | None = None) -> Any:
        fmt = self.format_for(context)
        if path is None:
            path = os.fspath(self.path_for(context))
        try:
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError as exc:
            raise self._not_found(context, path, fmt) from exc
        except OSError as exc:
            raise _access_error("read", context, path, exc) from exc
        try:
            with _Translating("read", context, path, fmt, DeserializationError, lambda error: (
                f"cannot read {_what(context)} from {path} with the {fmt.name!r} format "
                f"({type(error).__name__}: {error}); was it written with another format or version?"
            )):
                return _decode(fmt, fd)
        finally:
            os.close(fd)

    def _not_found(self, context: Any, path: str, fmt: Format) -> Exception:
        key = _key_of(context)
        if key is not None:
            batch = self._batch_holding(context, key)
            if batch is not None:
                return batch.error(context.asset_name, key)
        hint = "; it has not been materialised with this handler (same base_dir and format) yet"
        stem = path[: len(path) - len(fmt.extension)] if fmt.extension and path.endswith(fmt.extension) else None
        if stem is not None:
            for name in available_formats():
                other = get_format(name)
                if other.extension and other.extension != fmt.extension and os.path.exists(stem + other.extension):
                    hint = (
                        f"; a value in the {name!r} format exists at {stem + other.extension} "
                        f"(this handler reads {fmt.name!r})"
                    )
                    break
        return ValueNotFoundError(
            f"no stored value for {_what(context)}: {path} does not exist{hint}",
            asset=context.asset_name,
            partition=_key_of(context),
            path=path,
        )


class _SingleKeyPartition:
    """A view of a multi-key partition context narrowed to one key."""

    __slots__ = ("_parent", "key")

    def __init__(self, parent: Any, key: Any) -> None:
        self._parent = parent
        self.key = key

    @property
    def keys(self) -> list[Any]:
        return [self.key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)

    def __repr__(self) -> str:
        return f"<partition {self.key!r} of {self._parent!r}>"


class _SingleKeyContext:
    """The input context of one key of a multi-key load (for ``path_for``)."""

    __slots__ = ("_context", "partition")

    def __init__(self, context: Any, key: Any) -> None:
        self._context = context
        self.partition = _SingleKeyPartition(context.partition, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


# -------------------------------------------------------------------- helpers
def _decode(fmt: Format, fd: int) -> Any:
    """The value stored in the open file ``fd`` (which the caller closes).

    A small file of a bytes-native format is read with one system call and
    decoded with ``loads`` (less than half the time of ``open`` + ``load``
    for 1 KB); anything else is streamed through a buffered file object. The
    size comes from ``lseek``, measured cheaper than ``os.fstat``.
    """
    if fmt in _BYTES_NATIVE:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size <= WHOLE_READ_LIMIT:
            data = _read_from_start(fd, size + 1)  # one byte more: a file that grew is not cut short
            if len(data) == size:
                return fmt.loads(data)
            # it changed size since (rewritten in place), or a short read: stream it
        os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, "rb", buffering=_BUFFER_SIZE, closefd=False) as fileobj:
        return fmt.read(fileobj)


def _read_from_start(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes from the start of ``fd`` in one system call where ``pread`` exists."""
    if _pread is not None:
        return _pread(fd, size, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, size)


def _checked_format(name: str, asset: str | None = None) -> Format:
    fmt = get_format(name)
    if name not in _available:
        try:
            fmt.ensure_available(_INSTALL_HINTS.get(name))
        except FormatUnavailableError as exc:
            if asset is not None:
                raise FormatUnavailableError(f"asset {asset!r}: {exc}") from None
            raise
        _available.add(name)
    return fmt


class _Translating:
    """Turns what a read or write raises into the handler's errors (one mapping for both).

    The handler's own errors pass unchanged; OS errors name the asset and
    path; a missing optional format dependency names the extra to install;
    anything else is the format's failure: a ``format_error`` with the message
    ``describe(exc)``, naming the asset, partition and path. A class rather
    than a ``contextlib`` generator: it is on every read and write.
    """

    __slots__ = ("action", "context", "path", "fmt", "format_error", "describe")

    def __init__(self, action: str, context: Any, path: str, fmt: Format, format_error: Any, describe: Any) -> None:
        self.action, self.context, self.path, self.fmt = action, context, path, fmt
        self.format_error, self.describe = format_error, describe

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, FilesystemIOHandlerError):
            return False
        raise self._error(exc) from exc

    def _error(self, exc: Exception) -> Exception:
        context, path = self.context, self.path
        if isinstance(exc, OSError):
            return _access_error(self.action, context, path, exc)
        if isinstance(exc, FormatUnavailableError):
            return _unavailable(self.fmt, context)
        return self.format_error(self.describe(exc), asset=context.asset_name, partition=_key_of(context), path=path)


def _unavailable(fmt: Format, context: Any) -> FormatUnavailableError:
    from rivers.io_handlers.serialization import unavailable_message

    message = unavailable_message(fmt.name, fmt.requires or ["its libraries"], _INSTALL_HINTS.get(fmt.name))
    return FormatUnavailableError(f"asset {context.asset_name!r}: {message}")


def _key_of(context: Any) -> Any:
    partition = context.partition
    return None if partition is None else partition.key


def _describe_key(key: Any) -> str:
    if isinstance(key, str):
        return repr(key)
    suffix = getattr(key, "path_suffix", None)
    return repr(suffix()) if suffix is not None else repr(key)


def _what(context: Any) -> str:
    key = _key_of(context)
    if key is None:
        return f"asset {context.asset_name!r}"
    return f"asset {context.asset_name!r} partition {_describe_key(key)}"


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    return f"a {cls.__qualname__}" if module == "builtins" else f"a {module}.{cls.__qualname__}"


def _blocking_file(path: str) -> str | None:
    """The nearest existing ancestor of ``path`` that is not a directory."""
    current = os.path.dirname(path)
    while current and current != os.path.dirname(current):
        if os.path.lexists(current):
            return None if os.path.isdir(current) else current
        current = os.path.dirname(current)
    return None


def _access_error(action: str, context: Any, path: str, exc: OSError) -> FilesystemAccessError:
    code = exc.errno
    if code == _errno.ENOTDIR or isinstance(exc, (NotADirectoryError, FileExistsError)):
        blocker = _blocking_file(path)
        reason = f"{blocker} is a file, not a directory" if blocker else (exc.strerror or str(exc))
        if blocker:
            reason += " (is base_dir pointing at a file?)"
    elif code in (_errno.EACCES, _errno.EPERM):
        reason = f"permission denied ({exc})"
    elif code == _errno.ENOSPC:
        reason = "no space left on the device"
    elif code == getattr(_errno, "EDQUOT", None):
        reason = "disk quota exceeded"
    elif code == _errno.EROFS:
        reason = "the filesystem is read-only"
    elif code == _errno.EISDIR or isinstance(exc, IsADirectoryError):
        reason = f"{path} is a directory"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return FilesystemAccessError(
        f"cannot {action} {_what(context)} {'to' if action == 'write' else 'from'} {path}: {reason}",
        asset=context.asset_name,
        partition=_key_of(context),
        path=path,
        errno=code,
    )
