"""Atomic writes: a crash or an exception mid-write never exposes a torn value."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rivers.testing.io_handlers import IOHandlerConformance, load_value, write_value

from rivers_io_fs import FilesystemIOHandler, SerializationError, ValueNotFoundError

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
