"""Moving one value's bytes: streamed uploads that are atomic, streamed downloads.

Uploads (:class:`Upload`) are file objects a format writes into. Up to
:data:`SINGLE_PUT_LIMIT` bytes are sent as one ``PUT`` once the format is
done; a larger value switches to a multipart upload of :data:`PART_SIZE`
parts while the format is still writing, so a 100 MB value is never copied
into a second 100 MB buffer. S3 makes a ``PUT`` and the completion of a
multipart upload atomic: readers see the previous object or the new one. If
the format or the network fails, :meth:`Upload.abort` aborts the multipart
upload, so no parts are left behind and nothing becomes visible.

Downloads of pickled values larger than :data:`SINGLE_PUT_LIMIT` are
unpickled straight from the response stream (:class:`StreamReader`); big
``bytes``/buffers are read into their final place (``readinto``), so the
download holds at most one part besides the value.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from rivers_io_s3.runtime import native

__all__ = ["PART_SIZE", "SINGLE_PUT_LIMIT", "StreamReader", "TransferFailed", "Upload", "download"]

#: Values up to this size go in one PUT (and are read back in one buffer).
SINGLE_PUT_LIMIT = 8 * 2**20
#: Part size of multipart uploads and chunk size of streamed downloads (S3's minimum part is 5 MiB).
PART_SIZE = 10 * 2**20


class TransferFailed(Exception):
    """The store failed while a format was writing or reading (``error`` is the client's exception).

    It travels through the format's code (``pickle.dump`` calling ``write``)
    so that the caller tells network failures from serialisation failures.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Upload(io.RawIOBase):
    """A write-only file object that stores what is written as the object ``key``.

    Call :meth:`finish` to make the object visible (returns its ETag) or
    :meth:`abort` to drop it; until then nothing under ``key`` changes.
    """

    def __init__(self, store: Any, key: str, max_concurrency: int) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._max_concurrency = max_concurrency
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._writer: Any = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        view = memoryview(data)
        size = view.nbytes
        if self._writer is None:
            if self._buffered + size <= SINGLE_PUT_LIMIT:
                # bytes are immutable: kept as they are; other buffers may be reused by the caller
                self._chunks.append(data if type(data) is bytes else view.tobytes())
                self._buffered += size
                self.size += size
                return size
            self._start_multipart()
        try:
            self._writer.write(view if view.format == "B" and view.ndim == 1 else view.cast("B"))
        except Exception as exc:
            raise TransferFailed(exc) from exc
        self.size += size
        return size

    def _start_multipart(self) -> None:
        obstore = native()
        try:
            self._writer = obstore.open_writer(
                self._store, self._key, buffer_size=PART_SIZE, max_concurrency=self._max_concurrency
            )
            for chunk in self._chunks:
                self._writer.write(chunk)
        except Exception as exc:
            raise TransferFailed(exc) from exc
        self._chunks = []

    @property
    def multipart(self) -> bool:
        """Whether the value went up as a multipart upload."""
        return self._writer is not None

    def finish(self) -> str | None:
        """Store the object (one PUT, or complete the multipart upload); its ETag."""
        obstore = native()
        if self._writer is None:
            chunks, self._chunks = self._chunks, []
            # several chunks go as one request body without being joined first
            data: Any = chunks[0] if len(chunks) == 1 else (chunks or b"")
            result = obstore.put(self._store, self._key, data, use_multipart=False)
            return result.get("e_tag")
        self._writer.close()  # completes the multipart upload (aborts it if that fails)
        return obstore.head(self._store, self._key).get("e_tag")

    def abort(self, error: BaseException) -> None:
        """Abort a multipart upload in progress (nothing is stored); never raises."""
        writer, self._writer = self._writer, None
        self._chunks = []
        if writer is not None:
            try:
                writer.__exit__(type(error), error, error.__traceback__)  # obstore aborts on an exception
            except Exception:  # noqa: BLE001 - the original error is what the caller reports
                pass


class StreamReader(io.RawIOBase):
    """A read-only file object over the chunks of a response body."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        super().__init__()
        self._chunks = chunks
        self._chunk = memoryview(b"")
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        wanted = target.nbytes
        filled = 0
        while filled < wanted:
            available = self._chunk.nbytes - self._offset
            if available == 0:
                try:
                    self._chunk = memoryview(next(self._chunks)).cast("B")
                except StopIteration:
                    break
                except Exception as exc:
                    raise TransferFailed(exc) from exc
                self._offset = 0
                continue
            count = min(available, wanted - filled)
            target[filled : filled + count] = self._chunk[self._offset : self._offset + count]
            filled += count
            self._offset += count
        return filled


def download(store: Any, key: str, stream_reader: Any = None) -> tuple[Any, Any]:
    """``(buffer, None)`` for a small object, ``(None, file)`` to stream a large one.

    ``stream_reader`` is true when the caller can decode from a stream; large
    objects are then returned as a buffered file object over the response.
    """
    obstore = native()
    result = obstore.get(store, key)
    if stream_reader and result.meta["size"] > SINGLE_PUT_LIMIT:
        return None, io.BufferedReader(StreamReader(iter(result.stream(min_chunk_size=PART_SIZE))), 1 << 16)
    return result.bytes(), None
