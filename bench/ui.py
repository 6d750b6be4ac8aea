"""Benchmarks of the web UI (issue 19 §5), in a real headless Chromium against a real ``rivers ui`` process.

    python bench/ui.py                    # graph 1,000 and 10,000 assets, run page, asset page, latency, idle CPU
    python bench/ui.py --assets 1000      # only the 1,000-asset graph (and the rest on it)

Needs rivers-ui, playwright and Debian's chromium (``/usr/bin/chromium``). Figures:

* graph page: browser load time (navigation start to load event) of ``/``, median of 5, and the time a click on
  an asset takes to select it;
* run page of a run of ~10,000 events: from navigation until every event arrived over SSE and is counted;
* asset page of an asset with 100,000 partitions (a few thousand materialised, in ranges): load time;
* event write to browser: a run's events, from the engine's event timestamp to their arrival in the browser;
* idle CPU of the UI process (a browser tab connected to its live stream) over 10 s, in % of one core.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TICKS = os.sysconf("SC_CLK_TCK")


class Server:
    """``rivers ui pipeline.py --port 0`` on the bench pipeline of ``count`` assets and a SQLite file."""

    def __init__(self, directory: Path, count: int) -> None:
        shutil.copyfile(HERE / "_ui_pipeline.py", directory / "pipeline.py")
        self.database = directory / "bench.db"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("RIVERS_")},
                    "PYTHONUNBUFFERED": "1", "RIVERS_BENCH_UI_ASSETS": str(count)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rivers.cli", "ui", "pipeline.py", "--port", "0", "--storage",
             f"sqlite:///{self.database}"], cwd=directory, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.search(r"serving (http://127\.0\.0\.1:\d+)/", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise SystemExit("rivers ui did not start")
        self.directory = directory

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def repository(server: Server, count: int) -> Any:
    """The same pipeline in this process, on the server's SQLite file (runs written here reach the UI)."""
    import importlib.util

    import rivers as rs

    os.environ["RIVERS_BENCH_UI_ASSETS"] = str(count)
    spec = importlib.util.spec_from_file_location(f"bench_ui_pipeline_{count}", server.directory / "pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.repo.resolve(rs.Storage.embedded(str(server.database)))
    return module.repo


def load_ms(page: Any, url: str) -> float:
    page.goto(url, wait_until="load")
    return page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")


def graph(page: Any, server: Server, count: int) -> None:
    first = load_ms(page, server.url + "/")
    loads = [load_ms(page, server.url + "/") for _ in range(5)]
    clicks = []
    for index in range(5):
        clicks.append(page.evaluate("""(name) => {
            const node = document.querySelector(`g.node[data-name="${name}"]`);
            const start = performance.now();
            node.dispatchEvent(new MouseEvent("click", {bubbles: true}));
            document.querySelector("#selected-count").textContent;
            return performance.now() - start; }""", f"n{index * 7}"))
    size = len(page.content())
    print(f"graph {count:>6} assets: load {statistics.median(loads):7.0f} ms (first {first:.0f} ms, "
          f"page {size / 1e6:.1f} MB), click to select {statistics.median(clicks):.1f} ms")


def run_page(page: Any, server: Server, repo: Any, steps: int) -> None:
    started = time.perf_counter()
    result = repo.materialize([f"n{index}" for index in range(steps)])
    took = time.perf_counter() - started
    total, cursor = 0, 0
    while True:
        batch = repo.storage.get_events_after(cursor, run_id=result.run_id, limit=10_000)
        if not batch.events:
            break
        total, cursor = total + len(batch.events), batch.cursor
    begin = time.perf_counter()
    page.goto(f"{server.url}/runs/{result.run_id}")
    page.wait_for_function(f"document.querySelector('#event-count').textContent.startsWith('{total} events')",
                           timeout=120_000)
    shown = (time.perf_counter() - begin) * 1000
    print(f"run page of {total} events ({steps} steps, run took {took:.1f} s): all events shown after {shown:.0f} ms")


def asset_page(page: Any, server: Server, repo: Any) -> None:
    import rivers as rs

    keys = repo.assets["days"].partitions_def.get_partition_keys()
    ranged = [str(keys[index]) for index in range(10_000, 13_000)]
    repo.backfill(["days"], partition_keys=ranged, strategy=rs.BackfillStrategy.single_run())
    for index in range(0, 100_000, 5_000):
        repo.materialize(["days"], partition_key=str(keys[index]))
    load_ms(page, server.url + "/assets/days")
    loads = [load_ms(page, server.url + "/assets/days") for _ in range(5)]
    count = page.locator("svg.pbar rect").count()
    print(f"asset page, {len(keys)} partitions ({len(ranged) + 20} materialised): load "
          f"{statistics.median(loads):.0f} ms, {count} bar rectangles")


def latency(page: Any, server: Server, repo: Any) -> None:
    run_id = str(uuid.uuid4())
    worker = threading.Thread(target=lambda: repo.materialize([f"probe{i}" for i in range(10)],
                                                              run_id_override=run_id))
    page.goto(server.url + "/assets")
    worker.start()
    while repo.storage.get_run(run_id) is None:
        time.sleep(0.01)
    page.evaluate("""(runId) => {
        window.__lat = []; const since = Date.now() * 1e6;
        const source = new EventSource(`/runs/${runId}/events`);
        source.addEventListener("events", (m) => { const now = Date.now() * 1e6;
            for (const e of JSON.parse(m.data)) if (e.ts > since) window.__lat.push((now - e.ts) / 1e6); });
    }""", run_id)
    worker.join()
    time.sleep(1.0)
    values = sorted(page.evaluate("window.__lat"))
    print(f"event write -> browser: median {statistics.median(values):.0f} ms, max {values[-1]:.0f} ms "
          f"({len(values)} events)")


def idle(page: Any, server: Server) -> None:
    page.goto(server.url + "/")
    page.locator("#live.on").wait_for()
    time.sleep(2)
    before, start = server.cpu_seconds(), time.perf_counter()
    time.sleep(10)
    share = (server.cpu_seconds() - before) / (time.perf_counter() - start) * 100
    print(f"idle UI process with a live tab: {share:.2f}% of a core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--run-steps", type=int, default=3334, help="steps of the timed run (~3 events each)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(Path(scratch) / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True)
        page = context.new_page()
        page.set_default_timeout(120_000)
        for count in args.assets:
            directory = Path(scratch) / f"graph{count}"
            directory.mkdir()
            server = Server(directory, count)
            try:
                graph(page, server, count)
                if count == max(args.assets):
                    repo = repository(server, count)
                    run_page(page, server, repo, min(args.run_steps, count))
                    asset_page(page, server, repo)
                    latency(page, server, repo)
                    idle(page, server)
                    repo.shutdown()
            finally:
                server.stop()
        context.close()


if __name__ == "__main__":
    main()
