"""``LocalStore``: a minimal object store over a local directory.

It gives :class:`rivers.io_handlers.pickle.PickleIOHandler` (the published
``rs.PickleIOHandler(store=..., prefix=...)`` API) a local backend without
obstore, with the same constructor as ``obstore.store.LocalStore(prefix=...)``::

    from rivers.io_handlers.pickle import PickleIOHandler
    from rivers_io_fs import LocalStore

    handler = PickleIOHandler(store=LocalStore(prefix="/data/rivers"), prefix="v1")
    # asset "numbers" -> object key "v1/numbers.pkl" -> file /data/rivers/v1/numbers.pkl

Keys are ``/``-separated relative paths below ``prefix``; they are used as
is (no escaping), so that files sit exactly where an obstore ``LocalStore``
would put them. ``put`` is atomic (see :mod:`rivers_io_fs.atomic`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rivers_io_fs.atomic import atomic_write
from rivers_io_fs.errors import ObjectNotFoundError

__all__ = ["LocalStore"]


class LocalStore:
    """Objects as files below the directory ``prefix``.

    :param prefix: the root directory (created on first ``put``); relative
        paths are resolved against the working directory now.
    :param fsync: sync every ``put`` to disk before it becomes visible.
    """

    def __init__(self, prefix: str | os.PathLike[str], *, fsync: bool = True) -> None:
        if not isinstance(prefix, (str, os.PathLike)) or not os.fspath(prefix):
            raise TypeError(f"LocalStore prefix must be a non-empty directory path, got {prefix!r}")
        self.prefix = os.path.abspath(os.path.expanduser(os.fspath(prefix)))
        self.fsync = bool(fsync)

    def path_of(self, key: str) -> Path:
        """The file holding ``key``.

        :raises ValueError: for keys that are empty, absolute, or contain
            empty, ``.`` or ``..`` segments, backslashes or NUL characters.
        """
        return Path(self._path(key))

    def _path(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError(f"object keys are non-empty str, got {key!r}")
        if key.startswith("/") or "\\" in key or "\0" in key:
            raise ValueError(f"invalid object key {key!r}: keys are relative, '/'-separated paths")
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"invalid object key {key!r}: empty, '.' and '..' segments are not allowed")
        return os.path.join(self.prefix, *parts)

    def put(self, key: str, data: Any) -> None:
        """Store ``data`` (bytes or any buffer) under ``key``, replacing it atomically."""
        view = memoryview(data)
        # one chunk: written straight from the caller's buffer, no file object buffering
        atomic_write(self._path(key), lambda fileobj: fileobj.write(view), fsync=self.fsync, buffered=False)

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        :raises ObjectNotFoundError: (a ``FileNotFoundError``) when there is none.
        """
        path = self._path(key)
        try:
            with open(path, "rb") as fileobj:
                return fileobj.read()
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(
                f"no object {key!r} in {self!r} ({path} does not exist)", key=key, path=path
            ) from exc

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        return os.path.isfile(self._path(key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalStore):
            return NotImplemented
        return self.prefix == other.prefix and self.fsync == other.fsync

    def __hash__(self) -> int:
        return hash((LocalStore, self.prefix, self.fsync))

    def __repr__(self) -> str:
        return f"LocalStore(prefix={self.prefix!r})"
