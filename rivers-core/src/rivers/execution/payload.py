"""Steps as bytes: what a worker process (or a pod) needs to run one step, and what comes back.

The controller turns a planned step into a *payload*: the step's runtime
(function, IO handlers, resources, hooks, checks), the run's facts (id,
config, retry default) and the step's inputs' data versions. A worker turns
the payload back into a :class:`~rivers.execution.runtime.StepRuntime` and
runs it with the same :func:`~rivers.execution.step_runner.run_step` every
executor uses; inputs are loaded and outputs written *in the worker*, through
the IO handlers. What comes back is a *result*: the step's events, logs,
status, data versions and errors (pickled, with their remote traceback).

Functions travel as importable references ``(module, qualname)``; a function
whose module attribute is an ``rs.Asset``/``rs.Task``/hook wrapping it is
found through the wrapper. Functions that cannot be re-imported (lambdas,
closures, ``<locals>``) are pickled by value: their code object (marshal,
same Python version only), closure values, defaults and the name of the
module providing their globals. Everything else is plain :mod:`pickle`.

``python -m rivers.worker`` runs one self-contained payload; the process pool
workers call the very same :func:`execute_payload`.
"""

from __future__ import annotations

import base64
import builtins
import importlib
import importlib.util
import io
import marshal
import os
import pickle
import sys
import threading
import time
import traceback
import types
from typing import Any

from rivers.exceptions import ExecutionError
from rivers.execution.outcome import FAILURE, StepOutcome
from rivers.execution.step_runner import RunState
from rivers.storage.records import StoredEvent

#: Bumped when the payload or result layout changes.
PAYLOAD_VERSION = 1
_PROTOCOL = pickle.HIGHEST_PROTOCOL

#: True inside a worker process (a parallel executor there runs steps in-process).
IN_WORKER = False


# --------------------------------------------------------------------------
# Pickling functions by reference, or by value when they cannot be imported
# --------------------------------------------------------------------------

_WRAPPER_ATTRIBUTES = ("_fn", "func", "__wrapped__", "fn")


def _walk(obj: Any, qualname: str) -> Any:
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _reference_of(fn: types.FunctionType) -> tuple[str, str, str | None] | None:
    """``(module, qualname, wrapper attribute)`` if ``fn`` can be re-imported, else None."""
    module_name = fn.__module__
    qualname = fn.__qualname__
    if not module_name or "<" in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    try:
        found = _walk(module, qualname)
    except AttributeError:
        return None
    if found is fn:
        return module_name, qualname, None
    for attribute in _WRAPPER_ATTRIBUTES:
        if getattr(found, attribute, None) is fn:
            return module_name, qualname, attribute
    return None


_importable: dict[str, bool] = {}


def _importable_by_name(module_name: str) -> bool:
    """Whether a fresh process imports ``module_name`` by name alone (not ``__main__``, not loaded from a path)."""
    known = _importable.get(module_name)
    if known is None:
        module = sys.modules.get(module_name)
        spec = getattr(module, "__spec__", None)
        known = (
            module_name != "__main__"
            and spec is not None
            and spec.name == module_name
            and spec.loader is not None
            and _found_by_finders(module_name, spec)
        )
        _importable[module_name] = known
    return known


def _found_by_finders(module_name: str, spec: Any) -> bool:
    """Whether sys.path finders locate the module where it was loaded from (not a file loaded by path)."""
    if spec.origin in ("built-in", "frozen") or "." in module_name:
        return True  # packages' submodules are found through their package
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return False
    return found is not None and found.origin == spec.origin


