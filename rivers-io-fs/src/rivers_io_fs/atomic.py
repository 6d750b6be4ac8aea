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

What durability costs, and why each step stays (``python bench/io_fs.py
--breakdown`` measures them on your disk):

* ``fsync`` of the temporary file *before* the rename: without it a power
  loss can leave the new name pointing at a file whose data never reached
  the disk (empty or zero-filled), i.e. a torn value. On the benchmark VM
  it takes about 120 µs after a 1 KB write, 0.9 ms after 1 MB. ``os.fdatasync`` is
  not used: for a newly created file the size and block map must be written
  either way, so it measured no faster than ``fsync`` (ext4), and macOS
  needs ``F_FULLFSYNC`` instead.
* ``fsync`` of the directory *after* the rename: it makes the rename itself
  durable. Without it a power loss can bring back the previous (complete)
  value after ``atomic_write`` has returned, while the caller (the engine's
  event log) already recorded the new one. It cannot be batched across
  calls without weakening that promise, so it is kept with ``fsync=True``;
  it costs about 85 µs (0.14 ms after a 1 MB write) on the benchmark VM.

Writing goes through a buffered file object by default; ``buffered=False``
hands ``write`` an unbuffered :class:`RawWriter` instead, for serialisers
that write a few large chunks (pickle, one ``bytes`` value): it saves the
buffered object's set-up (an ``fstat``, an ``ioctl`` and a buffer) and its
copies. The target directory is created only when the temporary file cannot
be created (no ``stat``/``makedirs`` per write), so a directory removed
between two writes is simply recreated.
"""

from __future__ import annotations

import io
import itertools
import os
import secrets
import sys
from collections.abc import Callable
from typing import IO, Any

__all__ = ["TEMP_SUFFIX", "RawWriter", "atomic_write", "fsync_directory", "is_temp_file", "sync"]

#: Suffix of the temporary files (they also start with a dot).
TEMP_SUFFIX = ".tmp"

_SEP = os.sep
_ALTSEP = os.altsep
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
#: Buffer of the buffered writer (giving a size also skips ``open``'s ``isatty`` call).
_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
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

    def _full_fsync(fd: int) -> bool:
        """``F_FULLFSYNC`` of ``fd``; whether it was done (not every file system supports it)."""
        if _FULLFSYNC is None:
            return False
        try:
            fcntl.fcntl(fd, _FULLFSYNC)
        except OSError:  # not supported by this filesystem
            return False
        return True

else:

    def _full_fsync(fd: int) -> bool:
        """Elsewhere ``fsync`` reaches stable storage: nothing more to do."""
        return False


def sync(fd: int) -> None:
    """Flush ``fd`` to stable storage (``F_FULLFSYNC`` on macOS, ``fsync`` elsewhere)."""
    if not _full_fsync(fd):
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


class RawWriter:
    """An unbuffered binary file object over a file descriptor it owns.

    Each :meth:`write` is passed on to ``os.write`` (repeated until all of it
    is written) without a copy; the bytes written are counted, so :meth:`tell`
    makes no system call. It is not seekable. Used as a context manager, it
    closes the descriptor on exit.
    """

    __slots__ = ("_fd", "_size")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._size = 0

    def write(self, data: Any) -> int:
        """Write all of ``data`` (bytes or any contiguous buffer); returns its size in bytes."""
        view = memoryview(data)
        total = view.nbytes
        written = os.write(self._fd, view)
        if written < total:  # a partial write (a signal, a pipe-like file): write the rest
            view = view.cast("B")
            while written < total:
                written += os.write(self._fd, view[written:])
        self._size += total
        return total

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def fileno(self) -> int:
        return self._fd

    def flush(self) -> None:
        """Nothing to flush: every write went to the kernel."""

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        """Close the descriptor (once)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_writer(fd: int, buffered: bool) -> IO[bytes] | RawWriter:
    """The file object that owns ``fd`` and that ``write`` gets."""
    if buffered:
        return open(fd, "wb", buffering=_BUFFER_SIZE, closefd=True)
    return RawWriter(fd)


def _split(path: str) -> tuple[str, str]:
    """``(directory, name)`` of ``path`` (``rpartition`` where there is one separator, faster than ``os.path``)."""
    if _ALTSEP is not None:
        return os.path.split(path)
    directory, _, name = path.rpartition(_SEP)
    if not directory and path.startswith(_SEP):
        directory = _SEP
    return directory, name


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """Open a new temporary file next to ``name``, creating ``directory`` only when it is missing."""
    try:
        return _open_temp(directory, name)
    except FileNotFoundError:  # first write there, or the directory was removed since
        os.makedirs(directory, exist_ok=True)
        return _open_temp(directory, name)


def atomic_write(
    path: str, write: Callable[[Any], object], *, fsync: bool = True, buffered: bool = True
) -> int:
    """Replace ``path`` with what ``write(fileobj)`` writes; returns the size in bytes.

    Missing parent directories are created. Whatever ``write`` raises
    propagates after the temporary file is removed, and ``path`` is untouched.

    :param fsync: sync the file before the rename and the directory after it
        (see the module docstring for what each costs and protects).
    :param buffered: ``True``: ``fileobj`` is a buffered file object (any
        writer). ``False``: a :class:`RawWriter`, faster for writers that
        write a few large chunks (``pickle.dump``, one ``bytes``), slow for
        writers that write many small pieces.
    """
    directory, name = _split(path)
    fd, temp = _create_temp(directory, name)
    try:
        try:
            fileobj = _open_writer(fd, buffered)
        except BaseException:
            os.close(fd)
            raise
        with fileobj:
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
