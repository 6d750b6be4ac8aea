"""Atomic writes: a crash or an exception mid-write never exposes a torn value."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rivers.testing.io_handlers import IOHandlerConformance, load_value, partition, write_value

from rivers_io_fs import FilesystemIOHandler, LocalStore, SerializationError, ValueNotFoundError

# Runs in a child process: pickles a value slowly (each element takes 20 ms
# and writes 200 kB straight to the temporary file), touching MARKER once
# some of it is on disk, so the parent can SIGKILL it mid-write.
SLOW_WRITER = textwrap.dedent("""
    import pathlib, sys, time
    from rivers_io_fs import FilesystemIOHandler
    from rivers.testing.io_handlers import write_value

    base, marker = sys.argv[1], sys.argv[2]

    class Slow:
        calls = 0
        def __reduce__(self):
            Slow.calls += 1
            if Slow.calls == 4:
                pathlib.Path(marker).touch()
            time.sleep(0.02)
            return (bytes, (b"x" * 200_000,))

    write_value(FilesystemIOHandler(base_dir=base), "victim", [Slow() for _ in range(5000)])
    print("finished", flush=True)  # never reached: the parent kills us
""")


def kill_mid_write(base, tmp_path):
    marker = tmp_path / "writing"
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(base), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "writer exited before it started writing"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.01)
        temps = [p for p in base.iterdir() if p.name.startswith(".victim.pkl.") and p.name.endswith(".tmp")]
        assert len(temps) == 1 and temps[0].stat().st_size >= 400_000, "the write is not in progress"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return temps[0]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_keeps_the_previous_value(tmp_path):
    base = tmp_path / "data"
    handler = FilesystemIOHandler(base_dir=str(base))
    write_value(handler, "victim", {"generation": 1})
    before = (base / "victim.pkl").read_bytes()

    temp = kill_mid_write(base, tmp_path)

    assert (base / "victim.pkl").read_bytes() == before
    assert load_value(handler, "victim") == {"generation": 1}
    # the torn temporary file stays invisible, and later writes work
    write_value(handler, "victim", {"generation": 2})
    assert load_value(handler, "victim") == {"generation": 2}
    assert temp.exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_the_first_write_leaves_no_value(tmp_path):
    base = tmp_path / "data"
    base.mkdir()
    handler = FilesystemIOHandler(base_dir=str(base))
    kill_mid_write(base, tmp_path)
    assert not (base / "victim.pkl").exists()
    with pytest.raises(ValueNotFoundError):
        load_value(handler, "victim")


class ExplodesWhenPickled:
    def __init__(self, exc):
        self.exc = exc

    def __reduce__(self):
        raise self.exc


@pytest.mark.parametrize("fsync", [True, False])
def test_serialisation_failing_halfway_keeps_the_previous_value(tmp_path, fsync):
    base = tmp_path / "data"
    handler = FilesystemIOHandler(base_dir=str(base), fsync=fsync)
    write_value(handler, "victim", "previous")
    value = [b"x" * 2_000_000, ExplodesWhenPickled(RuntimeError("boom halfway"))]

    with pytest.raises(SerializationError) as info:
        write_value(handler, "victim", value)

    error = info.value
    assert isinstance(error.__cause__, RuntimeError)
    assert "asset 'victim'" in str(error) and str(base / "victim.pkl") in str(error) and "boom halfway" in str(error)
    assert (error.asset, error.path) == ("victim", str(base / "victim.pkl"))
    assert load_value(handler, "victim") == "previous"
    assert sorted(os.listdir(base)) == ["victim.pkl"]  # the temporary file was removed


def test_keyboard_interrupt_mid_write_propagates_and_cleans_up(tmp_path):
    base = tmp_path / "data"
    handler = FilesystemIOHandler(base_dir=str(base))
    write_value(handler, "victim", "previous")
    with pytest.raises(KeyboardInterrupt):
        write_value(handler, "victim", [b"x" * 100_000, ExplodesWhenPickled(KeyboardInterrupt())])
    assert load_value(handler, "victim") == "previous"
    assert sorted(os.listdir(base)) == ["victim.pkl"]


class InPlaceHandler(FilesystemIOHandler):
    """A deliberately broken handler: rewrites the file in place, in chunks."""

    def handle_output(self, context, obj):
        path = Path(self.path_for(context))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(obj).encode()
        with open(path, "wb") as f:
            for start in range(0, len(data), 8192):
                f.write(data[start : start + 8192])
                f.flush()
                time.sleep(0.0005)


class _Kit(IOHandlerConformance):
    concurrency_seconds = 1.0


def test_the_kit_detects_torn_reads_of_a_non_atomic_handler(tmp_path):
    # Negative control: the concurrency test of the kit must fail for a handler
    # that does not replace files atomically (and pass for ours, see the
    # conformance classes).
    handler = InPlaceHandler(base_dir=str(tmp_path / "data"), format="json")
    with pytest.raises(AssertionError, match="reader .* saw incomplete values"):
        _Kit().test_concurrent_writers_and_readers_across_processes(handler)


# ------------------------------------------------------ how bytes reach the disk
# Runs in a child process: a file-size limit makes the kernel refuse a write
# halfway (EFBIG), a real OS-level failure in the middle of a value, for the
# unbuffered writer (pickle) and the buffered one (a format writing many chunks).
FSIZE_WRITER = textwrap.dedent("""
    import os, resource, signal, sys
    from rivers.io_handlers.serialization import Format, register_format
    from rivers.testing.io_handlers import write_value
    from rivers_io_fs import FilesystemAccessError, FilesystemIOHandler

    base, fmt = sys.argv[1], sys.argv[2]
    register_format(Format("chunks", ".chunks", lambda obj, f: [f.write(c) for c in obj], lambda f: f.read()))
    handler = FilesystemIOHandler(base_dir=base, format=fmt)
    write_value(handler, "victim", [b"previous"])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        write_value(handler, "victim", [os.urandom(1000) for _ in range(1000)])
    except FilesystemAccessError as exc:
        print(exc.errno)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("fmt", ["pickle", "chunks"])
