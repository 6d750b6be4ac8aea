"""The handler with the parallel executor: values written in worker processes, read across runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import rivers as rs

PIPELINE = textwrap.dedent("""
    import os
    import rivers as rs
    from rivers_io_fs import FilesystemIOHandler

    data = FilesystemIOHandler(base_dir=os.environ["DATA_DIR"])

    @rs.Asset(io_handler=data)
    def orders() -> list:
        return [os.getpid(), 1, 2]

    @rs.Asset(io_handler=data)
    def customers() -> list:
        return [os.getpid()]

    @rs.Asset(io_handler=data)
    def report(orders: list, customers: list) -> dict:
        return {"pids": [orders[0], customers[0], os.getpid()], "total": sum(orders[1:])}

    @rs.Asset(io_handler=data)
    def counter(self: rs.SelfDependency[int]) -> int:
        return (self.get_inner() or 0) + 1
""")

RUN = textwrap.dedent("""
    import json, os, sys
    import rivers as rs
    import pipeline

    if __name__ == "__main__":
        repo = rs.CodeRepository(
            assets=[pipeline.orders, pipeline.customers, pipeline.report, pipeline.counter],
            default_executor=rs.Executor.parallel(max_workers=2),
        )
        repo.resolve(rs.Storage.memory())
        ok = [repo.materialize().success for _ in range(2)]
        print(json.dumps({"ok": ok, "report": repo.load_node("report"), "counter": repo.load_node("counter"),
                          "pid": os.getpid()}))
""")


@pytest.mark.skipif(not hasattr(rs.Executor, "parallel"), reason="no parallel executor in this core")
def test_parallel_executor_writes_in_workers_and_reads_across_runs(tmp_path):
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "run.py").write_text(RUN)
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATA_DIR": str(data), "RIVERS_STORAGE_URL": "memory://"},
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["ok"] == [True, True]
    assert outcome["report"]["total"] == 3
    assert outcome["pid"] not in outcome["report"]["pids"]  # every step ran in a worker process
    assert outcome["counter"] == 2  # the second run's worker read the first run's value
    assert sorted(p.name for p in data.iterdir()) == ["counter.pkl", "customers.pkl", "orders.pkl", "report.pkl"]
