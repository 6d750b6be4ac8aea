"""``CodeRepository``: the error catalogue (what each mistake raises, naming the asset at fault)."""

from __future__ import annotations

import pytest
import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    AssetNotFoundError,
    AssetOutputValidationError,
    ConfigurationError,
    ExecutionError,
    GraphValidationError,
    NodeNotFoundError,
    PartitionValidationError,
)
from support import make_repo
from repository_support import kinds


# ========================================================= error catalogue
def test_unknown_upstream_name_suggests_a_close_name():
    @rs.Asset
    def orders():
        return 1

    @rs.Asset
    def revenue(ordrs):
        return ordrs

    with pytest.raises(GraphValidationError) as info:
        rs.CodeRepository(assets=[orders, revenue]).validate()
    message = str(info.value)
    assert "Asset 'revenue': unresolved input 'ordrs'" in message
    assert "orders" in message


def test_two_asset_cycle_message_shows_the_path():
    @rs.Asset
    def a(b):
        return b

    @rs.Asset
    def b(a):
        return a

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: b -> a -> b"):
        rs.CodeRepository(assets=[a, b]).validate()


def test_three_asset_cycle_message_follows_the_data_flow():
    @rs.Asset
    def random(x: int) -> int:
        return x + 1

    @rs.Asset
    def x(z: int) -> int:
        return z

    @rs.Asset
    def y(x: int) -> int:
        return x

    @rs.Asset
    def z(y: int) -> int:
        return y

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: y -> z -> x -> y"):
        rs.CodeRepository(assets=[x, y, z, random]).validate()


def test_cycle_message_does_not_name_non_cyclic_nodes():
    @rs.Asset
    def root() -> int:
        return 1

    @rs.Asset
    def a(b: int, root: int) -> int:
        return b

    @rs.Asset
    def b(a: int) -> int:
        return a

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: b -> a -> b") as info:
        rs.CodeRepository(assets=[root, a, b]).resolve(rs.Storage.memory())
    assert "root" not in str(info.value)


def test_three_asset_cycle_message_is_a_real_cycle():
    @rs.Asset
    def a(c):
        return c

    @rs.Asset
    def b(a):
        return a

    @rs.Asset
    def c(b):
        return b

    @rs.Asset
    def outside():
        return 1

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: ") as info:
        rs.CodeRepository(assets=[outside, a, b, c]).validate()
    path = str(info.value).split("Cycle detected in asset graph: ", 1)[1].split(".")[0].split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    upstream_of = {"a": "c", "b": "a", "c": "b"}
    # each step of the path follows one dependency edge (in one consistent direction)
    forward = all(upstream_of[path[i + 1]] == path[i] for i in range(len(path) - 1))
    backward = all(upstream_of[path[i]] == path[i + 1] for i in range(len(path) - 1))
    assert forward or backward


def test_cycle_through_a_lineage_dep():
    @rs.Asset(deps=[rs.AssetDef.dep("b")])
    def a():
        return 1

    @rs.Asset
    def b(a):
        return a

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph"):
        rs.CodeRepository(assets=[a, b]).validate()


def test_unbound_asset_in_a_repository():
    with pytest.raises(AssetDefinitionError, match="not bound to a function"):
        rs.CodeRepository(assets=[rs.Asset(name="x")]).validate()


def test_task_passed_as_an_asset():
    @rs.Task
    def t() -> int:
        return 1

    with pytest.raises(AssetDefinitionError, match=r"tasks=\[\.\.\.\]"):
        rs.CodeRepository(assets=[t]).validate()


def test_duplicate_asset_names():
    @rs.Asset(name="x")
    def first():
        return 1

    @rs.Asset(name="x")
    def second():
        return 2

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'x': two definitions register under it"):
        rs.CodeRepository(assets=[first, second]).validate()


def test_same_asset_object_twice_is_a_duplicate():
    @rs.Asset
    def a():
        return 1

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'a'"):
        rs.CodeRepository(assets=[a, a]).validate()


def test_asset_and_standalone_task_with_the_same_name():
    @rs.Asset
    def same():
        return 1

    @rs.Task(name="same")
    def task():
        return 2

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'same'"):
        rs.CodeRepository(assets=[same], tasks=[task]).validate()


def test_context_not_first_parameter():
    @rs.Asset
    def up():
        return 1

    @rs.Asset
    def a(up: int, context: rs.AssetExecutionContext):
        return up

    with pytest.raises(ExecutionError, match="Context must be the first parameter of 'a'"):
        make_repo(up, a).materialize()


def test_self_without_annotation():
    @rs.Asset
    def me(self):
        return 1

    with pytest.raises(ExecutionError, match=r"`self` parameter requires a `SelfDependency\[T\]` annotation"):
        make_repo(me).materialize()


