"""``AssetDef.input`` validation and ``SelfDependency``."""

from __future__ import annotations

import typing
import pytest
import rivers as rs
from support import Recorder, make_repo


# ------------------------------------------------ AssetDef.input validation
def test_input_dep_matching_an_annotated_parameter_is_accepted():
    @rs.Asset(deps=[rs.AssetDef.input("up")])
    def down(up: int):
        return up

    assert down.name == "down"


def test_input_dep_without_matching_parameter_is_a_value_error():
    with pytest.raises(ValueError) as info:
        @rs.Asset(deps=[rs.AssetDef.input("missing")])
        def down(up: int, other: str):
            return up

    message = str(info.value)
    assert "AssetDef.input('missing') does not match any parameter on the function. Available parameters: [" in message
    assert "'up'" in message and "'other'" in message


def test_input_dep_matching_an_unannotated_parameter_is_a_value_error():
    with pytest.raises(ValueError, match=r"AssetDef.input\('up'\) does not match any parameter"):
        @rs.Asset(deps=[rs.AssetDef.input("up")])
        def down(up):
            return up


def test_input_dep_named_self_is_rejected():
    with pytest.raises(ValueError, match="does not match any parameter"):
        @rs.Asset(deps=[rs.AssetDef.input("self")])
        def down(self: rs.SelfDependency[int]):
            return 1


def test_input_dep_cannot_name_the_return_annotation():
    with pytest.raises(ValueError, match="does not match any parameter"):
        @rs.Asset(deps=[rs.AssetDef.input("return")])
        def down() -> int:
            return 1


def test_input_dep_is_checked_when_the_function_is_bound():
    deco = rs.Asset(deps=[rs.AssetDef.input("up")])  # nothing bound yet: no error

    def down(x: int):
        return x

    with pytest.raises(ValueError):
        deco(down)


def test_lineage_dep_need_not_match_a_parameter():
    @rs.Asset(deps=[rs.AssetDef.dep("anything")])
    def down():
        return 1

    assert down.deps[0].name == "anything"


# ============================================================ SelfDependency
def test_self_dependency_constructed_directly_holds_none():
    assert rs.SelfDependency().get_inner() is None


def test_self_dependency_is_generic():
    alias = rs.SelfDependency[list]
    assert typing.get_origin(alias) is rs.SelfDependency
    assert typing.get_args(alias) == (list,)


def test_self_dependency_first_run_gets_none_then_previous_value():
    seen = []

    @rs.Asset
    def incremental(self: rs.SelfDependency[list]) -> list:
        prev = self.get_inner()
        seen.append(prev)
        return [1] if prev is None else prev + [len(prev) + 1]

    repo = make_repo(incremental)
    repo.materialize()
    repo.materialize()
    repo.materialize()
    assert seen == [None, [1], [1, 2]]
    assert repo.load_node("incremental") == [1, 2, 3]


def test_self_dependency_creates_no_graph_edge():
    @rs.Asset
    def me(self: rs.SelfDependency[int]) -> int:
        return (self.get_inner() or 0) + 1

    repo = rs.CodeRepository(assets=[me])
    repo.validate()  # no cycle, no unresolved input
    repo.resolve(rs.Storage.memory())
    assert repo.materialize().materialized_assets == ["me"]


def test_self_dependency_uses_the_asset_handler_with_self_context():
    handler = Recorder()

    @rs.Asset(io_handler=handler, metadata={"k": "v"})
    def me(self: rs.SelfDependency[dict]) -> dict:
        return {"n": ((self.get_inner() or {}).get("n", 0)) + 1}

    repo = make_repo(me)
    repo.materialize()
    repo.materialize()
    assert handler.values["me"] == {"n": 2}
    ctx = handler.loads[-1]
    assert ctx.asset_name == "me"
    assert ctx.downstream_asset == "me"
    assert ctx.type_hint is dict
    assert ctx.asset_metadata == {"k": "v"}


def test_self_dependency_load_errors_become_none():
    class Broken(Recorder):
        def load_input(self, context):
            raise RuntimeError("cannot load")

    got = []

    @rs.Asset(io_handler=Broken())
    def me(self: rs.SelfDependency[int]) -> int:
        got.append(self.get_inner())
        return 1

    repo = make_repo(me)
    assert repo.materialize().success
    assert repo.materialize().success
    assert got == [None, None]


def test_self_dependency_alongside_upstream_and_context():
    @rs.Asset
    def up() -> int:
        return 10

    @rs.Asset
    def acc(context: rs.AssetExecutionContext, up: int, self: rs.SelfDependency[int]) -> int:
        assert context.asset_name == "acc"
        return (self.get_inner() or 0) + up

    repo = make_repo(up, acc)
    repo.materialize()
    repo.materialize()
    assert repo.load_node("acc") == 20
