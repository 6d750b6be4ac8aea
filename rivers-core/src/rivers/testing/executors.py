"""A conformance suite every executor can run: ours and third parties'.

Subclass :class:`ExecutorConformance` in a test module (the name must start
with ``Test`` for pytest to collect it) and name your executor as its plugin
registers it::

    from rivers.testing.executors import ExecutorConformance

    class TestMyExecutor(ExecutorConformance):
        executor_name = "my_executor"          # registered through rivers_executors
        executor_config = {"workers": 2}       # JSON-compatible: also used in subprocesses
        concurrent_steps = True                # it runs independent steps at the same time
        isolated_runner = True                 # each step runs in a process it may kill

The suite's assets are module-level definitions of this module (so worker
processes, pods and remote workers import them by reference) writing their
values through :class:`KitFiles`, a small pickle-file IO handler shared by
every process, and leaving marks (pid, start and end times, attempt) in the
directory named by ``RIVERS_KIT_MARKS``.

What is checked
---------------

* ordering: a step starts only after the steps it depends on ended, values
  flow downstream, and each step's events are ``StepStart`` →
  ``Materialization`` → ``StepSuccess``;
* a step starts as soon as its own inputs are done (``concurrent_steps``):
  a quick chain finishes while a slow independent step still runs;
* a failure skips its dependants (``Skipped: upstream dependency failed``)
  while independent branches run on; ``raise_on_error=True`` re-raises the
  original exception type;
* retries: ``StepRetry`` events with ``rivers/attempt`` and
  ``rivers/next_delay_ms``, the backoff honoured between attempts, one
  ``StepStart`` and one ``StepSuccess``;
* cancellation recorded in storage while a step runs: nothing more starts,
  the run ends ``Canceled``;
* pools: a pool of one slot never runs two of its steps at once; claim and
  release events name the pool and the slots;
* resume after SIGKILL of the controller (a subprocess): the resumed run
  does not run completed steps again and records one materialization per
  asset;
* death of the thing running a step (``isolated_runner``) fails only that
  step;
* multi-assets (both outputs, a selected subset, a generator that does not
  yield a selected output fails its step), graph assets, partitioned runs,
  and async steps of one level running concurrently.

Capabilities
------------

========================== ======= ===========================================================
attribute                  default meaning
========================== ======= ===========================================================
concurrent_steps           True    independent sync steps run at the same time
isolated_runner            False   a step runs in a process of its own that it may kill
supports_resume            True    the executor works in a fresh ``python`` subprocess (needs an
                                   installed plugin)
========================== ======= ===========================================================

``slow_step_seconds`` (1.5) is how long the slow step of the as-soon-as-ready
test runs (through ``RIVERS_KIT_SLOW_SECONDS`` in the runner's environment):
raise it for runners that take long to start, such as one pod per step.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pytest

import rivers as rs

if TYPE_CHECKING:
    from rivers.storage import RunRecord

__all__ = ["ExecutorConformance", "KitError", "KitFiles", "kit_marks"]

#: the resource name of the suite's IO handler
IO = "kit_files"


class KitError(Exception):
    """The exception the suite's failing asset raises (its type must survive the executor)."""


class KitFiles(rs.BaseIOHandler):
    """Values as pickle files ``<root>/<asset>[/<partition>].pkl``, shared by every process."""

    root: str = "kit-values"

    def _path(self, context: Any) -> Path:
        name = context.asset_name.replace("/", "__")
        partition = context.partition
        if partition is not None:
            return Path(self.root) / name / f"{partition.key}.pkl"
        return Path(self.root) / f"{name}.pkl"

    def handle_output(self, context: rs.OutputContext, obj: object) -> None:
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(pickle.dumps(obj))
        os.replace(tmp, path)

    def load_input(self, context: rs.InputContext) -> object:
        return pickle.loads(self._path(context).read_bytes())


