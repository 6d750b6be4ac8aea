"""Throughput of rivers-io-fs against plain ``pickle.dump``/``pickle.load`` on the same disk.

    python bench/io_fs.py                          # 1 KB, 1 MB, 100 MB in .bench/io_fs
    python bench/io_fs.py --dir /mnt/data --sizes 1K,1M --json out.json
    python bench/io_fs.py --sizes 1K,1M --breakdown   # also: what each step of a durable atomic write costs

Contenders (each writes the same random ``bytes`` value, pickled with the
highest protocol — the least serialisation work, so the handler's own
overhead shows most):

* ``plain``         ``with open(p, "wb") as f: pickle.dump(v, f)`` — no fsync,
                    and *not atomic*: it truncates and rewrites the file in
                    place (a crash mid-write leaves a torn file).
* ``plain+fsync``   the same plus ``f.flush(); os.fsync(f.fileno())`` — the
                    data is durable, the write still not atomic.
* ``atomic``        the bare atomic pattern: ``pickle.dump`` into a new
                    temporary file, ``os.replace`` over ``p`` (no fsync).
* ``atomic+fsync``  the bare durable atomic pattern: the same with ``os.fsync``
                    of the file before the rename and of the directory after.
* ``fs``            ``FilesystemIOHandler(fsync=False).handle_output`` (atomic,
                    output metadata; contexts built once, as the engine does
                    for any handler).
* ``fs+fsync``      ``FilesystemIOHandler()`` — the default, ``fsync=True``:
                    file and directory fsync, like ``atomic+fsync``.
* ``read plain``    ``with open(p, "rb") as f: pickle.load(f)``;
  ``read fs``       ``load_input`` of the handler's file (page cache warm for both).

How it is timed: every contender runs in blocks of consecutive operations,
the blocks of all contenders alternating round by round (in a rotating
order) so that drift hits them alike. Before each block ``os.sync()`` runs
untimed and one untimed operation warms the block up: no contender pays for
writeback another one left behind, and each pays for its own (a write that
does not fsync leaves work to the kernel, which its next write may wait
for). Reported per contender: the median time per operation (and the mean,
which includes stalls), MB/s from the median, and ratios of medians:

* ``fs`` vs ``plain`` and ``fs+fsync`` vs ``plain+fsync`` (equal durability),
* ``fs`` vs ``atomic`` and ``fs+fsync`` vs ``atomic+fsync`` (the handler's own cost),
* ``fs+fsync`` (the default) vs ``plain`` (durable and atomic vs neither),
* and what ``fsync=True`` costs the handler per write (``fs+fsync`` − ``fs``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for src in (ROOT / "rivers-core" / "src", ROOT / "rivers-io-fs" / "src"):
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))

from rivers.context import InputContext, OutputContext  # noqa: E402

from rivers_io_fs import FilesystemIOHandler  # noqa: E402
from rivers_io_fs.atomic import RawWriter  # noqa: E402

_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_perf = time.perf_counter

WRITERS = ("plain", "plain+fsync", "atomic", "atomic+fsync", "fs", "fs+fsync")
READERS = ("read plain", "read fs")


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in _UNITS:
        return int(float(text[:-1]) * _UNITS[text[-1]])
    return int(text)


def label(size: int) -> str:
    for unit in ("G", "M", "K"):
        if size >= _UNITS[unit] and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]} {unit}B"
    return f"{size} B"


def schedule(size: int) -> tuple[int, int]:
    """``(rounds, operations per block)`` by value size: a stable median in bounded time."""
    if size <= 64 * 2**10:
        return 10, 50
    if size <= 4 * 2**20:
        return 10, 10
    return 3, 3


# ------------------------------------------------------------- contenders
def plain_write(path: str, value: object, fsync: bool) -> None:
    with open(path, "wb") as f:
        pickle.dump(value, f, protocol=_PROTOCOL)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_replace(path: str, value: object, fsync: bool) -> None:
    """The bare atomic pattern, durable with ``fsync``: what the filesystem charges for it."""
    temp = path + ".tmp"
    with open(temp, "wb") as f:  # a new file: the previous one was renamed away
        pickle.dump(value, f, protocol=_PROTOCOL)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(temp, path)
    if fsync:
        fsync_dir(os.path.dirname(path))


def plain_read(path: str) -> object:
    with open(path, "rb") as f:
        return pickle.load(f)


# The engine builds one context per output and per input whatever the handler
# (about 2 µs); the contenders here are the handler calls themselves.
OUTPUT = OutputContext(asset_name="value")
INPUT = InputContext(asset_name="value", downstream_asset="bench")


def contenders(directory: Path, size: int, value: object) -> dict[str, Callable[[], object]]:
    """The operations to time, each in its own directory, all set up and warmed."""
    def place(name: str) -> str:
        path = directory / f"{name.replace('+', '-').replace(' ', '-')}-{size}"
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    plain_path = os.path.join(place("plain"), "value.pkl")
    plain_sync_path = os.path.join(place("plain+fsync"), "value.pkl")
    atomic_path = os.path.join(place("atomic"), "value.pkl")
    atomic_sync_path = os.path.join(place("atomic+fsync"), "value.pkl")
    fast = FilesystemIOHandler(base_dir=place("fs"), fsync=False)
    durable = FilesystemIOHandler(base_dir=place("fs+fsync"), fsync=True)
    operations: dict[str, Callable[[], object]] = {
        "plain": lambda: plain_write(plain_path, value, False),
        "plain+fsync": lambda: plain_write(plain_sync_path, value, True),
        "atomic": lambda: atomic_replace(atomic_path, value, False),
        "atomic+fsync": lambda: atomic_replace(atomic_sync_path, value, True),
        "fs": lambda: fast.handle_output(OUTPUT, value),
        "fs+fsync": lambda: durable.handle_output(OUTPUT, value),
        "read plain": lambda: plain_read(plain_path),
        "read fs": lambda: fast.load_input(INPUT),
    }
    for name in WRITERS:
        operations[name]()
    assert operations["read plain"]() == value and operations["read fs"]() == value
    return operations


# ------------------------------------------------------------------ timing
def run_blocks(operations: dict[str, Callable[[], object]], rounds: int, block: int) -> dict[str, list[float]]:
    """Seconds per operation, for ``rounds`` blocks of ``block`` operations per contender."""
    names = list(operations)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            operation, samples = operations[name], times[name]
            os.sync()  # settle what the previous block left to the kernel
            operation()  # warm-up, untimed
            for _ in range(block):
                start = _perf()
                operation()
                samples.append(_perf() - start)
    return times


def bench_size(directory: Path, size: int, rounds: int, block: int) -> dict[str, Any]:
    value = os.urandom(size)
    operations = contenders(directory, size, value)
    times = run_blocks({name: operations[name] for name in WRITERS}, rounds, block)
    times.update(run_blocks({name: operations[name] for name in READERS}, rounds, block))
    median = {name: statistics.median(samples) for name, samples in times.items()}
    mean = {name: statistics.fmean(samples) for name, samples in times.items()}
    mb = size / 2**20

    def percent(baseline: str, contender: str) -> float:
        return 100 * median[baseline] / median[contender]

    return {
        "size_bytes": size,
        "operations": {"rounds": rounds, "per_block": block, "total": rounds * block},
        "seconds_median": median,
        "seconds_mean": mean,
        "mb_per_s": {name: mb / seconds for name, seconds in median.items()},
        "percent": {
            "write fs vs plain": percent("plain", "fs"),
            "write fs+fsync vs plain+fsync": percent("plain+fsync", "fs+fsync"),
            "write fs vs atomic (bare pattern)": percent("atomic", "fs"),
            "write fs+fsync vs atomic+fsync": percent("atomic+fsync", "fs+fsync"),
            "write fs+fsync (default) vs plain": percent("plain", "fs+fsync"),
            "read fs vs plain": percent("read plain", "read fs"),
        },
        "fsync_cost_seconds": {
            "handler (fs+fsync - fs)": median["fs+fsync"] - median["fs"],
            "bare pattern (atomic+fsync - atomic)": median["atomic+fsync"] - median["atomic"],
            "plain (plain+fsync - plain)": median["plain+fsync"] - median["plain"],
        },
    }


# --------------------------------------------------------------- breakdown
STEPS = ("create temp", "pickle.dump", "fsync file", "close", "rename", "fsync dir")


def durable_write_steps(directory: str, value: object) -> list[float]:
    """One durable atomic write, as the handler does it; seconds per step."""
    temp, target = os.path.join(directory, ".value.tmp"), os.path.join(directory, "value.pkl")
    marks = [_perf()]
    fd = os.open(temp, _TEMP_FLAGS, 0o666)
    marks.append(_perf())
    writer = RawWriter(fd)
    pickle.dump(value, writer, protocol=_PROTOCOL)
    marks.append(_perf())
    os.fsync(fd)
    marks.append(_perf())
    writer.close()
    marks.append(_perf())
    os.replace(temp, target)
    marks.append(_perf())
    fsync_dir(directory)
    marks.append(_perf())
    return [after - before for before, after in zip(marks, marks[1:])]


def breakdown(directory: Path, size: int, rounds: int, block: int) -> dict[str, float]:
    """Median seconds of each step of a durable atomic write of ``size`` bytes."""
    place = directory / f"breakdown-{size}"
    place.mkdir(parents=True, exist_ok=True)
    value = os.urandom(size)
    durable_write_steps(str(place), value)
    samples: list[list[float]] = []
    for _ in range(rounds):
        os.sync()
        durable_write_steps(str(place), value)
        samples.extend(durable_write_steps(str(place), value) for _ in range(block))
    medians = {step: statistics.median(sample[i] for sample in samples) for i, step in enumerate(STEPS)}
    medians["total"] = statistics.median(sum(sample) for sample in samples)
    return medians


# ------------------------------------------------------------------ output
def fmt_seconds(seconds: float) -> str:
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def describe_disk(directory: Path) -> str:
    """``device on mount point (fstype, options)`` of the filesystem holding ``directory``."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown filesystem"
    target = str(directory.resolve())
    best = max((m for m in mounts if target == m[1] or target.startswith(m[1].rstrip("/") + "/")),
               key=lambda m: len(m[1]), default=None)
    return f"{best[0]} on {best[1]} ({best[2]}, {best[3]})" if best else "unknown filesystem"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def print_result(result: dict[str, Any]) -> None:
    ops = result["operations"]
    print(f"\n{label(result['size_bytes'])}  ({ops['total']} timed ops per contender: "
          f"{ops['rounds']} blocks of {ops['per_block']})")
    print(f"  {'':<14} {'median/op':>11} {'mean/op':>11} {'MB/s':>10}")
    for name, seconds in result["seconds_median"].items():
        print(f"  {name:<14} {fmt_seconds(seconds)} {fmt_seconds(result['seconds_mean'][name])} "
              f"{result['mb_per_s'][name]:10.1f}")
    for name, percent in result["percent"].items():
        print(f"  {name:<38} {percent:6.1f} %")
    for name, seconds in result["fsync_cost_seconds"].items():
        print(f"  fsync costs, {name:<38} {fmt_seconds(seconds)} per write")
    if "breakdown" in result:
        steps = result["breakdown"]
        print("  durable atomic write, median per step: "
              + ", ".join(f"{step} {steps[step] * 1e6:.0f} µs" for step in (*STEPS, "total")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / ".bench" / "io_fs"), help="directory on the disk to measure")
    parser.add_argument("--sizes", default="1K,1M,100M")
    parser.add_argument("--rounds", type=int, help="blocks per contender (default: by size)")
    parser.add_argument("--block", type=int, help="timed operations per block (default: by size)")
    parser.add_argument("--breakdown", action="store_true", help="also time each step of a durable atomic write")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args()
    directory = Path(options.dir)
    directory.mkdir(parents=True, exist_ok=True)

    print(f"directory: {directory} on {describe_disk(directory)}")
    print(f"load average before: {load_average()}")
    print("plain: pickle.dump into the existing file, no fsync, not atomic | plain+fsync: plus fsync(file) | "
          "atomic(+fsync): temp file + os.replace (+ fsync of file and directory) | fs(+fsync): the handler")
    results = []
    for size in (parse_size(s) for s in options.sizes.split(",")):
        default_rounds, default_block = schedule(size)
        rounds, block = options.rounds or default_rounds, options.block or default_block
        result = bench_size(directory, size, rounds, block)
        if options.breakdown:
            result["breakdown"] = breakdown(directory, size, rounds, block)
        results.append(result)
        print_result(result)
    print(f"\nload average after: {load_average()}")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
