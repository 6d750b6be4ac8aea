"""Throughput and memory of rivers-io-s3 against plain obstore calls on the same moto server.

    python bench/io_s3.py                               # everything below (needs moto[server])
    python bench/io_s3.py --sizes 1K,1M --rounds 5 --json out.json
    python bench/io_s3.py --latency-ms 20               # partitions also through a proxy adding S3-like latency

Starts moto's S3 server in a subprocess on 127.0.0.1 (a free port), then:

* **write / read** of 1 KB, 1 MB and 100 MB random ``bytes`` values:
  ``handler`` is ``S3IOHandler.handle_output`` / ``load_input``; ``raw`` is
  ``obstore.put(store, key, pickle.dumps(v))`` / ``pickle.loads(obstore.get(store, key).bytes())``
  on an ``obstore.store.S3Store`` configured the same way (the cheapest
  correct use of the client: one buffer, one request). The two alternate
  block by block, in a rotating order; reported: median time per
  operation, MB/s, and handler throughput as a percentage of raw.
* **partitions**: 100 partitions of 10 KB loaded with one ``load_input``
  (concurrent requests) against 100 single-key ``load_input`` calls one by
  one, directly against moto and, with ``--latency-ms``, through a proxy on
  127.0.0.1 that delays each request (moto answers from the same two cores
  that run the client, so its own CPU time, not latency, bounds concurrency
  when talking to it directly).
* **memory**: peak RSS of a fresh process writing and reading a 100 MB value,
  as a multiple of the value size above the process's RSS before the value
  existed (``VmHWM`` of ``/proc/self/status``, Linux); handler and raw client each in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for src in (ROOT / "rivers-core" / "src", ROOT / "rivers-io-s3" / "src"):
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))

from io_fs import label, parse_size  # noqa: E402 - the size helpers of the fs benchmark

BUCKET = "bench"


def make_handler(endpoint: str, prefix: str) -> Any:
    from rivers_io_s3 import S3IOHandler

    return S3IOHandler(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint)


def make_raw_store(endpoint: str) -> Any:
    """The obstore store the handler builds, configured the same way (same timeouts, retries)."""
    return make_handler(endpoint, "raw").client()


def contexts(name: str, keys: list[str] | None = None) -> tuple[Any, Any]:
    from rivers.testing.io_handlers import input_context, output_context, partition

    part = partition(*keys) if keys else None
    return output_context(name, part), input_context(name, part)


def time_block(operation: Callable[[], Any], count: int) -> float:
    operation()  # warm-up, untimed
    start = time.perf_counter()
    for _ in range(count):
        operation()
    return (time.perf_counter() - start) / count


def bench_sizes(endpoint: str, sizes: list[int], rounds: int) -> list[dict[str, Any]]:
    import obstore

    handler = make_handler(endpoint, "handler")
    store = make_raw_store(endpoint)
    results = []
    for size in sizes:
        value = os.urandom(size)
        count = max(1, min(200, (4 * 2**20) // size))
        big = size >= 64 * 2**20
        blocks = 3 if big and rounds > 3 else rounds
        out_ctx, in_ctx = contexts(f"value_{size}")
        raw_key = f"raw/value_{size}.pkl"
        contenders: dict[str, Callable[[], Any]] = {
            "handler write": lambda: handler.handle_output(out_ctx, value),
            "raw write": lambda: obstore.put(store, raw_key, pickle.dumps(value, protocol=5)),
            "handler read": lambda: handler.load_input(in_ctx),
            "raw read": lambda: pickle.loads(obstore.get(store, raw_key).bytes()),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for block in range(blocks):
            # writes before reads (a read needs the value); the pair order rotates every block
            for pair in (names[:2], names[2:]):
                order = pair if block % 2 == 0 else pair[::-1]
                for name in order:
                    times[name].append(time_block(contenders[name], count))
        row: dict[str, Any] = {"size": size, "label": label(size), "ops_per_block": count, "blocks": blocks}
        for name, samples in times.items():
            median = statistics.median(samples)
            row[name] = {"median_s": median, "mb_per_s": size / median / 1e6}
        for action in ("write", "read"):
            ratios = [r / h for h, r in zip(times[f"handler {action}"], times[f"raw {action}"])]
            row[f"{action}_vs_raw"] = statistics.median(ratios)
        results.append(row)
        print(
            f"{label(size):>7}  write handler {row['handler write']['median_s'] * 1e3:9.2f} ms "
            f"raw {row['raw write']['median_s'] * 1e3:9.2f} ms -> {row['write_vs_raw']:6.1%} | "
            f"read handler {row['handler read']['median_s'] * 1e3:9.2f} ms "
            f"raw {row['raw read']['median_s'] * 1e3:9.2f} ms -> {row['read_vs_raw']:6.1%}",
            flush=True,
        )
    return results


def bench_partitions(endpoint: str, rounds: int, count: int = 100, size: int = 10 * 1024) -> dict[str, Any]:
    handler = make_handler(endpoint, "partitions")
    keys = [f"p{i:03d}" for i in range(count)]
    for key in keys:
        out_ctx, _ = contexts("parts", [key])
        handler.handle_output(out_ctx, os.urandom(size))
    _, all_ctx = contexts("parts", keys)
    singles = [contexts("parts", [key])[1] for key in keys]

    def concurrent() -> None:
        assert len(handler.load_input(all_ctx)) == count

    def one_by_one() -> None:
        for context in singles:
            handler.load_input(context)

    times: dict[str, list[float]] = {"concurrent": [], "one by one": []}
    for block in range(rounds):
        order = ["concurrent", "one by one"] if block % 2 == 0 else ["one by one", "concurrent"]
        for name in order:
            times[name].append(time_block(concurrent if name == "concurrent" else one_by_one, 1))
    speedups = [s / c for c, s in zip(times["concurrent"], times["one by one"])]
    return {
        "partitions": count,
        "size": size,
        "concurrent_s": statistics.median(times["concurrent"]),
        "one_by_one_s": statistics.median(times["one by one"]),
        "speedup": statistics.median(speedups),
    }


_MEMORY_CHILD = r"""
import json, os, pickle, sys
sys.path[:0] = sys.argv[4:]
import io_s3 as support

