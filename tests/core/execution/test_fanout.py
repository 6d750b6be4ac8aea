"""Dynamic fan-out in graph bodies: ``.map(task)``, ``.collect()``, ``.collect_stream()``, ``DynamicOutput``.

Spec: assets.md §9. Mapped instances are ordinary steps of the run's scheduler
(``<graph>/<task>__<key>``), planned when the list they map over exists.
"""

import asyncio
import os
import threading
import time
from typing import Any

import pytest

import rivers as rs


def make_repo(assets, tasks=(), **kwargs: Any) -> rs.CodeRepository:
    repo = rs.CodeRepository(assets=list(assets), tasks=list(tasks), **kwargs)
    repo.resolve(rs.Storage.memory())
    return repo


def events(repo: rs.CodeRepository, result: Any, kind: str) -> list[str]:
    return [e.asset_key for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == kind]


@rs.Task
def ids() -> list:
    return [rs.DynamicOutput("a", 1), rs.DynamicOutput("b", 2)]


@rs.Task
def square(x: int) -> int:
    return x * x


@rs.Task
def total(xs: list) -> int:
    return sum(xs)


@rs.Task
def numbers() -> list:
    return [0, 1, 2]


def test_spec_example_maps_and_collects_in_key_order():
    @rs.Asset.from_graph()
    def squares():
        return total(ids().map(square).collect())

    repo = make_repo([squares], [ids, square, total], default_executor=rs.Executor.in_process())
    result = repo.materialize()
    assert result.success
    assert repo.load_node("squares") == 5
    assert repo.load_node("squares/square__collect") == [1, 4]
    assert events(repo, result, "StepSuccess") == [
        "squares/ids", "squares/square__a", "squares/square__b", "squares/square__collect", "squares/total",
        "squares",
    ]
    assert set(events(repo, result, "Materialization")) >= {"squares/square__a", "squares/square__b",
                                                             "squares/square__collect"}


def test_plain_list_is_keyed_by_index_and_a_collected_output_may_be_returned():
    @rs.Task
    def numbers() -> list:
        return [3, 4, 5]

    @rs.Asset.from_graph()
    def doubled():
        return numbers().map(square).collect()

    repo = make_repo([doubled], [numbers, square])
    result = repo.materialize()
    assert repo.load_node("doubled") == [9, 16, 25]
    assert [k for k in events(repo, result, "StepSuccess") if "__" in k] == [
        "doubled/square__0", "doubled/square__1", "doubled/square__2", "doubled/square__collect"]


def test_an_empty_list_collects_to_an_empty_list():
    @rs.Task
    def nothing() -> list:
        return []

    @rs.Asset.from_graph()
    def empty():
        return total(nothing().map(square).collect())

    repo = make_repo([empty], [nothing, square, total])
    assert repo.materialize().success
    assert repo.load_node("empty") == 0


def test_mapped_output_node_and_output_names():
    seen = {}

    @rs.Asset.from_graph()
    def names():
        mapped = ids().map(square, max_concurrency=2)
        seen["mapped"] = (mapped.node_name, mapped.output_name, type(mapped).__name__)
        collected = mapped.collect()
        seen["collected"] = (collected.node_name, collected.output_name)
        return total(collected)

    make_repo([names], [ids, square, total])
    assert seen["mapped"] == ("names/ids", "result", "MappedOutput")
    assert seen["collected"] == ("names/square__collect", "result")


def test_mapped_output_is_importable_from_rivers_core_only():
    import rivers._core as core
    from rivers.definitions.composition import MappedOutput

    assert core.MappedOutput is MappedOutput
    assert "MappedOutput" not in rs.__all__


# ================================================================== errors
def test_mapping_something_that_is_not_a_task_is_a_type_error():
    def plain(x):
        return x

    with pytest.raises(TypeError, match="Task"):
        @rs.Asset.from_graph()
        def bad():
            return ids().map(plain).collect()


