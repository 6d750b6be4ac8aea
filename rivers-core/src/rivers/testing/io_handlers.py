"""A conformance suite every IO handler can run: ours and third parties'.

Subclass :class:`IOHandlerConformance` in a test module (the name must start
with ``Test`` for pytest to collect it) and say how to build your handler::

    from rivers.testing.io_handlers import IOHandlerConformance
    from my_plugin import MyHandler

    class TestMyHandler(IOHandlerConformance):
        missing_value_error = FileNotFoundError       # what a missing value raises
        expected_metadata_keys = {"path", "size_bytes"}

        def make_handler(self, tmp_path):
            return MyHandler(root=str(tmp_path / "store"))

``make_handler`` is called with the test's ``tmp_path``; calling it twice with
the same ``tmp_path`` must give handlers that see the same values (unless
``persistent = False``).

What is checked
---------------

* round trips of common values (``None``, scalars, nested containers,
  unicode, and — for handlers storing arbitrary objects — tuples, sets,
  bytes, datetimes, decimals, dataclasses) and of a large value;
* overwriting (also with a smaller value), independence of assets;
* partitions: plain ``str`` keys (including awkward ones such as ``"a/b"``,
  ``".."``, ``"CON"``, ``"100%"``, a 300-character key), key objects with
  ``path_suffix()`` (multi-dimensional keys), the unpartitioned value kept
  apart from the partitioned ones, and an asset named ``"a/b"`` kept apart
  from partition ``"b"`` of asset ``"a"``;
* multi-partition loads: a context whose partition has several keys loads a
  dict ``{key: value}``;
* batch values (:mod:`rivers.io_handlers.partition_keys`): one value written
  with several keys (a batched step) loads back as that value for the same
  keys in any order, also from a new handler; one of its keys alone, or
  another set of keys meeting it, raises
  :class:`~rivers.exceptions.BatchValueError` (picklable, naming the asset
  and key); a key written alone later loads as that value, and a batch
  replaces what its keys held alone; a real ``single_run`` backfill of a
  two-asset chain round-trips;
* missing values raise ``missing_value_error`` — the contract is *any*
  ``Exception``, preferably a ``KeyError``, ``FileNotFoundError`` or other
  ``LookupError`` subclass naming what is missing (the engine turns it into
  ``None`` for ``SelfDependency`` and a failed step elsewhere);
* output metadata is coercible and serialisable, with the expected keys;
* a real :class:`~rivers.CodeRepository` run: values flow downstream and
  ``SelfDependency`` sees the previous run's value;
* pickling, and several *processes* (``multiprocessing``, spawn context)
  writing the same and different assets while others read: readers only
  ever see complete values, and every writer's last value survives.

Capabilities
------------

Class attributes switch off what does not apply to a handler; the tests
concerned are skipped with the reason:

========================== ======= ========================================================
attribute                  default meaning
========================== ======= ========================================================
supports_arbitrary_objects True    stores any picklable object (``False``: JSON values only)
supports_partitions        True    handles ``context.partition``
multi_partition_loads      True    loads several keys as ``{key: value}``
distinct_nested_names      True    ``"a/b"`` (a graph-internal node) and partition ``b`` of ``a`` are distinct
arbitrary_partition_keys   True    any non-empty str is a key (``"a/b"``, ``".."``, ``"CON"``, 300 characters)
persistent                 True    values outlive the handler object (a new one from ``make_handler`` sees them)
cross_process              True    picklable, and values are shared between processes
supports_batch_values      True    follows the batch-value contract (see below)
========================== ======= ========================================================

Other knobs: ``missing_value_error`` (exception type or tuple, default
``Exception``), ``expected_metadata_keys``, ``large_value_bytes`` (8 MiB),
``concurrent_writers`` (3), ``concurrent_readers`` (2),
``concurrency_seconds`` (0.5), ``concurrent_value_bytes`` (64 KiB).
Override :meth:`IOHandlerConformance.values_equal` for values without a
useful ``==`` (DataFrames).

Partitions
----------

Until the partitions engine lands, the suite builds contexts with
:class:`StubPartition` (``key``, ``keys``, ``definition``,
``time_window()``) and :class:`StubMultiKey` (``path_suffix()``), the duck
type handlers should rely on; they are public for handler authors' own tests.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import multiprocessing
import os
import pickle
import queue as queue_module
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pytest

import rivers as rs
from rivers.context import InputContext, OutputContext
from rivers.exceptions import BatchValueError
from rivers.metadata import MetadataValue, serialize_metadata

if TYPE_CHECKING:
    from rivers.storage import StoredEvent

__all__ = [
    "ConformanceRecord",
    "IOHandlerConformance",
    "StubMultiKey",
    "StubPartition",
    "input_context",
    "load_value",
    "output_context",
    "partition",
    "write_value",
]


# --------------------------------------------------------------- partitions
class StubPartition:
    """A stand-in for the engine's ``PartitionContext``: ``key``, ``keys``, ``definition``."""

    __slots__ = ("keys", "definition")

    def __init__(self, keys: Iterable[Any], definition: Any = None) -> None:
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("a partition has at least one key")
        self.definition = definition

    @property
    def key(self) -> Any:
        """The first key."""
        return self.keys[0]

    def time_window(self) -> None:
        """No time windows for stub keys."""
        return None

    def __repr__(self) -> str:
        return f"StubPartition({self.keys!r})"


