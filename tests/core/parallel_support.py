"""Importable definitions for the parallel-executor tests: worker processes re-import them by name.

``Files`` is a small file-backed IO handler (pickle files under ``root``);
``MARKS`` is a directory the assets write timestamps and pids to, so tests
can see which process ran what and when.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import time
from pathlib import Path

import rivers as rs


class Files(rs.BaseIOHandler):
    """Pickle files ``<root>/<asset>.pkl``."""

    root: str = "values"

    def _path(self, name: str) -> Path:
        return Path(self.root) / f"{name.replace('/', '__')}.pkl"

    def handle_output(self, context: rs.OutputContext, obj: object) -> None:
        path = self._path(context.asset_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(obj))
        os.replace(tmp, path)
        context.add_output_metadata({"path": rs.MetadataValue.path(str(path))})

    def load_input(self, context: rs.InputContext) -> object:
        return pickle.loads(self._path(context.asset_name).read_bytes())


def repo_of(assets: list, workers: int = 2, **kwargs: object) -> rs.CodeRepository:
    """A repository of ``assets`` on a parallel executor (or ``executor=``), runs in ``runs.db``."""
    executor = kwargs.pop("executor", None) or rs.Executor.parallel(max_workers=workers)
    repo = rs.CodeRepository(assets=assets, default_executor=executor, **kwargs)
    repo.resolve(rs.Storage.embedded("runs.db"))
    return repo


def marks_dir() -> Path:
    """Where assets leave their traces (shared by controller and workers through the environment)."""
    path = Path(os.environ.get("RIVERS_TEST_MARKS", "marks"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def mark(name: str, **data: object) -> None:
    """Record that ``name`` ran: its pid and start/end times."""
    (marks_dir() / f"{name}.{os.getpid()}.{time.time_ns()}").write_text(repr({"pid": os.getpid(), **data}))


def marks(name: str) -> list[dict]:
    found = []
    for path in marks_dir().glob(f"{name}.*"):
        found.append(eval(path.read_text()))  # noqa: S307 - our own repr() output
    return sorted(found, key=lambda m: m.get("start", 0))


IO = Files(root="values")


# ------------------------------------------------------------------ a diamond
@rs.Asset(io_handler=IO)
def source() -> int:
    mark("source")
    return 1


@rs.Asset(io_handler=IO)
def left(source: int) -> int:
    mark("left")
    return source + 10


@rs.Asset(io_handler=IO)
def right(source: int) -> int:
    mark("right")
    return source + 100


@rs.Asset(io_handler=IO)
def joined(left: int, right: int) -> int:
    mark("joined")
    return left + right


DIAMOND = [source, left, right, joined]


# ------------------------------------------------------------- timed sleepers
def sleeper(name: str, seconds: float, deps: tuple[str, ...] = (), **options: object) -> rs.Asset:
    """An asset sleeping ``seconds`` and recording start/end, depending on ``deps`` (by name).

    Call it at import time only: workers find the function by re-importing this module.
    """
    params = ", ".join(deps)
    source_code = (
        f"def {name}({params}):\n"
        f"    start = time.time()\n"
        f"    time.sleep({seconds})\n"
        f"    mark({name!r}, start=start, end=time.time())\n"
        f"    return {name!r}\n"
    )
    namespace = globals()
    exec(source_code, namespace)  # noqa: S102 - defines a module-level function workers can import
    asset = rs.Asset(io_handler=IO, **options)(namespace[name])
    namespace[name] = asset
    return asset


NAPS = [sleeper(f"nap{i}", 0.4) for i in range(4)]
slow_root = sleeper("slow_root", 1.0)
fast_root = sleeper("fast_root", 0.05)
fast_child = sleeper("fast_child", 0.05, ("fast_root",))
SOLO_POOL = [sleeper(f"solo{i}", 0.2, pool="solo") for i in range(4)]


# ---------------------------------------------------------------- failures
@rs.Asset(io_handler=IO)
def boom() -> int:
    raise ValueError("boom in a worker")


@rs.Asset(io_handler=IO)
def after_boom(boom: int) -> int:
    return boom


@rs.Asset(io_handler=IO)
def independent() -> str:
    mark("independent")
    return "still ran"


class Unpicklable(Exception):
    """An exception that cannot be rebuilt from its args."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")
        self.lock = __import__("threading").Lock()


@rs.Asset(io_handler=IO)
def raises_unpicklable() -> int:
    raise Unpicklable("x", "y")


class CustomError(Exception):
    pass


@rs.Asset(io_handler=IO)
def raises_custom() -> int:
    raise CustomError("custom failure")


@rs.Asset(io_handler=IO)
def exits() -> int:
    os._exit(3)


@rs.Asset(io_handler=IO)
def sigkilled() -> int:
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)
    return 0


@rs.Asset(io_handler=IO)
def segfaults() -> int:
    import ctypes
    import faulthandler

    faulthandler.disable()  # keep the test output clean: the crash is the point
    ctypes.string_at(0)
    return 0


@rs.Asset(io_handler=IO)
def after_crash(exits: int) -> int:
    return exits


def counter_path(name: str) -> Path:
    return marks_dir() / f"counter-{name}"