def test_passing_an_uncollected_mapped_output_is_a_type_error():
    with pytest.raises(TypeError, match="must be collected"):
        @rs.Asset.from_graph()
        def bad():
            return total(ids().map(square))

    with pytest.raises(TypeError, match="must be collected"):
        @rs.Asset.from_graph()
        def returned():
            return ids().map(square)


def test_mixing_plain_values_and_dynamic_outputs_fails_the_producer():
    @rs.Task
    def mixed() -> list:
        return [rs.DynamicOutput("a", 1), 2]

    @rs.Asset.from_graph()
    def bad():
        return total(mixed().map(square).collect())

    repo = make_repo([bad], [mixed, square, total])
    with pytest.raises(TypeError, match="Cannot mix"):
        repo.materialize()


def test_a_normal_asset_returning_dynamic_outputs_stores_the_values():
    @rs.Asset
    def listed() -> list:
        return [rs.DynamicOutput("x", 10), rs.DynamicOutput("y", 20)]

    repo = make_repo([listed])
    repo.materialize()
    assert repo.load_node("listed") == [10, 20]


def test_duplicate_dynamic_output_keys_fail_the_collect_step():
    @rs.Task
    def twice() -> list:
        return [rs.DynamicOutput("a", 1), rs.DynamicOutput("a", 2)]

    @rs.Asset.from_graph()
    def dup():
        return total(twice().map(square).collect())

    repo = make_repo([dup], [twice, square, total])
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    assert "dup/square__collect" in events(repo, result, "StepFailure")


# ============================================================ stream
def test_collect_stream_hands_a_generator_ordered_or_in_completion_order():
    seen = {}

    @rs.Task
    def consume(xs) -> int:
        seen["type"] = type(xs).__name__
        items = list(xs)
        seen["items"] = items
        return len(items)

    @rs.Asset.from_graph()
    def streamed():
        return consume(ids().map(square).collect_stream(ordered=True))

    repo = make_repo([streamed], [ids, square, consume])
    repo.materialize()
    assert seen == {"type": "list_iterator", "items": [1, 4]}

    @rs.Task
    async def slow_first(x: int) -> int:
        await asyncio.sleep(0.3 if x == 1 else 0.0)
        return x

    @rs.Asset.from_graph()
    def unordered():
        return consume(ids().map(slow_first).collect_stream())

    repo = make_repo([unordered], [ids, slow_first, consume])
    repo.materialize()
    assert seen["items"] == [2, 1]  # completion order: "b" finished first


# ============================================================ failures
def test_a_failing_instance_fails_the_collect_step_others_continue():
    ran = []

    @rs.Task
    def picky(x: int) -> int:
        ran.append(x)
        if x == 1:
            raise ValueError("no ones")
        return x

    @rs.Asset.from_graph()
    def partial():
        return total(numbers().map(picky).collect())

    repo = make_repo([partial], [numbers, picky, total])
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    assert sorted(ran) == [0, 1, 2]
    failed = events(repo, result, "StepFailure")
    assert failed[0] == "partial/picky__1"
    assert {"partial/picky__collect", "partial/total", "partial"} <= set(failed)
    assert set(events(repo, result, "StepSuccess")) == {"partial/numbers", "partial/picky__0", "partial/picky__2"}


def test_retries_are_per_instance():
    attempts: dict[int, int] = {}

    @rs.Task(retry=rs.RetryPolicy(max_retries=2))
    def flaky(x: int) -> int:
        attempts[x] = attempts.get(x, 0) + 1
        if x == 1 and attempts[x] < 3:
            raise ValueError("again")
        return x

    @rs.Asset.from_graph()
    def retried():
        return total(numbers().map(flaky).collect())

    repo = make_repo([retried], [numbers, flaky, total])
    result = repo.materialize()
    assert repo.load_node("retried") == 3
    assert attempts == {0: 1, 1: 3, 2: 1}
    assert events(repo, result, "StepRetry") == ["retried/flaky__1", "retried/flaky__1"]


def _tracker():
    state = {"now": 0, "max": 0, "lock": threading.Lock()}

    def enter():
        with state["lock"]:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])

    def leave():
        with state["lock"]:
            state["now"] -= 1

    return state, enter, leave