class StubMultiKey:
    """A multi-dimensional partition key: ``path_suffix()`` is ``dim=value/...`` in sorted order."""

    __slots__ = ("dims",)

    def __init__(self, **dims: str) -> None:
        self.dims = tuple(sorted(dims.items()))

    def path_suffix(self) -> str:
        return "/".join(f"{name}={value}" for name, value in self.dims)

    def single_value(self) -> None:
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StubMultiKey) and other.dims == self.dims

    def __hash__(self) -> int:
        return hash(self.dims)

    def __repr__(self) -> str:
        return "StubMultiKey(" + ", ".join(f"{name}={value!r}" for name, value in self.dims) + ")"


def partition(*keys: Any) -> StubPartition | None:
    """``partition("a", "b")``: a stub partition context with those keys (``None`` for none)."""
    return StubPartition(keys) if keys else None


# ----------------------------------------------------------------- contexts
def output_context(asset: str, partition: Any = None, metadata: dict[str, str] | None = None) -> OutputContext:
    """The context ``handle_output`` receives for ``asset``."""
    return OutputContext(asset_name=asset, asset_metadata=metadata, partition=partition, type_hint=None)


def input_context(
    asset: str, partition: Any = None, metadata: dict[str, str] | None = None, downstream: str = "conformance"
) -> InputContext:
    """The context ``load_input`` receives for ``asset`` loaded into ``downstream``."""
    return InputContext(
        asset_name=asset, downstream_asset=downstream, asset_metadata=metadata, partition=partition, type_hint=None
    )


def write_value(handler: Any, asset: str, value: Any, partition: Any = None,
                metadata: dict[str, str] | None = None) -> OutputContext:
    """``handler.handle_output`` for ``asset``; returns the context (with its metadata)."""
    context = output_context(asset, partition, metadata)
    handler.handle_output(context, value)
    return context


def load_value(handler: Any, asset: str, partition: Any = None, metadata: dict[str, str] | None = None) -> Any:
    """``handler.load_input`` for ``asset``."""
    return handler.load_input(input_context(asset, partition, metadata))


# ------------------------------------------------------------------- values
@dataclasses.dataclass(frozen=True)
class ConformanceRecord:
    """A user-defined class: handlers storing arbitrary objects must round-trip it."""

    name: str
    tags: tuple[str, ...] = ()
    score: float = 0.0


_JSON_VALUES: list[tuple[str, Any]] = [
    ("none", None),
    ("int", 42),
    ("negative-big-int", -(2**53)),
    ("float", 3.25),
    ("bool", True),
    ("str", "plain"),
    ("unicode", "naïve café ✓ 🚀 \u2028"),
    ("empty-str", ""),
    ("empty-list", []),
    ("empty-dict", {}),
    ("nested", {"a": [1, 2, {"b": None, "c": [True, False]}], "d": {"e": {"f": "g"}}, "h": 1.5}),
    ("list-of-records", [{"id": i, "name": f"n{i}", "amount": i * 1.5} for i in range(100)]),
]

