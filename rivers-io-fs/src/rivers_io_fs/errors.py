"""Errors raised by the filesystem IO handler and the local store.

Every handler error names the asset, the partition (when there is one) and
the file, and keeps the original exception as ``__cause__``. Each also
derives from the built-in exception generic code already catches:

=========================== ==================== ==============================================
error                       also a               raised when
=========================== ==================== ==============================================
``ValueNotFoundError``      ``FileNotFoundError`` no value stored for the asset / partition
``SerializationError``      ``TypeError``         the value cannot be written in the format
``DeserializationError``    ``ValueError``        the stored file cannot be decoded
``FilesystemAccessError``   ``OSError``           the filesystem refused: permissions, disk full,
                                                  ``base_dir`` is a file, read-only mount, ...
``ObjectNotFoundError``     ``FileNotFoundError`` :class:`~rivers_io_fs.LocalStore` has no such key
=========================== ==================== ==============================================

All but ``ObjectNotFoundError`` derive from :class:`FilesystemIOHandlerError`.
The errors pickle (they cross process boundaries with the parallel executor).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DeserializationError",
    "FilesystemAccessError",
    "FilesystemIOHandlerError",
    "ObjectNotFoundError",
    "SerializationError",
    "ValueNotFoundError",
]


def _state(error: BaseException) -> dict[str, Any]:
    attrs = dict(vars(error))
    if isinstance(error, OSError):  # errno lives in a slot of OSError, not in __dict__
        attrs["errno"] = error.errno
    return attrs


def _rebuild(cls: type[BaseException], message: str, attrs: dict[str, Any]) -> BaseException:
    error = cls.__new__(cls, message)
    Exception.__init__(error, message)
    for name, value in attrs.items():
        setattr(error, name, value)
    return error


class FilesystemIOHandlerError(Exception):
    """Base class of the filesystem handler's errors.

    :ivar asset: the asset (node) name.
    :ivar partition: the partition key, or ``None``.
    :ivar path: the file concerned, as a string.
    """

    asset: str
    partition: Any
    path: str

    def __init__(self, message: str, *, asset: str, path: Any, partition: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.asset = asset
        self.partition = partition
        self.path = str(path)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, _state(self)))


class ValueNotFoundError(FilesystemIOHandlerError, FileNotFoundError):
    """No value is stored for the asset (and partition) at the expected path."""


class SerializationError(FilesystemIOHandlerError, TypeError):
    """The value cannot be represented in the handler's format (a lambda with pickle, a set with json)."""


class DeserializationError(FilesystemIOHandlerError, ValueError):
    """The stored file exists but cannot be decoded with the handler's format."""


class FilesystemAccessError(FilesystemIOHandlerError, OSError):
    """The filesystem refused the operation; ``errno`` is the original error number."""

    def __init__(self, message: str, *, asset: str, path: Any, partition: Any = None, errno: int | None = None) -> None:
        super().__init__(message, asset=asset, path=path, partition=partition)
        self.errno = errno


class ObjectNotFoundError(FileNotFoundError):
    """:class:`~rivers_io_fs.LocalStore` holds no object under ``key``."""

    def __init__(self, message: str, *, key: str, path: Any) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.path = str(path)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, _state(self)))