def status(field: str) -> int:
    # VmHWM is this process image's peak (ru_maxrss would include the parent's, kept across exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

def rss() -> int:
    return status("VmRSS")

mode, endpoint, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
import obstore
handler = support.make_handler(endpoint, "memory")
store = support.make_raw_store(endpoint)
handler.client()  # both clients (and obstore's runtime) exist before the baseline
out_ctx, in_ctx = support.contexts("mem")
if mode.endswith("read"):  # the object is written by another process; this one only reads
    before = rss()
    value = handler.load_input(in_ctx) if mode == "handler read" else pickle.loads(obstore.get(store, "raw/mem.pkl").bytes())
else:
    before = rss()
    value = os.urandom(size)
    if mode == "handler write":
        handler.handle_output(out_ctx, value)
    else:
        obstore.put(store, "raw/mem.pkl", pickle.dumps(value, protocol=5))
assert len(value) == size
peak = status("VmHWM")
print(json.dumps({"before": before, "peak": peak}))
"""


def bench_memory(endpoint: str, size: int) -> dict[str, Any]:
    results: dict[str, Any] = {"size": size}
    paths = [str(ROOT / "bench"), str(ROOT / "rivers-core" / "src"), str(ROOT / "rivers-io-s3" / "src")]
    for mode in ("handler write", "raw write", "handler read", "raw read"):
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, mode, endpoint, str(size), *paths],
            capture_output=True, text=True, check=True, timeout=600,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        results[mode] = (figures["peak"] - figures["before"]) / size
        print(f"memory {mode:>13}: peak RSS {results[mode]:.2f}x the value above the process's start", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1K,1M,100M")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per-request delay of the proxy (0: skip)")
    parser.add_argument("--memory-size", default="100M", help="value size of the memory measurement (0: skip)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    from rivers_io_s3.testing import MOTO_CREDENTIALS, FaultProxy, MotoServer

    os.environ.update(MOTO_CREDENTIALS)
    results: dict[str, Any] = {}
    with MotoServer() as server:
        server.create_bucket(BUCKET)
        results["sizes"] = bench_sizes(server.endpoint_url, [parse_size(s) for s in args.sizes.split(",")], args.rounds)
        direct = bench_partitions(server.endpoint_url, args.rounds)
        print(f"100 x 10 KB partitions, moto directly: concurrent {direct['concurrent_s'] * 1e3:.0f} ms, "
              f"one by one {direct['one_by_one_s'] * 1e3:.0f} ms -> {direct['speedup']:.1f}x", flush=True)
        results["partitions_direct"] = direct
        if args.latency_ms > 0:
            with FaultProxy(server.endpoint_url) as proxy:
                proxy.delay(args.latency_ms / 1000)
                delayed = bench_partitions(proxy.endpoint_url, max(3, args.rounds // 2))
            print(f"100 x 10 KB partitions, {args.latency_ms:g} ms per request: concurrent "
                  f"{delayed['concurrent_s'] * 1e3:.0f} ms, one by one {delayed['one_by_one_s'] * 1e3:.0f} ms "
                  f"-> {delayed['speedup']:.1f}x", flush=True)
            results["partitions_latency"] = {**delayed, "latency_ms": args.latency_ms}
        memory_size = parse_size(args.memory_size)
        if memory_size:
            results["memory"] = bench_memory(server.endpoint_url, memory_size)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