_OBJECT_VALUES: list[tuple[str, Any]] = [
    ("tuple", (1, "two", 3.0)),
    ("set", {1, 2, 3}),
    ("frozenset", frozenset({"a", "b"})),
    ("bytes", bytes(range(256))),
    ("bytearray", bytearray(b"\x00\x01\xff")),
    ("int-keys", {1: "one", (2, 3): "tuple key"}),
    ("nested-containers", {"rows": [(1, {"x"}), (2, frozenset({"y"}))], "blob": b"\x00" * 10}),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5, 678901)),
    ("date", datetime.date(2024, 2, 29)),
    ("decimal", decimal.Decimal("1.10")),
    ("complex", 1 + 2j),
    ("dataclass", ConformanceRecord("r", ("a", "b"), 0.5)),
    ("huge-int", 2**200),
]

_AWKWARD_KEYS = [
    "2024-01-01",
    "2024-01-01T00:00:00+00:00",
    "a/b",
    "a b",
    "100%",
    "%2F",
    "ü-ñ-日本",
    "..",
    ".",
    ".hidden",
    "trailing.",
    "trailing ",
    "CON",
    "nul",
    "a\\b",
    "*?<>|\":",
    "k" * 300,
]


# --------------------------------------------------- cross-process workers
def _payload(writer: int, seq: int, size: int) -> dict[str, Any]:
    """A JSON-safe value whose consistency can be checked after loading."""
    stamp = f"<{writer}:{seq}>"
    return {"writer": writer, "seq": seq, "body": (stamp * (size // len(stamp) + 1))[:size]}


def _payload_problem(value: Any, size: int) -> str | None:
    """Why ``value`` is not a complete payload (``None`` if it is)."""
    try:
        expected = _payload(value["writer"], value["seq"], size)
    except Exception as exc:  # noqa: BLE001 - anything odd is a problem to report
        return f"not a payload ({type(exc).__name__}: {exc}): {repr(value)[:200]}"
    if value != expected:
        return f"torn or mixed value for writer {value['writer']} seq {value['seq']}: {repr(value)[:200]}"
    return None


def _write_loop(handler: Any, shared: str, own: str, writer: int, seconds: float, size: int) -> int:
    seq = 0
    deadline = time.monotonic() + seconds
    while seq < 3 or time.monotonic() < deadline:
        seq += 1
        value = _payload(writer, seq, size)
        handler.handle_output(output_context(shared), value)
        handler.handle_output(output_context(own), value)
    return seq


def _read_loop(handler: Any, shared: str, seconds: float, size: int) -> tuple[int, list[str]]:
    loads = 0
    problems: list[str] = []
    deadline = time.monotonic() + seconds
    while loads < 3 or time.monotonic() < deadline:
        loads += 1
        try:
            value = handler.load_input(input_context(shared))
        except Exception as exc:  # noqa: BLE001
            problems.append(f"load failed mid-write: {type(exc).__name__}: {exc}")
        else:
            problem = _payload_problem(value, size)
            if problem is not None:
                problems.append(problem)
        if len(problems) >= 5:
            break
    return loads, problems


_ROLES: dict[str, Callable[..., Any]] = {"write": _write_loop, "read": _read_loop}


def _process_main(role: str, index: int, handler: Any, args: tuple[Any, ...], barrier: Any, results: Any) -> None:
    """Entry point of the spawned processes (module level, so spawn can import it)."""
    try:
        barrier.wait(timeout=120)
        results.put((role, index, True, _ROLES[role](handler, *args)))
    except BaseException:  # noqa: BLE001 - reported to the parent
        results.put((role, index, False, traceback.format_exc()))


# -------------------------------------------------------------------- suite
class IOHandlerConformance:
    """Base test class: subclass it as ``Test...`` and implement :meth:`make_handler`."""

    supports_arbitrary_objects: ClassVar[bool] = True
    supports_partitions: ClassVar[bool] = True
    multi_partition_loads: ClassVar[bool] = True
    distinct_nested_names: ClassVar[bool] = True
    arbitrary_partition_keys: ClassVar[bool] = True
    persistent: ClassVar[bool] = True
    cross_process: ClassVar[bool] = True
    supports_batch_values: ClassVar[bool] = True

    missing_value_error: ClassVar[type[BaseException] | tuple[type[BaseException], ...]] = Exception
    expected_metadata_keys: ClassVar[Iterable[str]] = frozenset()
    large_value_bytes: ClassVar[int] = 8 * 2**20
    concurrent_writers: ClassVar[int] = 3
    concurrent_readers: ClassVar[int] = 2
    concurrency_seconds: ClassVar[float] = 0.5
    concurrent_value_bytes: ClassVar[int] = 64 * 2**10

    # ------------------------------------------------------------- hooks
    def make_handler(self, tmp_path: Any) -> Any:
        """Return the handler under test, storing its values below ``tmp_path``."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_handler(self, tmp_path)")

    def values_equal(self, expected: Any, actual: Any) -> bool:
        """Whether a loaded value equals the written one (override for DataFrames etc.)."""
        return type(actual) is type(expected) and actual == expected

    @pytest.fixture
    def io_handler(self, tmp_path: Any) -> Any:
        return self.make_handler(tmp_path)

    # ----------------------------------------------------------- helpers
    def _require(self, capability: str) -> None:
        if not getattr(self, capability):
            pytest.skip(f"{type(self).__name__}.{capability} is False")

    def assert_round_trip(self, handler: Any, asset: str, value: Any, partition: Any = None) -> None:
        write_value(handler, asset, value, partition)
        loaded = load_value(handler, asset, partition)
        assert self.values_equal(value, loaded), (
            f"{asset}{'' if partition is None else f' {partition!r}'}: wrote {repr(value)[:200]}, "
            f"loaded {repr(loaded)[:200]}"
        )

    def large_value(self) -> Any:
        if self.supports_arbitrary_objects:
            return os.urandom(self.large_value_bytes)
        return os.urandom(self.large_value_bytes // 2).hex()

    # ------------------------------------------------------- round trips
    @pytest.mark.parametrize("value", [v for _, v in _JSON_VALUES], ids=[n for n, _ in _JSON_VALUES])
    def test_round_trip_json_values(self, io_handler: Any, value: Any) -> None:
        self.assert_round_trip(io_handler, "value", value)

    @pytest.mark.parametrize("value", [v for _, v in _OBJECT_VALUES], ids=[n for n, _ in _OBJECT_VALUES])
    def test_round_trip_python_objects(self, io_handler: Any, value: Any) -> None:
        self._require("supports_arbitrary_objects")
        self.assert_round_trip(io_handler, "value", value)

    def test_round_trip_large_value(self, io_handler: Any) -> None:
        self.assert_round_trip(io_handler, "large", self.large_value())

    def test_loaded_value_is_not_the_written_object(self, io_handler: Any) -> None:
        # Persisting handlers must not hand out the caller's object; the memory
        # handler (persistent = False) legitimately does.
        self._require("persistent")
        value = {"rows": [1, 2, 3]}
        write_value(io_handler, "copied", value)
        value["rows"].append(4)
        assert load_value(io_handler, "copied") == {"rows": [1, 2, 3]}

    # ------------------------------------------------ overwrite, isolation
    def test_overwrite_returns_latest_value(self, io_handler: Any) -> None:
        write_value(io_handler, "asset", {"version": 1})
        write_value(io_handler, "asset", {"version": 2})
        assert load_value(io_handler, "asset") == {"version": 2}

    def test_overwrite_with_smaller_value(self, io_handler: Any) -> None:
        big = self.large_value()
        small = "small" if not self.supports_arbitrary_objects else b"small"
        write_value(io_handler, "shrinks", big)
        write_value(io_handler, "shrinks", small)
        assert self.values_equal(small, load_value(io_handler, "shrinks"))

    def test_assets_are_independent(self, io_handler: Any) -> None:
        names = ["orders", "Orders_2", "orders_summary", "g/t", "g/t/u", "x.pkl", "x.json", "a-b", "a_b"]
        for i, name in enumerate(names):
            write_value(io_handler, name, {"asset": name, "i": i})
        for i, name in enumerate(names):
            assert load_value(io_handler, name) == {"asset": name, "i": i}, name

    def test_new_handler_sees_stored_values(self, io_handler: Any, tmp_path: Any) -> None:
        self._require("persistent")
        write_value(io_handler, "kept", [1, 2, 3])
        assert load_value(self.make_handler(tmp_path), "kept") == [1, 2, 3]

    # --------------------------------------------------------- partitions
    def test_partitions_are_independent(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        for key in ("2024-01-01", "2024-01-02"):
            write_value(io_handler, "daily", {"day": key}, partition(key))
        write_value(io_handler, "daily", {"day": None})
        assert load_value(io_handler, "daily", partition("2024-01-01")) == {"day": "2024-01-01"}
        assert load_value(io_handler, "daily", partition("2024-01-02")) == {"day": "2024-01-02"}
        assert load_value(io_handler, "daily") == {"day": None}

    def test_partition_overwrite(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        write_value(io_handler, "daily", 1, partition("k"))
        write_value(io_handler, "daily", 2, partition("k"))
        assert load_value(io_handler, "daily", partition("k")) == 2

    def test_awkward_partition_keys(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("arbitrary_partition_keys")
        for i, key in enumerate(_AWKWARD_KEYS):
            write_value(io_handler, "awkward", {"key": key, "i": i}, partition(key))
        for i, key in enumerate(_AWKWARD_KEYS):
            assert load_value(io_handler, "awkward", partition(key)) == {"key": key, "i": i}, key

    def test_partition_key_objects_with_path_suffix(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        keys = [
            StubMultiKey(date="2024-01-02", region="us"),
            StubMultiKey(date="2024-01-02", region="eu"),
            StubMultiKey(date="2024-01-03", region="us"),
        ]
        for key in keys:
            write_value(io_handler, "multi", key.path_suffix(), partition(key))
        for key in keys:
            assert load_value(io_handler, "multi", partition(key)) == key.path_suffix(), key

    def test_nested_names_do_not_collide_with_partitions(self, io_handler: Any) -> None:
        # Graph-internal nodes are called "<graph>/<task>": the node "a/b" must not
        # share storage with partition "b" of asset "a".
        self._require("supports_partitions")
        self._require("distinct_nested_names")
        write_value(io_handler, "a/b", "node a/b")
        write_value(io_handler, "a", "partition b of a", partition("b"))
        assert load_value(io_handler, "a/b") == "node a/b"
        assert load_value(io_handler, "a", partition("b")) == "partition b of a"

    # ----------------------------------------------------- batch values
    def test_batch_value_loads_back_for_the_same_keys(self, io_handler: Any) -> None:
        # a batched step (single_run backfill) returns one value for all its keys: it belongs to the batch
        self._require("supports_partitions")
        self._require("supports_batch_values")
        write_value(io_handler, "batched", {"rows": 3}, partition("k1", "k2", "k3"))
        assert load_value(io_handler, "batched", partition("k1", "k2", "k3")) == {"rows": 3}
        assert load_value(io_handler, "batched", partition("k3", "k1", "k2")) == {"rows": 3}  # any order

    def test_a_batch_member_loaded_alone_raises_batch_value_error(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("supports_batch_values")
        write_value(io_handler, "batched", "one value", partition("k1", "k2", "k3"))
        for keys in (("k2",), ("k1", "k2")):
            with pytest.raises(BatchValueError) as info:
                load_value(io_handler, "batched", partition(*keys))
            message = str(info.value)
            assert "'batched'" in message and "batch of 3 partitions" in message, message
            assert info.value.asset == "batched" and info.value.partition in keys
            assert isinstance(pickle.loads(pickle.dumps(info.value)), BatchValueError)

    def test_batch_values_of_key_objects(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("supports_batch_values")
        keys = [StubMultiKey(d="1", r="us"), StubMultiKey(d="2", r="us")]
        write_value(io_handler, "multi_batch", [1, 2], partition(*keys))
        assert load_value(io_handler, "multi_batch", partition(*reversed(keys))) == [1, 2]
        with pytest.raises(BatchValueError):
            load_value(io_handler, "multi_batch", partition(keys[0]))

    def test_a_key_written_after_its_batch_loads_on_its_own(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("supports_batch_values")
        write_value(io_handler, "rewritten", "batch", partition("k1", "k2"))
        write_value(io_handler, "rewritten", "k2 alone", partition("k2"))
        assert load_value(io_handler, "rewritten", partition("k2")) == "k2 alone"
        with pytest.raises(BatchValueError):
            load_value(io_handler, "rewritten", partition("k1"))

    def test_a_batch_replaces_values_its_keys_had_on_their_own(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("supports_batch_values")
        write_value(io_handler, "replaced", "old k1", partition("k1"))
        write_value(io_handler, "replaced", "batch", partition("k1", "k2"))
        with pytest.raises(BatchValueError):  # never the stale single value
            load_value(io_handler, "replaced", partition("k1"))
        assert load_value(io_handler, "replaced", partition("k1", "k2")) == "batch"

    def test_new_handler_sees_batch_values(self, io_handler: Any, tmp_path: Any) -> None:
        self._require("supports_partitions")
        self._require("supports_batch_values")
        self._require("persistent")
        write_value(io_handler, "kept", "batch", partition("k1", "k2"))
        fresh = self.make_handler(tmp_path)
        assert load_value(fresh, "kept", partition("k2", "k1")) == "batch"
        with pytest.raises(BatchValueError):
            load_value(fresh, "kept", partition("k1"))

    def test_single_run_backfill_chain_round_trips_one_value(self, io_handler: Any) -> None:
        # the measured case: ev -> ev2 backfilled in one run, each step returning one plain value
        self._require("supports_partitions")
        self._require("supports_batch_values")
        days = rs.PartitionsDefinition.daily(datetime.datetime(2024, 1, 1))

        def ev(context: rs.AssetExecutionContext) -> list:
            return [str(key) for key in context.partition.keys]

        def ev2(ev: list) -> int:
            return len(ev)

        repo = rs.CodeRepository(assets=[rs.Asset(ev, partitions_def=days, io_handler=io_handler),
                                         rs.Asset(ev2, partitions_def=days, io_handler=io_handler)])
        repo.resolve(rs.Storage.memory())
        result = repo.backfill(partition_range=rs.PartitionKeyRange.single("2024-01-01", "2024-01-05"),
                               strategy=rs.BackfillStrategy.single_run())
        assert (result.status, result.completed, result.failed) == ("CompletedSuccess", 5, 0)
        keys = [str(key) for key in result.partition_keys]
        assert load_value(io_handler, "ev2", partition(*result.partition_keys)) == 5
        assert load_value(io_handler, "ev", partition(*result.partition_keys)) == keys
        with pytest.raises(BatchValueError, match="batch of 5 partitions"):
            repo.load_node("ev", partition_key="2024-01-03")

    def test_multi_partition_load_returns_dict(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("multi_partition_loads")
        for key in ("a", "b", "c"):
            write_value(io_handler, "parts", f"value {key}", partition(key))
        loaded = load_value(io_handler, "parts", partition("c", "a"))
        assert loaded == {"c": "value c", "a": "value a"}
        assert list(loaded) == ["c", "a"]

    def test_multi_partition_load_with_key_objects(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("multi_partition_loads")
        keys = [StubMultiKey(d="1", r="us"), StubMultiKey(d="2", r="us")]
        for key in keys:
            write_value(io_handler, "multi", key.path_suffix(), partition(key))
        assert load_value(io_handler, "multi", partition(*keys)) == {key: key.path_suffix() for key in keys}

    # ------------------------------------------------------------ missing
    def test_missing_asset_raises(self, io_handler: Any) -> None:
        with pytest.raises(self.missing_value_error) as info:
            load_value(io_handler, "never_written")
        assert isinstance(info.value, Exception)

    def test_missing_partition_raises(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        write_value(io_handler, "daily", 1, partition("2024-01-01"))
        with pytest.raises(self.missing_value_error):
            load_value(io_handler, "daily", partition("2024-01-02"))
        with pytest.raises(self.missing_value_error):
            load_value(io_handler, "daily")

    def test_multi_partition_load_with_a_missing_key_raises(self, io_handler: Any) -> None:
        self._require("supports_partitions")
        self._require("multi_partition_loads")
        write_value(io_handler, "parts", 1, partition("a"))
        with pytest.raises(self.missing_value_error):
            load_value(io_handler, "parts", partition("a", "b"))

    def test_missing_value_error_pickles(self, io_handler: Any) -> None:
        # Errors cross process boundaries with the parallel executor.
        self._require("cross_process")
        with pytest.raises(self.missing_value_error) as info:
            load_value(io_handler, "never_written")
        copy = pickle.loads(pickle.dumps(info.value))
        assert type(copy) is type(info.value) and str(copy) == str(info.value)

    # ----------------------------------------------------------- metadata
    def test_output_metadata(self, io_handler: Any) -> None:
        contexts = [write_value(io_handler, "described", {"x": 1})]
        if self.supports_partitions:
            contexts.append(write_value(io_handler, "described", {"x": 2}, partition("p")))
        for context in contexts:
            metadata = context.output_metadata or {}
            assert all(isinstance(value, MetadataValue) for value in metadata.values())
            serialize_metadata(metadata)  # must be storable with the event
            missing = set(self.expected_metadata_keys) - set(metadata)
            assert not missing, f"output metadata lacks {sorted(missing)}: {metadata}"

    # --------------------------------------------------------- repository
    def test_repository_run_passes_values_downstream(self, io_handler: Any) -> None:
        def numbers() -> list:
            return [1, 2, 3]

        def total(numbers: list) -> int:
            return sum(numbers)

        repo = rs.CodeRepository(
            assets=[rs.Asset(numbers, io_handler=io_handler), rs.Asset(total, io_handler=io_handler)]
        )
        repo.resolve(rs.Storage.memory())
        result = repo.materialize()
        assert result.success
        assert repo.load_node("total") == 6
        assert load_value(io_handler, "numbers") == [1, 2, 3]
        event = cast("StoredEvent", repo.storage.get_latest_materialization("numbers"))
        missing = set(self.expected_metadata_keys) - {key for key, _ in event.metadata}
        assert not missing, f"materialization metadata lacks {sorted(missing)}"

    def test_self_dependency_sees_previous_value(self, io_handler: Any, tmp_path: Any) -> None:
        def counter(self: rs.SelfDependency[int]) -> int:
            previous = self.get_inner()
            return 1 if previous is None else previous + 1

        repo = rs.CodeRepository(assets=[rs.Asset(counter, io_handler=io_handler)])
        repo.resolve(rs.Storage.memory())
        for expected in (1, 2, 3):
            assert repo.materialize().success
            assert repo.load_node("counter") == expected
        if self.persistent:
            # A new repository (a new process, tomorrow) continues from the stored value.
            fresh = rs.CodeRepository(assets=[rs.Asset(counter, io_handler=self.make_handler(tmp_path))])
            fresh.resolve(rs.Storage.memory())
            assert fresh.materialize().success
            assert fresh.load_node("counter") == 4

    # ------------------------------------------------------ cross-process
    def test_handler_pickles(self, io_handler: Any) -> None:
        self._require("cross_process")
        try:
            copy = pickle.loads(pickle.dumps(io_handler))
        except Exception as exc:  # noqa: BLE001
            pytest.fail(
                f"{type(io_handler).__name__} must be picklable to cross process boundaries "
                f"({type(exc).__name__}: {exc}); set cross_process = False if it cannot"
            )
        write_value(io_handler, "shared", "from original")
        assert load_value(copy, "shared") == "from original"
        write_value(copy, "shared", "from copy")
        assert load_value(io_handler, "shared") == "from copy"

    def test_concurrent_writers_and_readers_across_processes(self, io_handler: Any) -> None:
        self._require("cross_process")
        size = self.concurrent_value_bytes
        seconds = self.concurrency_seconds
        write_value(io_handler, "shared", _payload(-1, 0, size))  # readers never see "missing"
        tasks: list[tuple[str, int, tuple[Any, ...]]] = [
            ("write", i, ("shared", f"own_{i}", i, seconds, size)) for i in range(self.concurrent_writers)
        ]
        tasks += [("read", i, ("shared", seconds, size)) for i in range(self.concurrent_readers)]

        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(len(tasks))
        results = ctx.Queue()
        processes = [
            ctx.Process(target=_process_main, args=(role, i, io_handler, args, barrier, results), daemon=True)
            for role, i, args in tasks
        ]
        for process in processes:
            process.start()
        outcomes: dict[tuple[str, int], Any] = {}
        try:
            deadline = time.monotonic() + 120 + 5 * seconds
            while len(outcomes) < len(tasks):
                try:
                    role, i, ok, outcome = results.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue_module.Empty:
                    pytest.fail(f"worker processes did not finish in time; results so far: {outcomes}")
                if not ok:
                    pytest.fail(f"{role} process {i} failed:\n{outcome}")
                outcomes[(role, i)] = outcome
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
                    process.join()

        for i in range(self.concurrent_readers):
            loads, problems = outcomes[("read", i)]
            assert not problems, f"reader {i} saw incomplete values during concurrent writes: {problems}"
            assert loads >= 3
        last = {i: outcomes[("write", i)] for i in range(self.concurrent_writers)}
        for i, seq in last.items():
            assert load_value(io_handler, f"own_{i}") == _payload(i, seq, size), f"own_{i}"
        final = load_value(io_handler, "shared")
        assert _payload_problem(final, size) is None
        assert final["seq"] == last.get(final["writer"]), "the shared value is not a writer's last value"