# --------------------------------------------------------------------- marks
def _marks_dir() -> Path:
    path = Path(os.environ.get("RIVERS_KIT_MARKS", "kit-marks"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mark(name: str, **data: Any) -> None:
    payload = {"pid": os.getpid(), **data}
    (_marks_dir() / f"{name}.{os.getpid()}.{threading.get_ident()}.{time.time_ns()}").write_text(json.dumps(payload))


def kit_marks(name: str) -> list[dict[str, Any]]:
    """The marks asset ``name`` left, oldest first."""
    found = [json.loads(path.read_text()) for path in _marks_dir().glob(f"{name}.*")]
    return sorted(found, key=lambda mark: mark.get("start", 0))


def _attempt_number(name: str) -> int:
    """How many times ``name`` ran so far, this run included (counted in files, across processes)."""
    directory = _marks_dir() / "attempts"
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.{os.getpid()}.{threading.get_ident()}.{time.time_ns()}").touch()
    return len(list(directory.glob(f"{name}.*")))


def _timed(name: str, seconds: float, value: Any) -> Any:
    start = time.time()
    time.sleep(seconds)
    _mark(name, start=start, end=time.time())
    return value


# ---------------------------------------------------------------- the assets
@rs.Asset(io_handler=IO)
def kit_source() -> int:
    return _timed("kit_source", 0.05, 1)


@rs.Asset(io_handler=IO)
def kit_left(kit_source: int) -> int:
    return _timed("kit_left", 0.05, kit_source + 10)


@rs.Asset(io_handler=IO)
def kit_right(kit_source: int) -> int:
    return _timed("kit_right", 0.05, kit_source + 100)


@rs.Asset(io_handler=IO)
def kit_joined(kit_left: int, kit_right: int) -> int:
    return _timed("kit_joined", 0.0, kit_left + kit_right)


@rs.Asset(io_handler=IO)
def kit_slow() -> str:
    return _timed("kit_slow", float(os.environ.get("RIVERS_KIT_SLOW_SECONDS", "1.5")), "slow")


@rs.Asset(io_handler=IO)
def kit_quick() -> str:
    return _timed("kit_quick", 0.05, "quick")


@rs.Asset(io_handler=IO)
def kit_after_quick(kit_quick: str) -> str:
    return _timed("kit_after_quick", 0.05, kit_quick + "!")


@rs.Asset(io_handler=IO)
def kit_boom() -> int:
    raise KitError("kit_boom failed on purpose")


@rs.Asset(io_handler=IO)
def kit_after_boom(kit_boom: int) -> int:
    return kit_boom + 1


@rs.Asset(io_handler=IO)
def kit_independent() -> str:
    return _timed("kit_independent", 0.1, "independent")


@rs.Asset(io_handler=IO, retry=rs.RetryPolicy(2, backoff=rs.Backoff.constant(0.3), retry_on=[ConnectionError]))
def kit_flaky() -> int:
    attempt = _attempt_number("kit_flaky")
    _mark("kit_flaky", start=time.time(), attempt=attempt)
    if attempt < 3:
        raise ConnectionResetError(f"attempt {attempt} fails")
    return attempt


@rs.Asset(io_handler=IO)
def kit_gate(kit_source: int) -> int:
    """Runs until the file ``release`` appears in the marks directory (at most 30 s)."""
    _attempt_number("kit_gate")
    (_marks_dir() / "gate-started").touch()
    deadline = time.monotonic() + 30
    while not (_marks_dir() / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return kit_source + 1


@rs.Asset(io_handler=IO)
def kit_after_gate(kit_gate: int) -> int:
    _attempt_number("kit_after_gate")
    return kit_gate + 1


def _pooled(name: str) -> Any:
    def body() -> str:
        return _timed(name, 0.2, name)

    body.__name__ = body.__qualname__ = name
    body.__module__ = __name__
    asset = rs.Asset(io_handler=IO, pool="kit_pool", name=name)(body)
    globals()[name] = asset
    return asset


KIT_POOLED = [_pooled(f"kit_pooled_{i}") for i in range(3)]


@rs.Asset(io_handler=IO)
def kit_dies() -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0  # pragma: no cover - never reached


@rs.Asset(io_handler=IO)
def kit_after_dies(kit_dies: int) -> int:
    return kit_dies


@rs.Asset(io_handler=IO)
def kit_survivor() -> str:
    return _timed("kit_survivor", 0.3, "survived")


@rs.Asset.from_multi(output_defs=[rs.AssetDef("kit_multi_a"), rs.AssetDef("kit_multi_b")], io_handler=IO)
def kit_multi() -> dict:
    _mark("kit_multi", start=time.time())
    return {"kit_multi_a": "a", "kit_multi_b": "b"}


@rs.Asset(io_handler=IO)
def kit_after_multi(kit_multi_a: str, kit_multi_b: str) -> str:
    return kit_multi_a + kit_multi_b


@rs.Asset.from_multi(output_defs=[rs.AssetDef("kit_gen_a"), rs.AssetDef("kit_gen_b")], io_handler=IO)
def kit_gen():
    yield rs.Output("a", output_name="kit_gen_a")


@rs.Task(io_handler=IO)
def kit_task_one() -> int:
    return 20


@rs.Task(io_handler=IO)
def kit_task_two(kit_task_one: int) -> int:
    return kit_task_one + 2


def kit_graph_body() -> Any:
    return kit_task_two(kit_task_one())


kit_graph = rs.Asset.from_graph(kit_graph_body, name="kit_graph", io_handler=IO, node_io_handler=IO)


@rs.Asset(io_handler=IO)
def kit_after_graph(kit_graph: int) -> int:
    return kit_graph * 2


KIT_LETTERS = rs.PartitionsDefinition.static_(["a", "b", "c"])


@rs.Asset(io_handler=IO, partitions_def=KIT_LETTERS)
def kit_letters(context: rs.AssetExecutionContext) -> str:
    return context.partition_key * 2


@rs.Asset(io_handler=IO, partitions_def=KIT_LETTERS)
def kit_shout(kit_letters: str) -> str:
    return kit_letters.upper()


def _sleepy(name: str) -> Any:
    async def body() -> str:
        start = time.time()
        await asyncio.sleep(0.5)
        _mark(name, start=start, end=time.time())
        return name

    body.__name__ = body.__qualname__ = name
    body.__module__ = __name__
    asset = rs.Asset(io_handler=IO, name=name)(body)
    globals()[name] = asset
    return asset


KIT_SLEEPY = [_sleepy(f"kit_sleepy_{i}") for i in range(4)]


# ------------------------------------------------------------------- the kit
_RESUME_SCRIPT = """
import sys
import rivers as rs
from rivers.testing import executors as kit

executor = rs.Executor.from_plugin({name!r}, **{config!r})
repo = rs.CodeRepository(assets=[kit.kit_source, kit.kit_left, kit.kit_gate, kit.kit_after_gate],
                         default_executor=executor, resources={{"kit_files": kit.KitFiles(root={root!r})}})
repo.resolve(rs.Storage.embedded({db!r}))
result = repo.materialize(run_id_override=sys.argv[1], resume=len(sys.argv) > 2)
print("success" if result.success else "failure")
"""


class ExecutorConformance:
    """The behaviours every executor shows. Subclass it and set :attr:`executor_name`."""

    #: the executor's name as registered through the ``rivers_executors`` hook
    executor_name: ClassVar[str] = ""
    #: its configuration (keyword arguments of ``Executor.from_plugin``); JSON-compatible
    executor_config: ClassVar[dict[str, Any]] = {}
    concurrent_steps: ClassVar[bool] = True
    isolated_runner: ClassVar[bool] = False
    supports_resume: ClassVar[bool] = True
    #: how long the slow step of the as-soon-as-ready test runs; it must outlast starting two steps one after
    #: the other (raise it for runners with a slow start, such as one pod per step)
    slow_step_seconds: ClassVar[float] = 1.5

    def make_executor(self) -> rs.Executor:
        """The executor under test (default: ``Executor.from_plugin(executor_name, **executor_config)``)."""
        return rs.Executor.from_plugin(self.executor_name, **self.executor_config)

    # ----------------------------------------------------------- fixtures
    @pytest.fixture
    def kit_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.setenv("RIVERS_KIT_MARKS", str(tmp_path / "marks"))
        monkeypatch.setenv("RIVERS_KIT_SLOW_SECONDS", str(self.slow_step_seconds))
        monkeypatch.chdir(tmp_path)
        return tmp_path

    def repo(self, kit_dir: Path, assets: list[Any], tasks: list[Any] | None = None,
             **kwargs: Any) -> rs.CodeRepository:
        """A repository of ``assets`` on the executor under test, storage and values under ``kit_dir``."""
        repo = rs.CodeRepository(assets=assets, tasks=tasks, default_executor=self.make_executor(),
                                 resources={IO: KitFiles(root=str(kit_dir / "values"))}, **kwargs)
        repo.resolve(rs.Storage.embedded(str(kit_dir / "runs.db")))
        return repo

    def _require(self, capability: str) -> None:
        if not getattr(self, capability):
            pytest.skip(f"{type(self).__name__}.{capability} is False")

    @staticmethod
    def events(repo: rs.CodeRepository, run_id: str) -> list[tuple[str, str | None]]:
        return [(e.event_type, e.asset_key) for e in repo.storage.get_events_for_run(run_id)]

    # ----------------------------------------------------------- ordering
    def test_steps_run_after_their_inputs_and_values_flow(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_source, kit_left, kit_right, kit_joined])
        result = repo.materialize()
        assert result.success, result.failed_assets
        assert repo.load_node("kit_joined") == 112
        source, = kit_marks("kit_source")
        for name in ("kit_left", "kit_right"):
            mark, = kit_marks(name)
            assert mark["start"] >= source["end"] - 0.01, f"{name} started before kit_source ended"
        joined, = kit_marks("kit_joined")
        assert joined["start"] >= max(kit_marks("kit_left")[0]["end"], kit_marks("kit_right")[0]["end"]) - 0.01
        events = self.events(repo, result.run_id)
        for step in ("kit_source", "kit_left", "kit_right", "kit_joined"):
            own = [kind for kind, key in events if key == step and kind.startswith(("Step", "Materialization"))]
            assert own == ["StepStart", "Materialization", "StepSuccess"], (step, own)

    def test_a_step_starts_as_soon_as_its_own_inputs_are_done(self, kit_dir: Path) -> None:
        self._require("concurrent_steps")
        repo = self.repo(kit_dir, [kit_slow, kit_quick, kit_after_quick])
        assert repo.materialize().success
        slow, = kit_marks("kit_slow")
        after, = kit_marks("kit_after_quick")
        assert after["end"] < slow["end"], "kit_after_quick waited for the unrelated kit_slow"

    # ----------------------------------------------------------- failures
    def test_a_failure_skips_dependants_and_independent_branches_run_on(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_boom, kit_after_boom, kit_independent])
        result = repo.materialize(raise_on_error=False)
        assert not result.success
        failed = dict(result.failed_assets)
        assert failed["kit_boom"] == "KitError: kit_boom failed on purpose"
        assert failed["kit_after_boom"] == "ExecutionError: Skipped: upstream dependency failed"
        assert repo.load_node("kit_independent") == "independent"
        assert cast("RunRecord", repo.storage.get_run(result.run_id)).status == "Failure"
        assert ("StepStart", "kit_after_boom") not in self.events(repo, result.run_id)

    def test_raise_on_error_reraises_the_original_exception_type(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_boom, kit_independent])
        with pytest.raises(KitError, match="failed on purpose"):
            repo.materialize(raise_on_error=True)

    # ------------------------------------------------------------ retries
    def test_retries_wait_for_their_backoff_and_every_attempt_is_recorded(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_flaky])
        result = repo.materialize()
        assert result.success, result.failed_assets
        assert repo.load_node("kit_flaky") == 3
        attempts = kit_marks("kit_flaky")
        assert [m["attempt"] for m in attempts] == [1, 2, 3]
        for before, after in zip(attempts, attempts[1:]):
            assert after["start"] - before["start"] >= 0.28, "the backoff of 0.3 s was not honoured"
        events = repo.storage.get_events_for_run(result.run_id)
        kinds = [e.event_type for e in events if e.asset_key == "kit_flaky" and e.event_type.startswith("Step")]
        assert kinds == ["StepStart", "StepRetry", "StepRetry", "StepSuccess"]
        retries = [dict(e.metadata) for e in events if e.event_type == "StepRetry"]
        assert [r["rivers/attempt"] for r in retries] == ["1", "2"]
        assert {r["rivers/next_delay_ms"] for r in retries} == {"300"}
        assert {r["rivers/failure_reason"] for r in retries} == {"error"}

    # ------------------------------------------------------- cancellation
    def test_cancellation_stops_the_run_before_the_next_step(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_source, kit_gate, kit_after_gate])
        run_id = "kit-cancelled-run"

        def cancel_when_the_gate_runs() -> None:
            deadline = time.monotonic() + 30
            while not (kit_dir / "marks" / "gate-started").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            repo.storage.request_cancellation(run_id)
            time.sleep(1.5)  # longer than the scheduler's cancellation check
            (kit_dir / "marks" / "release").touch()

        thread = threading.Thread(target=cancel_when_the_gate_runs)
        thread.start()
        try:
            result = repo.materialize(run_id_override=run_id, raise_on_error=False)
        finally:
            thread.join()
        assert not result.success
        assert cast("RunRecord", repo.storage.get_run(run_id)).status == "Canceled"
        assert not list((kit_dir / "marks" / "attempts").glob("kit_after_gate.*"))
        assert ("StepStart", "kit_after_gate") not in self.events(repo, run_id)

    # -------------------------------------------------------------- pools
    def test_a_pool_of_one_slot_runs_its_steps_one_at_a_time(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, KIT_POOLED, pool_limits={"kit_pool": 1})
        result = repo.materialize()
        assert result.success, result.failed_assets
        spans = sorted((m["start"], m["end"]) for asset in KIT_POOLED for m in kit_marks(asset.name))
        assert len(spans) == 3
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end - 0.01, "two steps of a one-slot pool overlapped"
        events = [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type.startswith("StepSlot")]
        claimed = [dict(e.metadata) for e in events if e.event_type == "StepSlotClaimed"]
        released = [dict(e.metadata) for e in events if e.event_type == "StepSlotReleased"]
        assert len(claimed) == 3 and len(released) == 3
        assert all(m["pool"] == "kit_pool" and m["slots"] == "1" for m in claimed + released)

    # ------------------------------------------------------------- resume
    def test_resume_after_the_controller_was_killed_runs_nothing_twice(self, kit_dir: Path) -> None:
        self._require("supports_resume")
        script = kit_dir / "kit_pipeline.py"
        script.write_text(textwrap.dedent(_RESUME_SCRIPT.format(
            name=self.executor_name, config=self.executor_config, root=str(kit_dir / "values"),
            db=str(kit_dir / "runs.db"))))
        env = {**os.environ, "RIVERS_KIT_MARKS": str(kit_dir / "marks")}
        run_id = "kit-resumed-run"
        process = subprocess.Popen([sys.executable, str(script), run_id], env=env, cwd=kit_dir,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not (kit_dir / "marks" / "gate-started").exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the pipeline never reached kit_gate: {process.communicate()}")
                time.sleep(0.02)
            time.sleep(1.0)  # finished steps' events are committed within the group-commit delay
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        (kit_dir / "marks" / "release").touch()
        resumed = subprocess.run([sys.executable, str(script), run_id, "resume"], env=env, cwd=kit_dir,
                                 capture_output=True, text=True, timeout=120, check=False)
        assert resumed.stdout.strip().endswith("success"), resumed.stderr
        assert len(kit_marks("kit_source")) == 1 and len(kit_marks("kit_left")) == 1, "a completed step ran again"
        storage = rs.Storage.embedded(str(kit_dir / "runs.db"))
        try:
            events = storage.get_events_for_run(run_id)
            materialized = [e.asset_key for e in events if e.event_type == "Materialization"]
            assert sorted(materialized) == ["kit_after_gate", "kit_gate", "kit_left", "kit_source"]
            assert cast("RunRecord", storage.get_run(run_id)).status == "Success"
        finally:
            storage.close()

    # --------------------------------------------------------- runner death
    def test_the_death_of_a_step_runner_fails_only_that_step(self, kit_dir: Path) -> None:
        self._require("isolated_runner")
        repo = self.repo(kit_dir, [kit_dies, kit_after_dies, kit_survivor])
        result = repo.materialize(raise_on_error=False)
        failed = dict(result.failed_assets)
        assert set(failed) == {"kit_dies", "kit_after_dies"}
        assert failed["kit_after_dies"] == "ExecutionError: Skipped: upstream dependency failed"
        assert repo.load_node("kit_survivor") == "survived"
        again = repo.materialize(selection=["kit_survivor"])  # the executor still works afterwards
        assert again.success

    # ------------------------------------------------------- step shapes
    def test_multi_assets_materialize_every_output_once(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_multi, kit_after_multi])
        result = repo.materialize()
        assert result.success, result.failed_assets
        assert repo.load_node("kit_after_multi") == "ab"
        assert len(kit_marks("kit_multi")) == 1
        subset = repo.materialize(selection=["kit_multi_b"])
        assert subset.success
        events = self.events(repo, subset.run_id)
        assert [key for kind, key in events if kind == "Materialization"] == ["kit_multi_b"]

    def test_a_generator_multi_asset_missing_a_selected_output_fails_its_step(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_gen])
        result = repo.materialize(raise_on_error=False)
        assert not result.success
        failed = dict(result.failed_assets)
        assert "did not yield output 'kit_gen_b'" in failed["kit_gen_b"]
        events = repo.storage.get_events_for_run(result.run_id)
        assert [e.event_type for e in events if e.asset_key == "kit_gen"][-1] == "StepFailure"
        assert [e.asset_key for e in events if e.event_type == "Materialization"] == ["kit_gen_a"]

    def test_graph_assets_run_their_tasks_and_feed_downstream(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_graph, kit_after_graph], tasks=[kit_task_one, kit_task_two])
        result = repo.materialize()
        assert result.success, result.failed_assets
        assert repo.load_node("kit_graph") == 22
        assert repo.load_node("kit_after_graph") == 44

    def test_partitioned_runs_write_their_own_key(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, [kit_letters, kit_shout])
        for key in ("a", "c"):
            assert repo.materialize(partition_key=key).success
        assert repo.load_node("kit_shout", partition_key="c") == "CC"
        assert repo.load_node("kit_letters", partition_key="a") == "aa"
        materialized = {str(k) for k in repo.storage.get_materialized_partitions("kit_shout")}
        assert materialized == {"a", "c"}

    def test_async_steps_of_one_level_run_concurrently(self, kit_dir: Path) -> None:
        repo = self.repo(kit_dir, KIT_SLEEPY)
        started = time.perf_counter()
        result = repo.materialize()
        elapsed = time.perf_counter() - started
        assert result.success, result.failed_assets
        spans = [kit_marks(asset.name)[0] for asset in KIT_SLEEPY]
        overlap = min(m["end"] for m in spans) - max(m["start"] for m in spans)
        assert overlap > 0, "async steps of one level ran one after another"
        assert elapsed < 0.5 * len(KIT_SLEEPY) - 0.3, f"{len(KIT_SLEEPY)} async steps took {elapsed:.2f}s"
