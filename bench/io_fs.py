"""Throughput of rivers-io-fs against plain ``pickle.dump``/``pickle.load`` on the same disk.

    python bench/io_fs.py                       # 1 KB, 1 MB, 100 MB in .bench/io_fs
    python bench/io_fs.py --dir /mnt/data --sizes 1K,1M --json out.json

For each value size it measures, alternating the contenders round by round so
that disk and cache drift hits them alike:

* ``plain``        ``with open(p, "wb") as f: pickle.dump(v, f)`` (no fsync)
* ``plain+fsync``  the same, plus ``f.flush(); os.fsync(f.fileno())``
* ``plain+replace`` ``pickle.dump`` into a temporary file, then ``os.replace``
                   (the bare atomic pattern: what the filesystem charges for it)
* ``fs``           ``FilesystemIOHandler(fsync=False).handle_output`` (atomic
                   temp file + ``os.replace``, output metadata; the contexts are
                   built once, as the engine builds them for any handler)
* ``fs+fsync``     ``FilesystemIOHandler(fsync=True)`` (the default: file and
                   directory fsync)

and the reads ``pickle.load`` vs ``load_input``. Values are random ``bytes``
(the least serialisation work, so the handler's own overhead shows most).
Reported: median seconds per operation, MB/s, and the handler's throughput as
a percentage of the matching plain baseline (``fs`` vs ``plain``,
``fs+fsync`` vs ``plain+fsync``) and of ``plain`` for the default.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for src in (ROOT / "rivers-core" / "src", ROOT / "rivers-io-fs" / "src"):
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))

from rivers.context import InputContext, OutputContext  # noqa: E402

from rivers_io_fs import FilesystemIOHandler  # noqa: E402

_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_perf = time.perf_counter


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


def iterations(size: int, fsync: bool) -> int:
    """Operations per contender: enough for a stable median, bounded in time."""
    if size <= 4 * 2**10:
        return 300 if fsync else 3000
    if size <= 2 * 2**20:
        return 100 if fsync else 300
    return 9


# ------------------------------------------------------------- contenders
def plain_write(path: str, value: object, fsync: bool) -> None:
    with open(path, "wb") as f:
        pickle.dump(value, f, protocol=_PROTOCOL)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def plain_replace(path: str, value: object) -> None:
    """The bare atomic pattern (temp file + ``os.replace``), no fsync: what the filesystem charges for it."""
    temp = path + ".tmp"
    with open(temp, "wb") as f:
        pickle.dump(value, f, protocol=_PROTOCOL)
    os.replace(temp, path)


def plain_read(path: str) -> object:
    with open(path, "rb") as f:
        return pickle.load(f)


# The engine builds one context per output and per input whatever the handler
# (about 2 µs); the contenders here are the handler calls themselves.
OUTPUT = OutputContext(asset_name="value")
INPUT = InputContext(asset_name="value", downstream_asset="bench")


def handler_write(handler: FilesystemIOHandler, value: object) -> None:
    handler.handle_output(OUTPUT, value)


def handler_read(handler: FilesystemIOHandler) -> object:
    return handler.load_input(INPUT)


def timed(fn, *args) -> float:
    start = _perf()
    fn(*args)
    return _perf() - start


def bench_size(directory: Path, size: int, rounds: int | None) -> dict:
    value = os.urandom(size)
    plain_dir = directory / f"plain-{size}"
    plain_dir.mkdir(parents=True, exist_ok=True)
    plain_path = str(plain_dir / "value.pkl")
    fast = FilesystemIOHandler(base_dir=str(directory / f"fs-{size}"), fsync=False)
    durable = FilesystemIOHandler(base_dir=str(directory / f"fs-sync-{size}"), fsync=True)
    # warm up: create directories and files, fault in code paths
    plain_write(plain_path, value, False)
    handler_write(fast, value)
    handler_write(durable, value)
    assert handler_read(fast) == value and plain_read(plain_path) == value

    names = ("plain", "plain+replace", "fs", "plain+fsync", "fs+fsync", "read plain", "read fs")
    times: dict[str, list[float]] = {name: [] for name in names}
    replace_path = str(plain_dir / "replaced.pkl")
    n_fast = rounds or iterations(size, False)
    n_sync = rounds or iterations(size, True)
    for i in range(max(n_fast, n_sync)):  # writes, contenders alternating
        if i < n_fast:
            times["plain"].append(timed(plain_write, plain_path, value, False))
            times["plain+replace"].append(timed(plain_replace, replace_path, value))
            times["fs"].append(timed(handler_write, fast, value))
        if i < n_sync:
            times["plain+fsync"].append(timed(plain_write, plain_path, value, True))
            times["fs+fsync"].append(timed(handler_write, durable, value))
    plain_write(plain_path, value, True)
    handler_write(fast, value)
    os.sync()
    for _ in range(n_fast):  # reads of settled files, alternating
        times["read plain"].append(timed(plain_read, plain_path))
        times["read fs"].append(timed(handler_read, fast))
    median = {name: statistics.median(samples) for name, samples in times.items()}
    mb = size / 2**20
    result = {
        "size_bytes": size,
        "seconds": median,
        "mb_per_s": {name: mb / seconds for name, seconds in median.items()},
        "percent_of_plain": {
            "write fs vs plain": 100 * median["plain"] / median["fs"],
            "write fs vs plain+replace": 100 * median["plain+replace"] / median["fs"],
            "write fs+fsync vs plain+fsync": 100 * median["plain+fsync"] / median["fs+fsync"],
            "write fs+fsync (default) vs plain": 100 * median["plain"] / median["fs+fsync"],
            "read fs vs plain": 100 * median["read plain"] / median["read fs"],
        },
        "iterations": {"no fsync": n_fast, "fsync": n_sync},
    }
    return result


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / ".bench" / "io_fs"), help="directory on the disk to measure")
    parser.add_argument("--sizes", default="1K,1M,100M")
    parser.add_argument("--rounds", type=int, help="operations per contender (default: by size)")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args()
    directory = Path(options.dir)
    directory.mkdir(parents=True, exist_ok=True)

    results = []
    print(f"directory: {directory}")
    for size in (parse_size(s) for s in options.sizes.split(",")):
        result = bench_size(directory, size, options.rounds)
        results.append(result)
        print(f"\n{label(size)}  (median of {result['iterations']['no fsync']} ops; "
              f"{result['iterations']['fsync']} with fsync)")
        for name, seconds in result["seconds"].items():
            print(f"  {name:<14} {fmt_seconds(seconds)}   {result['mb_per_s'][name]:9.1f} MB/s")
        for name, percent in result["percent_of_plain"].items():
            print(f"  {name:<36} {percent:6.1f} %")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