def _module_file(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return os.path.abspath(path) if isinstance(path, str) else None


def _import_module(module_name: str, path: str | None) -> types.ModuleType:
    """Import ``module_name``; a module loaded from a file under a name no finder knows is loaded from ``path``.

    ``__main__`` is never loaded from its file: that would run the controller's script again.
    """
    if module_name == "__main__":
        path = None
    module = sys.modules.get(module_name)
    if module is not None and (path is None or _same_file(module, path)):
        return module
    if module is None:
        try:
            return importlib.import_module(module_name)
        except ImportError:
            importlib.invalidate_caches()  # the module may be newer than the finders' directory caches
            try:
                return importlib.import_module(module_name)
            except ImportError:
                if path is None:
                    raise
    return _load_file(module_name, path)


def _same_file(module: types.ModuleType, path: str) -> bool:
    own = getattr(module, "__file__", None)
    return own is None or os.path.abspath(own) == path


def _load_file(module_name: str, path: str | None) -> types.ModuleType:
    """Load ``path`` as a module (``__main__`` of the controller becomes ``__rivers_main__`` here)."""
    if path is None or not os.path.isfile(path):
        raise ImportError(f"cannot import module {module_name!r} (file {path!r} not found)", name=module_name)
    alias = "__rivers_main__" if module_name == "__main__" else module_name
    existing = sys.modules.get(alias)
    if existing is not None and _same_file(existing, path):
        return existing
    spec = importlib.util.spec_from_file_location(alias, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have a loader
        raise ImportError(f"cannot import {path}", name=module_name)
    module = importlib.util.module_from_spec(spec)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(alias, None)
        raise
    return module


def _load_function(module_name: str, qualname: str, attribute: str | None, path: str | None) -> Any:
    """Re-import a function shipped by reference (see :func:`_reference_of`)."""
    module = _import_module(module_name, path)
    try:
        found = _walk(module, qualname)
    except AttributeError:
        if path is None or module_name == "__main__" or _same_file(module, path):
            raise
        found = _walk(_load_file(module_name, path), qualname)
    return getattr(found, attribute) if attribute else found


def _function_globals(module_name: str | None, path: str | None) -> dict[str, Any]:
    if module_name:
        try:
            return _import_module(module_name, path).__dict__
        except Exception:  # noqa: BLE001 - a self-contained lambda still works without its module
            pass
    return {"__builtins__": builtins, "__name__": module_name or "__rivers_by_value__"}


_EMPTY_CELL = "__rivers_empty_cell__"


def _make_function(code: bytes, module_name: str | None, path: str | None, name: str, qualname: str,
                   defaults: Any, kwdefaults: Any, closure: tuple[Any, ...] | None, attributes: dict[str, Any],
                   own_globals: dict[str, Any] | None = None) -> Any:
    """Rebuild a function pickled by value (``own_globals``: its globals, when it has no importable module)."""
    cells = None
    if closure is not None:
        cells = tuple(types.CellType() if value == _EMPTY_CELL else types.CellType(value) for value in closure)
    if own_globals is not None:
        namespace = {"__builtins__": builtins, "__name__": module_name or "__rivers_by_value__", **own_globals}
    else:
        namespace = _function_globals(module_name, path)
    fn = types.FunctionType(marshal.loads(code), namespace, name, defaults, cells)
    if own_globals is not None:
        namespace.setdefault(name, fn)  # a recursive function finds itself
    fn.__qualname__ = qualname
    fn.__kwdefaults__ = kwdefaults
    fn.__module__ = module_name  # type: ignore[assignment]
    if attributes:
        fn.__dict__.update(attributes)
    return fn


class _Pickler(pickle.Pickler):
    """Pickles functions by importable reference, else by value."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=_PROTOCOL)
        self._by_value: set[int] = set()
        #: True once a notebook/REPL function was sent by value: the bytes are only good for this run
        self.volatile = False

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.ModuleType:
            return importlib.import_module, (obj.__name__,)
        if type(obj) is not types.FunctionType or obj in _OWN_FUNCTIONS:
            return NotImplemented
        reference = _reference_of(obj)
        if obj.__module__ == "__main__":
            # workers never import the controller's __main__ (a script would run again there; a notebook
            # or REPL has no file, and a cell may redefine the function): it travels by value, with the
            # globals it uses
            by_value = self._by_value_reduction(obj, own_globals=True)
            if _interactive_main():
                self.volatile = True
            if by_value is not None:
                return by_value
            if reference is None:
                return self._by_value_reduction(obj, own_globals=False)
        if reference is not None:
            module_name, qualname, attribute = reference
            if attribute is None and _importable_by_name(module_name):
                return NotImplemented  # pickle's own by-reference save
            return _load_function, (module_name, qualname, attribute, _module_file(module_name))
        needs_globals = not obj.__module__ or sys.modules.get(obj.__module__) is None
        reduction = self._by_value_reduction(obj, own_globals=needs_globals)
        if reduction is None:
            raise pickle.PicklingError(f"function {obj.__qualname__!r} uses globals that cannot be pickled")
        return reduction

    def _by_value_reduction(self, obj: types.FunctionType, *, own_globals: bool) -> Any:
        """Reduce ``obj`` to its code, closure and defaults (None if ``own_globals`` cannot be pickled)."""
        shipped_globals = None
        if own_globals:
            # send the globals the code uses (itself excluded: it is put back by name when rebuilt)
            shipped_globals = {k: v for k, v in _referenced_globals(obj).items() if v is not obj}
            depth = getattr(_prechecks, "depth", 0)
            if depth >= 8:  # functions shipping each other by value without end (mutual recursion)
                return None
            _prechecks.depth = depth + 1
            try:
                dumps(shipped_globals)
            except Exception:  # noqa: BLE001 - e.g. a connection object; the caller falls back
                return None
            finally:
                _prechecks.depth = depth
        if id(obj) in self._by_value:
            raise pickle.PicklingError(f"function {obj.__qualname__!r} refers to itself through its closure")
        self._by_value.add(id(obj))
        closure = None
        if obj.__closure__ is not None:
            values = []
            for cell in obj.__closure__:
                try:
                    values.append(cell.cell_contents)
                except ValueError:
                    values.append(_EMPTY_CELL)
            closure = tuple(values)
        module_name = obj.__module__
        return _make_function, (
            marshal.dumps(obj.__code__), module_name, _module_file(module_name) if module_name else None,
            obj.__name__, obj.__qualname__, obj.__defaults__, obj.__kwdefaults__, closure, dict(obj.__dict__),
            shipped_globals,
        )


_OWN_FUNCTIONS = (_load_function, _make_function)
_prechecks = threading.local()


def _interactive_main() -> bool:
    """Whether ``__main__`` is a notebook or REPL (no file a worker could load it from)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return main is not None and not (isinstance(path, str) and os.path.isfile(path))


def _referenced_globals(fn: types.FunctionType) -> dict[str, Any]:
    """The globals ``fn``'s code (and the code nested in it) refers to."""
    names: set[str] = set()
    stack = [fn.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    namespace = fn.__globals__
    return {name: namespace[name] for name in names if name in namespace and name != "__builtins__"}


def dumps(obj: Any) -> bytes:
    """Pickle ``obj``, sending functions by reference where possible (see the module docs)."""
    buffer = io.BytesIO()
    _Pickler(buffer).dump(obj)
    return buffer.getvalue()


loads = pickle.loads


# --------------------------------------------------------------------------
# Step runtimes in transport form
# --------------------------------------------------------------------------


class OwnerInfo:
    """What a step's context reads from the asset or task that defines it."""

    __slots__ = ("tags", "kinds", "group", "code_version")

    def __init__(self, owner: Any) -> None:
        self.tags = getattr(owner, "tags", None)
        self.kinds = getattr(owner, "kinds", None)
        self.group = getattr(owner, "group", None)
        self.code_version = getattr(owner, "code_version", None)


class SpecInfo:
    """The parts of a :class:`~rivers.graph.model.StepSpec` the step runner reads."""

    __slots__ = ("key", "kind", "outputs", "metadata", "is_async", "retry")

    def __init__(self, spec: Any) -> None:
        self.key = spec.key
        self.kind = spec.kind
        self.outputs = tuple(spec.outputs)
        self.metadata = spec.metadata
        self.is_async = spec.is_async
        self.retry = spec.retry


class NodeInfo:
    """The parts of a graph node an output write needs."""

    __slots__ = ("name", "metadata", "code_version")

    def __init__(self, node: Any) -> None:
        self.name = node.name
        self.metadata = node.metadata
        self.code_version = node.code_version


class HookInfo:
    """A success or failure hook: its name and function."""

    __slots__ = ("name", "func", "hook_type")

    def __init__(self, hook: Any) -> None:
        self.name = hook.name
        self.func = hook.func
        self.hook_type = getattr(hook, "hook_type", None)


_PLAIN_SLOTS = (
    "key", "kind", "fn", "is_async", "context_param", "context_class", "config_type", "inputs", "resource_args",
    "self_handler", "self_type", "self_unannotated", "misplaced_context", "retry", "is_generator_multi",
    "node_names", "upstream_nodes", "return_type", "partitions_def",
)


def runtime_state(runtime: Any) -> dict[str, Any]:
    """A picklable description of ``runtime`` (definitions replaced by what the runner reads)."""
    from rivers.execution.runtime import OutputWrite

    state = {name: getattr(runtime, name) for name in _PLAIN_SLOTS}
    state["spec"] = SpecInfo(runtime.spec)
    state["owner"] = OwnerInfo(runtime.owner)
    outputs = {}
    for name, write in runtime.outputs.items():
        lite = OutputWrite.__new__(OutputWrite)
        lite.name = write.name
        lite.node = NodeInfo(write.node)
        lite.handler = write.handler
        lite.metadata = write.metadata
        lite.code_version = write.code_version
        outputs[name] = lite
    state["outputs"] = outputs
    state["has_checker"] = runtime.checker is not None
    state["success_hooks"] = tuple(HookInfo(h) for h in runtime.success_hooks)
    state["failure_hooks"] = tuple(HookInfo(h) for h in runtime.failure_hooks)
    return state


def runtime_from_state(state: dict[str, Any]) -> Any:
    """Rebuild a :class:`StepRuntime` from :func:`runtime_state` (in the worker)."""
    from rivers.execution.runtime import StepRuntime
    from rivers.execution.type_check import return_checker

    runtime = StepRuntime.__new__(StepRuntime)
    for name in StepRuntime.__slots__:
        setattr(runtime, name, None)
    has_checker = state.pop("has_checker", False)
    for name, value in state.items():
        setattr(runtime, name, value)
    runtime.checker = return_checker(runtime.return_type) if has_checker else None
    return runtime


def dumps_runtime(runtime: Any) -> bytes:
    """The runtime of a step as bytes; raises :class:`ExecutionError` naming the step if it cannot be sent."""
    return encode_runtime(runtime)[0]


def encode_runtime(runtime: Any) -> tuple[bytes, bool]:
    """The runtime's bytes, and whether they must be re-encoded for every run (notebook functions by value)."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    try:
        pickler.dump(runtime_state(runtime))
    except Exception as error:  # noqa: BLE001 - any pickling failure gets the same explanation
        raise unsendable(runtime.key, error) from error
    return buffer.getvalue(), pickler.volatile


def unsendable(key: str, error: BaseException) -> ExecutionError:
    return ExecutionError(
        f"Asset '{key}' cannot be sent to a worker process: {type(error).__name__}: {error}. "
        "Define its function, IO handler and resources at module level of an importable module "
        "(lambdas and closures are sent by value only when everything they capture can be pickled), "
        "or run it in the controller with metadata={'rivers/executor': 'in_process'}"
    )


# --------------------------------------------------------------------------
# Run state in workers and controller threads
# --------------------------------------------------------------------------


class PrefixedRunState(RunState):
    """A run state whose event ids carry their own prefix.

    Steps running concurrently (in workers or controller threads) each get
    one, sharing the run's data versions but never colliding on event ids.
    """

    __slots__ = ()

    @classmethod
    def derive(cls, base: RunState, prefix: str) -> PrefixedRunState:
        """A state sharing ``base``'s run facts and data versions, with its own event ids and loop."""
        state = cls.__new__(cls)
        for slot in RunState.__slots__:
            setattr(state, slot, getattr(base, slot, None))
        state._event_seq = 0
        state.loop = None
        state.event_prefix = prefix
        return state


def new_event_prefix(run_id: str) -> str:
    from rivers._ids import random_uuid4

    return f"{run_id}:{random_uuid4()[:13]}:"


# --------------------------------------------------------------------------
# Payloads and results
# --------------------------------------------------------------------------


class RunHeader:
    """Facts of the run shared by all its steps, and the controller's process environment.

    Workers outlive runs, so each run tells them the controller's working
    directory, environment variables and ``sys.path``: relative paths of IO
    handlers and modules added to the path later resolve the same way there.
    """

    __slots__ = ("run_id", "config", "retry_default", "partition", "cwd", "environ", "sys_path")

    def __init__(self, run_id: str, config: dict[str, Any], retry_default: Any, partition: Any) -> None:
        self.run_id = run_id
        self.config = config
        self.retry_default = retry_default
        self.partition = partition
        self.cwd = os.getcwd()
        self.environ = dict(os.environ)
        self.sys_path = list(sys.path)

    def apply(self) -> None:
        """Make this process's working directory, environment and path match the controller's."""
        if os.getcwd() != self.cwd and os.path.isdir(self.cwd):
            os.chdir(self.cwd)
        if os.environ != self.environ:
            for name in [name for name in os.environ if name not in self.environ]:
                del os.environ[name]
            os.environ.update(self.environ)
        if sys.path != self.sys_path:
            missing = [entry for entry in self.sys_path if entry not in sys.path]
            if missing:
                sys.path[:0] = missing
                importlib.invalidate_caches()


def dumps_run_header(state: RunState) -> bytes:
    return dumps(RunHeader(state.run_id, state.config, state.retry_default, state.partition))


def step_message(runtime_token: int, runtime_blob: bytes | None, run_token: int, run_blob: bytes | None,
                 key: str, selected: Any, data_versions: dict[str, str], self_persisted: list[str],
                 retries_used: int, prefix: str) -> bytes:
    """One step for a pool worker; blobs are None when the worker already has them cached."""
    return pickle.dumps(
        (PAYLOAD_VERSION, runtime_token, runtime_blob, run_token, run_blob, key, selected, data_versions,
         self_persisted, retries_used, prefix),
        _PROTOCOL,
    )


def step_inputs(runtime: Any, state: RunState) -> tuple[dict[str, str], list[str]]:
    """The data versions of the step's upstream nodes and those that returned Materialization."""
    versions = {}
    for load in runtime.inputs:
        versions[load.upstream] = state.input_data_version(load.upstream) or ""
    persisted = state.self_persisted
    return versions, [load.upstream for load in runtime.inputs if load.upstream in persisted] if persisted else []


def dumps_payload(planned: Any, state: RunState, retries_used: int = 0) -> bytes:
    """A self-contained payload for ``python -m rivers.worker`` (or a pod) running ``planned``."""
    runtime = planned.runtime
    versions, persisted = step_inputs(runtime, state)
    return step_message(0, dumps_runtime(runtime), 0, dumps_run_header(state), runtime.key, planned.selected,
                        versions, persisted, retries_used, new_event_prefix(state.run_id))


class WorkerCache:
    """Runtimes and run headers a worker process has already decoded, by token."""

    def __init__(self, max_runtimes: int = 4096, *, sync_environment: bool = False) -> None:
        #: make cwd, environment and sys.path match each run's controller (pool workers only)
        self.sync_environment = sync_environment
        self.runtimes: dict[int, Any] = {}
        self.runs: dict[int, RunHeader] = {}
        self.max_runtimes = max_runtimes

    def runtime(self, token: int, blob: bytes | None) -> Any:
        if blob is None:
            return self.runtimes[token]
        runtime = runtime_from_state(loads(blob))
        if token:
            if len(self.runtimes) >= self.max_runtimes:
                self.runtimes.pop(next(iter(self.runtimes)))
            self.runtimes[token] = runtime
        return runtime

    def run(self, token: int, blob: bytes | None) -> RunHeader:
        if blob is None:
            return self.runs[token]
        header = loads(blob)
        if self.sync_environment:
            header.apply()
        if token:
            if len(self.runs) >= 16:
                self.runs.pop(next(iter(self.runs)))
            self.runs[token] = header
        return header


def execute_payload(data: bytes, cache: WorkerCache | None = None, channel: Any = None) -> dict[str, Any]:
    """Run the step of a payload and return its result (never raises for step or payload errors).

    ``channel`` (pool workers only) lets the step talk to its controller
    while it runs, e.g. to give pool slots back during a retry's backoff.
    """
    started = time.perf_counter()
    try:
        message = pickle.loads(data)
        version = message[0]
        if version != PAYLOAD_VERSION:
            raise ExecutionError(f"payload version {version} is not supported by this worker ({PAYLOAD_VERSION})")
        (_, runtime_token, runtime_blob, run_token, run_blob, key, selected, versions, persisted, retries_used,
         prefix) = message
        cache = cache or WorkerCache()
        header = cache.run(run_token, run_blob)
        runtime = cache.runtime(runtime_token, runtime_blob)
    except BaseException as error:  # noqa: BLE001 - reported to the controller, which fails the step
        return {"load_error": error_info(error), "duration_s": time.perf_counter() - started}
    return _run_decoded(runtime, header, key, selected, versions, persisted, retries_used, prefix, channel)


def _run_decoded(runtime: Any, header: RunHeader, key: str, selected: Any, versions: dict[str, str],
                 persisted: list[str], retries_used: int, prefix: str, channel: Any) -> dict[str, Any]:
    from rivers.execution.log_capture import StepLogCapture
    from rivers.execution.step_runner import run_step
    from rivers.resources import Resource

    state = PrefixedRunState.__new__(PrefixedRunState)
    RunState.__init__(state, header.run_id, None, header.config, header.retry_default, header.partition)
    state.event_prefix = prefix
    state.data_versions.update(versions)
    state.self_persisted.update(persisted)
    state.log_capture = StepLogCapture.install()
    if channel is not None:
        state.retry_wait = channel.retry_wait
    if retries_used:
        runtime = _with_fewer_retries(runtime, header.retry_default, retries_used)
    resources = [value for _, value in runtime.resource_args if isinstance(value, Resource)]
    ready: list[Any] = []
    try:
        try:
            for resource in resources:
                resource.setup()
                ready.append(resource)
            outcome = run_step(runtime, state, selected)
        except BaseException as error:  # noqa: BLE001 - a resource's setup, SystemExit & co.: the step failed
            outcome = failed_outcome(runtime, state, error)
    finally:
        for resource in ready:
            try:
                resource.teardown()
            except Exception:  # noqa: BLE001 - like CodeRepository.shutdown(): logged, not raised
                import logging

                logging.getLogger("rivers").exception("teardown of a resource of step '%s' failed", key)
        state.close()
        sys.stdout.flush()
        sys.stderr.flush()
    new_persisted = [name for name in state.self_persisted if name not in persisted]
    return outcome_result(outcome, new_persisted)


def _with_fewer_retries(runtime: Any, retry_default: Any, used: int) -> Any:
    """``runtime`` with its retry policy reduced by attempts already spent (worker deaths)."""
    import copy

    from rivers.execution.retry import RetryPolicy

    policy = runtime.retry if runtime.retry is not None else retry_default
    if policy is None:
        return runtime
    reduced = copy.copy(policy)
    reduced._max_retries = max(0, policy.max_retries - used)  # type: ignore[attr-defined]
    clone = copy.copy(runtime)
    clone.retry = reduced
    assert isinstance(reduced, RetryPolicy)
    return clone


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (attached as ``__cause__``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\"\"\"\n" + self.text.rstrip() + "\n\"\"\""


def error_info(error: BaseException) -> dict[str, Any]:
    """An exception as data: pickled when it survives a round trip, plus its description and traceback."""
    text = "".join(traceback.format_exception(error))
    blob: bytes | None
    try:
        blob = dumps(error)
        pickle.loads(blob)
    except Exception:  # noqa: BLE001 - unpicklable: the controller gets type name, message and traceback
        blob = None
    cls = type(error)
    return {
        "pickle": blob,
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "name": cls.__name__,
        "message": str(error),
        "traceback": text,
    }


def error_from_info(info: dict[str, Any]) -> BaseException:
    """The exception described by :func:`error_info`, with the remote traceback as its cause."""
    error: BaseException | None = None
    if info.get("pickle") is not None:
        try:
            error = pickle.loads(info["pickle"])
        except Exception:  # noqa: BLE001 - e.g. the exception's class does not import here
            error = None
    if not isinstance(error, BaseException):
        error = ExecutionError(
            f"{info['name']}: {info['message']} (raised in a worker process; the exception could not be "
            f"pickled back, remote traceback follows)\n{info['traceback']}"
        )
        return error
    error.__cause__ = RemoteTraceback(info["traceback"])
    return error


def outcome_result(outcome: StepOutcome, self_persisted: list[str]) -> dict[str, Any]:
    """A step outcome as data to send back to the controller."""
    errors: list[dict[str, Any]] = []
    seen: dict[int, int] = {}

    def index(error: BaseException) -> int:
        position = seen.get(id(error))
        if position is None:
            position = seen[id(error)] = len(errors)
            errors.append(error_info(error))
        return position

    return {
        "key": outcome.key,
        "status": outcome.status,
        "events": outcome.events,
        "logs": outcome.logs,
        "duration_s": outcome.duration_s,
        "data_versions": outcome.data_versions,
        "self_persisted": self_persisted,
        "error": None if outcome.error is None else index(outcome.error),
        "failed_nodes": {name: index(error) for name, error in outcome.failed_nodes.items()},
        "errors": errors,
        "pid": os.getpid(),
    }


def outcome_from_result(result: dict[str, Any]) -> StepOutcome:
    """The :class:`StepOutcome` of a result produced by :func:`execute_payload`."""
    outcome = StepOutcome(result["key"])
    outcome.status = result["status"]
    outcome.events = list(result["events"])
    outcome.logs = list(result["logs"])
    outcome.duration_s = result["duration_s"]
    outcome.data_versions = dict(result["data_versions"])
    errors = [error_from_info(info) for info in result["errors"]]
    if result["error"] is not None:
        outcome.error = errors[result["error"]]
    outcome.failed_nodes = {name: errors[i] for name, i in result["failed_nodes"].items()}
    return outcome


# -- JSON form (for pods and other languages) -----------------------------------


def result_to_json(result: dict[str, Any]) -> dict[str, Any]:
    """A result as JSON-compatible data (events as objects, pickles base64-encoded)."""

    def b64(blob: bytes | None) -> str | None:
        return None if blob is None else base64.b64encode(blob).decode("ascii")

    def event(e: StoredEvent) -> dict[str, Any]:
        data = e._asdict()
        if data["partition_key"] is not None:
            data["partition_key"] = {"pickle": b64(pickle.dumps(data["partition_key"], _PROTOCOL))}
        return data

    converted = dict(result)
    if "load_error" in result:
        converted["load_error"] = {**result["load_error"], "pickle": b64(result["load_error"]["pickle"])}
        return converted
    converted["events"] = [event(e) for e in result["events"]]
    converted["logs"] = [log._asdict() for log in result["logs"]]
    converted["errors"] = [{**info, "pickle": b64(info["pickle"])} for info in result["errors"]]
    return converted


def result_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """Undo :func:`result_to_json`."""
    from rivers.storage.records import StoredLog

    def unb64(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    result = dict(data)
    if "load_error" in data:
        result["load_error"] = {**data["load_error"], "pickle": unb64(data["load_error"]["pickle"])}
        return result
    events = []
    for item in data["events"]:
        item = dict(item)
        partition = item.get("partition_key")
        if isinstance(partition, dict):
            item["partition_key"] = pickle.loads(unb64(partition["pickle"]) or b"")
        item["metadata"] = [tuple(pair) for pair in item["metadata"]]
        item["input_data_versions"] = [tuple(pair) for pair in item["input_data_versions"]]
        events.append(StoredEvent(**item))
    result["events"] = events
    result["logs"] = [StoredLog(**item) for item in data["logs"]]
    result["errors"] = [{**info, "pickle": unb64(info["pickle"])} for info in data["errors"]]
    return result


def failed_outcome(runtime: Any, state: RunState, error: BaseException, reason: Any = None) -> StepOutcome:
    """The outcome of a step that failed before (or outside) its user code: StepStart + StepFailure."""
    from rivers.execution.retry import classify_failure
    from rivers.execution.step_runner import _record_failure

    outcome = StepOutcome(runtime.key)
    outcome.events.append(state.event("StepStart", runtime.key))
    _record_failure(runtime, state, outcome, error, reason or classify_failure(error))
    assert outcome.status == FAILURE
    return outcome


__all__ = [
    "IN_WORKER",
    "PrefixedRunState",
    "RemoteTraceback",
    "WorkerCache",
    "dumps",
    "dumps_payload",
    "dumps_runtime",
    "execute_payload",
    "loads",
    "outcome_from_result",
    "outcome_result",
    "result_from_json",
    "result_to_json",
]