def test_the_kernel_refusing_a_write_halfway_keeps_the_previous_value(tmp_path, fmt):
    import errno

    from rivers.io_handlers.serialization import Format, register_format, unregister_format

    base = tmp_path / "data"
    child = subprocess.run([sys.executable, "-c", FSIZE_WRITER, str(base), fmt], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == [str(errno.EFBIG)]
    register_format(Format("chunks", ".chunks", lambda obj, f: [f.write(c) for c in obj], lambda f: f.read()))
    try:
        handler = FilesystemIOHandler(base_dir=str(base), format=fmt)
        expected = [b"previous"] if fmt == "pickle" else b"previous"
        assert load_value(handler, "victim") == expected
    finally:
        unregister_format("chunks")
    assert len(os.listdir(base)) == 1  # the half-written temporary file was removed


def test_unbuffered_writes_complete_after_partial_writes(tmp_path, monkeypatch):
    # os.write may write less than asked (signals, huge buffers): the rest follows
    real_write = os.write
    calls = []

    def at_most_1000_bytes(fd, data):
        calls.append(fd)
        return real_write(fd, memoryview(data)[:1000])

    handler = FilesystemIOHandler(base_dir=str(tmp_path / "data"), fsync=False)
    value = os.urandom(50_000)
    monkeypatch.setattr(os, "write", at_most_1000_bytes)
    context = write_value(handler, "value", value)
    monkeypatch.undo()
    assert load_value(handler, "value") == value
    assert len(calls) > 50
    assert context.output_metadata["size_bytes"].value == (tmp_path / "data" / "value.pkl").stat().st_size


def test_buffered_formats_get_a_seekable_file(tmp_path):
    # formats other than pickle and json (parquet, your own) get a real file
    # object: one that seeks back to fill in a header still works
    from rivers.io_handlers.serialization import Format, register_format, unregister_format

    def write(obj, f):
        f.write(b"\0" * 4)  # length placeholder
        for item in obj:
            f.write(item)
        end = f.tell()
        f.seek(0)
        f.write((end - 4).to_bytes(4, "big"))
        f.seek(end)

    def read(f):
        size = int.from_bytes(f.read(4), "big")
        return f.read(size)

    register_format(Format("prefixed", ".bin", write, read))
    try:
        handler = FilesystemIOHandler(base_dir=str(tmp_path / "data"), format="prefixed")
        context = write_value(handler, "value", [b"ab"] * 10_000)
        assert load_value(handler, "value") == b"ab" * 10_000
        assert context.output_metadata["size_bytes"].value == 20_004
    finally:
        unregister_format("prefixed")


def test_a_directory_removed_between_writes_is_recreated(tmp_path, monkeypatch):
    base = tmp_path / "data"
    handler = FilesystemIOHandler(base_dir=str(base))
    write_value(handler, "daily", 1, partition("2024-01-01"))
    created = []
    real_makedirs = os.makedirs
    monkeypatch.setattr(os, "makedirs", lambda path, *args, **kwargs: (created.append(path), real_makedirs(
        path, *args, **kwargs))[1])

    write_value(handler, "daily", 2, partition("2024-01-01"))
    assert created == []  # a directory that exists costs no makedirs (or stat) per write
    shutil.rmtree(base)
    write_value(handler, "daily", 3, partition("2024-01-01"))
    assert load_value(handler, "daily", partition("2024-01-01")) == 3
    assert created[0] == str(base / "daily")  # once, after the missing directory failed the open
    shutil.rmtree(base / "daily")  # only the partition directory this time
    write_value(handler, "daily", 4, partition("2024-01-01"))
    assert load_value(handler, "daily", partition("2024-01-01")) == 4
    assert sorted(os.listdir(base / "daily")) == ["2024-01-01.pkl"]


def test_local_store_recreates_a_removed_prefix_and_stores_any_buffer(tmp_path):
    import array

    store = LocalStore(prefix=str(tmp_path / "store"))
    store.put("v1/a.pkl", b"first")
    shutil.rmtree(tmp_path / "store")
    numbers = array.array("i", range(1000))  # a buffer of 4-byte items
    store.put("v1/a.pkl", numbers)
    assert store.get("v1/a.pkl") == numbers.tobytes()
