"""Errors of the S3 IO handler and store.

Every error names the bucket, the object key and (for the handler) the asset
and partition, says what to check, and derives from
:class:`rivers.exceptions.IOHandlerError` and from the built-in exception
generic code already catches:

============================ ====================== ===========================================
error                        also a                 raised when
============================ ====================== ===========================================
``S3ValueNotFoundError``     ``FileNotFoundError``  no object under the key (nothing materialised)
``S3BucketNotFoundError``    ``ConfigurationError`` the bucket does not exist
``S3AccessDeniedError``      ``PermissionError``    the credentials are refused or not allowed
``S3ConnectionError``        ``ConnectionError``    the endpoint is unreachable, a connection
                                                    dropped, or 5xx answers outlasted the retries
``S3TimeoutError``           ``TimeoutError``       a request took longer than ``timeout_s``
``S3SerializationError``     ``TypeError``          the format cannot store the value
``S3DeserializationError``   ``ValueError``         the object cannot be decoded
============================ ====================== ===========================================

The messages never contain credentials: the client's own text is kept only
as a short, redacted ``detail``. The errors pickle (they cross process
boundaries with the parallel executor).
"""

from __future__ import annotations

from typing import Any

from rivers.exceptions import ConfigurationError, IOHandlerError

__all__ = [
    "S3AccessDeniedError",
    "S3BucketNotFoundError",
    "S3ConnectionError",
    "S3DeserializationError",
    "S3IOHandlerError",
    "S3SerializationError",
    "S3TimeoutError",
    "S3ValueNotFoundError",
]


class S3IOHandlerError(IOHandlerError):
    """Base class of the S3 errors.

    :ivar bucket: the bucket.
    :ivar key: the object key, or ``None`` for a bucket-wide failure.
    :ivar asset: the asset (node) name, or ``None`` for a store operation.
    :ivar partition: the partition key, or ``None``.
    :ivar detail: the client's (redacted, shortened) description, or ``""``.
    """

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        asset: str | None = None,
        partition: Any = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.bucket = bucket
        self.key = key
        self.asset = asset
        self.partition = partition
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from the message, then the attributes restored (BaseException.__setstate__)
        return (type(self), (self.message,), dict(vars(self)))


class S3ValueNotFoundError(S3IOHandlerError, FileNotFoundError):
    """No object is stored under the key (the asset or partition was not materialised there)."""


class S3BucketNotFoundError(S3IOHandlerError, ConfigurationError):
    """The bucket does not exist (or the endpoint/region points elsewhere)."""


class S3AccessDeniedError(S3IOHandlerError, PermissionError):
    """The store refused the credentials or the operation."""


class S3ConnectionError(S3IOHandlerError, ConnectionError):
    """The endpoint could not be reached, dropped the connection, or kept failing with 5xx answers."""


class S3TimeoutError(S3IOHandlerError, TimeoutError):
    """A request did not finish within the configured timeout."""


class S3SerializationError(S3IOHandlerError, TypeError):
    """The value cannot be represented in the handler's format."""


class S3DeserializationError(S3IOHandlerError, ValueError):
    """The stored object exists but cannot be decoded with the handler's format."""