def bump(name: str) -> int:
    path = counter_path(name)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


@rs.Asset(io_handler=IO, retry=rs.RetryPolicy(2, backoff=rs.Backoff.constant(0.01), retry_on=[ConnectionError]))
def flaky() -> int:
    count = bump("flaky")
    if count < 3:
        raise ConnectionResetError(f"attempt {count}")
    return count


@rs.Asset(io_handler=IO, retry=rs.RetryPolicy(1))
def always_fails() -> int:
    bump("always_fails")
    raise RuntimeError("never works")


@rs.Asset(io_handler=IO, retry=rs.RetryPolicy(1, retry_on=rs.RetryOn.TRANSIENT))
def dies_once() -> int:
    if bump("dies_once") == 1:
        os._exit(9)
    return os.getpid()


@rs.Asset(io_handler=IO)
def no_policy() -> int:
    bump("no_policy")
    raise ConnectionError("down")


# ---------------------------------------------------------------- pids, async
@rs.Asset(io_handler=IO)
def pid_a() -> int:
    return os.getpid()


@rs.Asset(io_handler=IO)
def pid_b(pid_a: int) -> int:
    return os.getpid()


_RUNNING: set[str] = set()


async def meet(name: str, expected: int = 3, patience: float = 0.8) -> int:
    """Wait (up to ``patience`` s) until ``expected`` async steps run at once; the most seen together."""
    _RUNNING.add(name)
    print(f"output of {name}")
    peak = len(_RUNNING)
    deadline = time.monotonic() + patience
    while len(_RUNNING) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        peak = max(peak, len(_RUNNING))
    await asyncio.sleep(0.05)
    peak = max(peak, len(_RUNNING))
    _RUNNING.discard(name)
    return peak


@rs.Asset
async def async_one() -> int:
    peak = await meet("async_one")
    mark("async_one", peak=peak)
    return peak


@rs.Asset
async def async_two() -> int:
    peak = await meet("async_two")
    mark("async_two", peak=peak)
    return peak


@rs.Asset
async def async_three() -> int:
    peak = await meet("async_three")
    mark("async_three", peak=peak)
    return peak


# -------------------------------------------------------------- resources
class Counter(rs.Resource):
    """A resource recording its setup/teardown calls in the marks directory."""

    label: str = "c"

    def setup(self) -> None:
        mark(f"setup-{self.label}")

    def teardown(self) -> None:
        mark(f"teardown-{self.label}")


@rs.Asset(io_handler=IO)
def uses_resource(counter: Counter) -> str:
    return f"{counter.label}:{os.getpid()}"


# ------------------------------------------------------------------- pools
@rs.Asset(io_handler=IO, pool="gate", retry=rs.RetryPolicy(1, backoff=rs.Backoff.constant(0.8)))
def gate_flaky() -> int:
    attempt = bump("gate_flaky")
    mark("gate_flaky", start=time.time(), attempt=attempt)
    if attempt == 1:
        raise ConnectionError("first attempt fails")
    return attempt


@rs.Asset(io_handler=IO, pool="gate")
def gate_quick() -> str:
    start = time.time()
    time.sleep(0.1)
    mark("gate_quick", start=start, end=time.time())
    return "quick"


@rs.Asset(io_handler=IO, pool="gate")
def gate_fails() -> int:
    raise ValueError("pooled failure")


@rs.Asset(io_handler=IO, pool="gate")
def gate_dies() -> int:
    os._exit(5)


@rs.Asset(io_handler=IO, pool="gate", pool_slots=2)
def gate_greedy() -> int:
    return 2


# ------------------------------------------------------------------ graphs
@rs.Task(io_handler=IO)
def task_pid() -> int:
    return os.getpid()


@rs.Task(io_handler=IO)
def task_pair(task_pid: int) -> tuple:
    return task_pid, os.getpid()


def pid_graph(name: str, metadata: dict | None = None) -> rs.Asset:
    def body():
        return task_pair(task_pid())

    body.__name__ = body.__qualname__ = name
    return rs.Asset.from_graph(body, name=name, io_handler=IO, node_io_handler=IO, metadata=metadata)


GRAPH_IN_WORKERS = pid_graph("graph_in_workers")
GRAPH_INTERNALS_HERE = pid_graph("graph_internals_here", {"rivers/node/executor": "in_process"})


@rs.Asset(io_handler=IO)
def chatty() -> int:
    print("hello from a worker")
    print("to stderr", file=__import__("sys").stderr)
    return 1


# --------------------------------------------------------- dynamic fan-out
@rs.Task
def fan_items() -> list:
    return [rs.DynamicOutput(name, index) for index, name in enumerate(["north", "south", "east", "west"])]


@rs.Task
def fan_work(x: int) -> dict:
    start = time.time()
    time.sleep(0.3)
    mark("fan_work", start=start, end=time.time(), x=x)
    return {"x": x, "pid": os.getpid()}


@rs.Task
def fan_total(results: list) -> int:
    return sum(item["x"] for item in results)


@rs.Asset.from_graph(io_handler=IO, node_io_handler=IO)
def fanned():
    return fan_total(fan_items().map(fan_work, max_concurrency=2).collect())