def test_async_instances_run_concurrently():
    state, enter, leave = _tracker()

    @rs.Task
    def twenty() -> list:
        return list(range(20))

    @rs.Task
    async def wait(x: int) -> int:
        enter()
        await asyncio.sleep(0.5)
        leave()
        return x

    @rs.Asset.from_graph()
    def waited():
        return total(twenty().map(wait).collect())

    repo = make_repo([waited], [twenty, wait, total])
    started = time.perf_counter()
    repo.materialize()
    elapsed = time.perf_counter() - started
    assert repo.load_node("waited") == sum(range(20))
    assert state["max"] == 20  # all twenty awaited at the same time
    assert elapsed < 20 * 0.5  # far from one after the other


def test_max_concurrency_is_honoured_with_retries():
    state, enter, leave = _tracker()
    attempts: dict[int, int] = {}

    @rs.Task
    def eight() -> list:
        return list(range(8))

    @rs.Task(retry=rs.RetryPolicy(max_retries=1))
    async def capped(x: int) -> int:
        enter()
        try:
            await asyncio.sleep(0.05)
            attempts[x] = attempts.get(x, 0) + 1
            if x % 2 and attempts[x] == 1:
                raise ValueError("retry me")
            return x
        finally:
            leave()

    @rs.Asset.from_graph()
    def limited():
        return total(eight().map(capped, max_concurrency=3).collect())

    repo = make_repo([limited], [eight, capped, total])
    result = repo.materialize()
    assert repo.load_node("limited") == sum(range(8))
    assert state["max"] == 3
    assert len(events(repo, result, "StepRetry")) == 4


def test_max_concurrency_must_be_positive():
    with pytest.raises(ValueError, match="max_concurrency"):
        @rs.Asset.from_graph()
        def bad():
            return total(ids().map(square, max_concurrency=0).collect())


# ============================================================ other executors
def test_mapped_instances_run_in_worker_processes_of_the_parallel_executor(tmp_path, monkeypatch):
    import parallel_support as ps

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RIVERS_TEST_MARKS", str(tmp_path / "marks"))
    repo = rs.CodeRepository(assets=[ps.fanned], tasks=[ps.fan_items, ps.fan_work, ps.fan_total],
                             default_executor=rs.Executor.parallel(max_workers=3))
    repo.resolve(rs.Storage.embedded("runs.db"))
    result = repo.materialize()
    assert result.success
    assert repo.load_node("fanned") == 0 + 1 + 2 + 3
    runs = ps.marks("fan_work")
    assert sorted(m["x"] for m in runs) == [0, 1, 2, 3]
    assert all(m["pid"] != os.getpid() for m in runs)  # in worker processes
    # max_concurrency=2: never three instances at once, though three workers are free
    edges = sorted([(m["start"], 1) for m in runs] + [(m["end"], -1) for m in runs])
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    assert most <= 2  # (two at once is the usual case; a worker slow to start may leave one alone)
    assert [k for k in events(repo, result, "StepSuccess") if "fan_work__" in k] != []
    assert {"fanned/fan_work__north", "fanned/fan_work__west"} <= set(events(repo, result, "Materialization"))


PIPELINE = """
import os, pickle, sys, time
from pathlib import Path
import rivers as rs

class Files(rs.BaseIOHandler):
    def _path(self, name):
        return Path("values") / (name.replace("/", "__") + ".pkl")
    def handle_output(self, context, obj):
        path = self._path(context.asset_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(obj))
    def load_input(self, context):
        return pickle.loads(self._path(context.asset_name).read_bytes())

IO = Files()

@rs.Task
def items() -> list:
    return list(range(6))

@rs.Task
def work(x: int) -> int:
    with open("ran.log", "a") as log:
        log.write(f"{x}\\n")
    if x == 3 and not os.environ.get("RESUMED"):
        Path("blocked").write_text("")
        time.sleep(60)
    return x * 10

@rs.Task
def add(xs: list) -> int:
    return sum(xs)

@rs.Asset.from_graph(io_handler=IO, node_io_handler=IO)
def pipeline():
    return add(items().map(work).collect())

repo = rs.CodeRepository(assets=[pipeline], tasks=[items, work, add], default_executor=rs.Executor.in_process())

if __name__ == "__main__":
    repo.resolve(rs.Storage.embedded("runs.db"))
    result = repo.materialize(run_id_override=sys.argv[1], resume=len(sys.argv) > 2)
    print("success" if result.success else "failure", repo.load_node("pipeline"))
"""


