"""Atomic file replacement: readers see the old file or the new one, never a mix.

:func:`atomic_write` writes to a temporary file in the target's directory
(``.<name>.<token>.tmp``), flushes it, optionally ``fsync``\\ s it, and moves it
over the target with ``os.replace`` (an atomic rename on POSIX and on
Windows/NTFS within one volume). If the writer dies at any point — an
exception, ``SIGKILL``, a full disk — the target still holds the previous
complete value; at worst a ``.*.tmp`` file is left behind, which no reader
looks at.

``fsync=True`` also makes the result durable across a power loss or kernel
crash: the file's data is synced before the rename, and the directory
after it (so the rename itself is on disk). ``fsync=False`` keeps the
atomicity against crashing *processes* but leaves the timing of the write to
the kernel's page cache.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
from collections.abc import Callable
from typing import IO

__all__ = ["TEMP_SUFFIX", "atomic_write", "fsync_directory", "is_temp_file", "sync"]

#: Suffix of the temporary files (they also start with a dot).
TEMP_SUFFIX = ".tmp"

_SEP = os.sep
_ALTSEP = os.altsep
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_counter = itertools.count()
_token = secrets.token_hex(4)
_infix = f".{_token}-{os.getpid()}"  # between the target's name and the suffix


def _new_token() -> None:
    global _token, _counter, _infix
    _token = secrets.token_hex(4)
    _counter = itertools.count()
    _infix = f".{_token}-{os.getpid()}"


if sys.platform == "darwin":  # macOS fsync() does not flush the drive's cache; F_FULLFSYNC does
    import fcntl

    _FULLFSYNC: int | None = getattr(fcntl, "F_FULLFSYNC", None)
else:
    _FULLFSYNC = None


def sync(fd: int) -> None:
    """Flush ``fd`` to stable storage (``F_FULLFSYNC`` on macOS, ``fsync`` elsewhere)."""
    if _FULLFSYNC is not None:
        try:
            fcntl.fcntl(fd, _FULLFSYNC)
            return
        except OSError:  # not supported by this filesystem
            pass
    os.fsync(fd)


if hasattr(os, "register_at_fork"):  # a forked child must not reuse the parent's names
    os.register_at_fork(after_in_child=_new_token)


def is_temp_file(name: str) -> bool:
    """Whether the file name ``name`` is a temporary file of :func:`atomic_write`."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _open_temp(directory: str, name: str) -> tuple[int, str]:
    # One name per process and target first: reusing a name is cheaper for the
    # kernel than a new one every time. Another thread of this process writing
    # the same target holds it: then a counter makes the name unique.
    prefix = f"{directory}{_SEP}." if directory else "."
    temp = f"{prefix}{name}{_infix}{TEMP_SUFFIX}"
    try:
        return os.open(temp, _FLAGS, 0o666), temp
    except FileExistsError:
        pass
    for _ in range(100):
        temp = f"{prefix}{name}{_infix}-{next(_counter)}{TEMP_SUFFIX}"
        try:
            return os.open(temp, _FLAGS, 0o666), temp
        except FileExistsError:  # another host on a shared mount drew the same token
            _new_token()
    raise FileExistsError(f"could not create a unique temporary file in {directory}")


def atomic_write(path: str, write: Callable[[IO[bytes]], object], *, fsync: bool = True) -> int:
    """Replace ``path`` with what ``write(fileobj)`` writes; returns the size in bytes.

    Missing parent directories are created. Whatever ``write`` raises
    propagates after the temporary file is removed, and ``path`` is untouched.
    """
    if _ALTSEP is None:
        directory, _, name = path.rpartition(_SEP)
        if not directory and path.startswith(_SEP):
            directory = _SEP
    else:
        directory, name = os.path.split(path)
    try:
        fd, temp = _open_temp(directory, name)
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        fd, temp = _open_temp(directory, name)
    try:
        with open(fd, "wb", closefd=True) as fileobj:
            write(fileobj)
            fileobj.flush()
            if fsync:
                sync(fd)
            size = fileobj.tell()
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_directory(directory)
    return size


def fsync_directory(directory: str) -> None:
    """Make renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        sync(fd)
    except OSError:  # some filesystems (and FUSE mounts) refuse fsync on directories
        pass
    finally:
        os.close(fd)