def test_materialization_consumed_downstream_in_the_same_run_fails_the_load():
    # Decision (lead, commit eaa2420): within one run the engine knows the upstream returned
    # rs.Materialization and fails the load with a specific ExecutionError instead of the
    # handler's KeyError.
    @rs.Asset
    def push() -> rs.Materialization:
        return rs.Materialization(metadata={"status": 200})

    @rs.Asset
    def consumer(push):
        return push

    repo = make_repo(push, consumer)
    result = repo.materialize(raise_on_error=False)
    assert kinds(repo, result.run_id, "push") == ["StepStart", "Materialization", "StepSuccess"]
    assert [name for name, _ in result.failed_assets] == ["consumer"]
    assert result.failed_assets[0][1].startswith("ExecutionError: Asset 'consumer' loads 'push'")
    with pytest.raises(ExecutionError, match="rs.Materialization"):
        repo.materialize()


def test_materialization_consumed_in_a_later_run_fails_in_the_handler():
    @rs.Asset(io_handler=rs.InMemoryIOHandler())
    def push() -> rs.Materialization:
        return rs.Materialization(metadata={"status": 200})

    @rs.Asset
    def consumer(push):
        return push

    repo = make_repo(push, consumer)
    assert repo.materialize(selection=["push"]).success
    with pytest.raises(KeyError):  # the in-memory handler never stored a value
        repo.materialize(selection=["consumer"])


def test_non_str_static_metadata_is_a_type_error():
    with pytest.raises(TypeError):
        @rs.Asset(metadata={"rows": 5})
        def a():
            return 1


def test_io_handler_not_a_base_io_handler():
    class NotAHandler:
        def handle_output(self, context, obj):
            pass

        def load_input(self, context):
            pass

    with pytest.raises(AssetDefinitionError, match="io_handler must be a BaseIOHandler subclass instance"):
        @rs.Asset(io_handler=NotAHandler())
        def a():
            return 1


def test_return_annotation_mismatch():
    @rs.Asset
    def count() -> int:
        return "three"

    with pytest.raises(AssetOutputValidationError,
                       match="Asset 'count' returned value of type 'str' but expected 'int'"):
        make_repo(count).materialize()


def test_handler_errors_propagate_with_their_type():
    class Failing(rs.BaseIOHandler):
        def handle_output(self, context, obj):
            raise RuntimeError("disk full")

        def load_input(self, context):
            raise RuntimeError("unused")

    @rs.Asset(io_handler=Failing())
    def a():
        return 1

    repo = make_repo(a)
    with pytest.raises(RuntimeError, match="disk full"):
        repo.materialize()
    result = repo.materialize(raise_on_error=False)
    assert result.failed_assets == [("a", "RuntimeError: disk full")]


def test_load_input_errors_propagate_with_their_type():
    class FailingInput(rs.BaseIOHandler):
        def handle_output(self, context, obj):
            pass

        def load_input(self, context):
            raise RuntimeError("load_input exploded")

    @rs.Asset(io_handler=FailingInput())
    def upstream() -> int:
        return 1

    @rs.Asset
    def downstream(upstream: int) -> int:
        return upstream + 1

    job = rs.Job("test", assets=[downstream], allow_incomplete_deps=True)
    repo = make_repo(upstream, downstream, jobs=[job])
    with pytest.raises(RuntimeError, match="load_input exploded"):
        repo.get_job("test").execute()


def test_standalone_bash_task_failure_propagates():
    task = rs.BashTask(name="fail_task", command="exit 1")
    repo = rs.CodeRepository(assets=[], tasks=[task])
    repo.resolve(rs.Storage.memory())
    with pytest.raises(OSError, match="Command failed"):
        repo.materialize()


def test_bash_task_with_a_missing_binary_is_an_os_error():
    with pytest.raises(OSError):
        rs.BashTask(name="bad_cmd", command=["nonexistent_binary_xyz_123"])()


def test_exceptions_module_classes():
    import rivers.exceptions as exc

    names = ["AssetDefinitionError", "AssetNotFoundError", "AssetOutputValidationError", "ConfigurationError",
             "ExecutionError", "GraphValidationError", "InvalidMetadataError", "NodeNotFoundError",
             "PartitionDefinitionError", "PartitionValidationError", "ResultDefinitionError",
             "ScheduleDefinitionError", "SchemaMigrationNeededError", "SensorDefinitionError", "StorageError",
             "TaskDefinitionError"]
    for name in names:
        cls = getattr(exc, name)
        assert issubclass(cls, Exception)
    assert issubclass(exc.SchemaMigrationNeededError, exc.StorageError)