def test_resume_after_sigkill_reruns_only_unfinished_instances(tmp_path):
    import signal
    import subprocess
    import sys

    (tmp_path / "pipeline.py").write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if k != "RESUMED"}
    process = subprocess.Popen([sys.executable, "pipeline.py", "fan-run"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp_path / "blocked").exists():
        if process.poll() is not None:
            raise AssertionError(f"pipeline exited early: {process.communicate()}")
        assert time.monotonic() < deadline, "instance 3 never started"
        time.sleep(0.02)
    time.sleep(1.0)  # let the event writer commit the finished instances
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert (tmp_path / "ran.log").read_text().split() == ["0", "1", "2", "3"]
    resumed = subprocess.run([sys.executable, "pipeline.py", "fan-run", "resume"], cwd=tmp_path,
                             env={**env, "RESUMED": "1"}, capture_output=True, text=True, timeout=120)
    assert resumed.stdout.split() == ["success", str(sum(x * 10 for x in range(6)))], resumed.stderr
    # the finished instances 0-2 did not run again; 3 (killed) and 4, 5 (never started) did
    assert (tmp_path / "ran.log").read_text().split() == ["0", "1", "2", "3", "3", "4", "5"]


def test_a_partitioned_graph_maps_over_the_partition_value():
    daily = rs.PartitionsDefinition.static_(["x", "y"])

    @rs.Task
    def letters(context: rs.TaskExecutionContext) -> list:
        return [str(context.partition_key)] * 2

    @rs.Task
    def upper(s: str) -> str:
        return s.upper()

    @rs.Task
    def joined(xs: list) -> str:
        return "".join(xs)

    @rs.Asset.from_graph(partitions_def=daily)
    def shouted():
        return joined(letters().map(upper).collect())

    repo = make_repo([shouted], [letters, upper, joined])
    assert repo.materialize(partition_key="y").success
    assert repo.load_node("shouted", partition_key="y") == "YY"


def test_a_canceled_run_records_the_instances_it_did_not_run():
    ran = []

    @rs.Task
    def cancelling(context: rs.TaskExecutionContext, x: int) -> int:
        ran.append(x)
        if x == 1:
            holder["repo"].storage.request_cancellation(context.run_id)
            time.sleep(1.1)  # past the scheduler's cancellation polling interval
        return x

    @rs.Asset.from_graph()
    def stopped():
        return total(numbers().map(cancelling).collect())

    holder = {}
    repo = holder["repo"] = make_repo([stopped], [numbers, cancelling, total])
    result = repo.materialize(raise_on_error=False)
    assert ran == [0, 1]
    assert repo.storage.get_run(result.run_id).status == "Canceled"
    assert set(events(repo, result, "StepNotRun")) == {"stopped/cancelling__2", "stopped/cancelling__collect",
                                                       "stopped/total", "stopped"}


def test_instances_go_through_a_third_party_launcher():
    """The threadpool plugin's executor (a StepLauncher of its own) runs the instances on its threads."""
    state, enter, leave = _tracker()

    @rs.Task
    def named(x: int) -> str:
        enter()
        time.sleep(0.2)
        leave()
        return threading.current_thread().name

    @rs.Task
    def names(xs: list) -> list:
        return xs

    @rs.Asset.from_graph()
    def pooled():
        return names(numbers().map(named, max_concurrency=2).collect())

    repo = make_repo([pooled], [numbers, named, names],
                     default_executor=rs.Executor.from_plugin("threadpool", max_threads=3))
    assert repo.materialize().success
    threads = repo.load_node("pooled")
    assert len(threads) == 3 and all(name.startswith("rivers-threadpool") for name in threads)
    assert state["max"] == 2
