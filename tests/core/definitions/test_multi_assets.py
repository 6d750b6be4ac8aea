"""``Asset.from_multi``: one step, several output nodes.

Spec: assets.md §2.1, §3, §6; io.md §4; context.md §1 (output_selection).
"""

import json

import pytest

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    AssetNotFoundError,
    ExecutionError,
    NodeNotFoundError,
)
from support import Recorder, make_repo


def event_list(repo, run_id):
    return [(e.event_type, e.asset_key) for e in repo.storage.get_events_for_run(run_id)]


def materialization(repo, run_id, asset):
    found = [e for e in repo.storage.get_events_for_run(run_id)
             if e.asset_key == asset and e.event_type == "Materialization"]
    assert len(found) == 1, found
    return found[0]


def meta(event):
    return {k: json.loads(v) for k, v in event.metadata}


# ================================================================ definition
def test_from_multi_decorator_returns_a_multi_asset():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split():
        return {"a": 1, "b": 2}

    assert isinstance(split, rs.MultiAsset)
    assert isinstance(split, rs.Asset)
    assert (split.is_single, split.is_multi, split.is_graph, split.is_external) == (False, True, False, False)
    assert split.name == "split"
    assert [o.name for o in split.output_defs] == ["a", "b"]
    assert all(isinstance(o, rs.AssetDef) for o in split.output_defs)


def test_from_multi_with_wraps_returns_the_asset_directly():
    def split():
        return {"a": 1}

    asset = rs.Asset.from_multi(split, output_defs=[rs.AssetDef("a")], name="extractor")
    assert isinstance(asset, rs.MultiAsset)
    assert asset.name == "extractor"
    assert asset._asset_fn is split


@pytest.mark.parametrize("option", [{"metadata": {"a": "b"}}, {"pool": "p"}, {"pool_slots": 1},
                                    {"backfill_strategy": None}])
def test_from_multi_has_no_metadata_pool_or_backfill_options(option):
    with pytest.raises(TypeError):
        rs.Asset.from_multi(output_defs=[rs.AssetDef("a")], **option)


def test_duplicate_output_names_in_one_multi_asset():
    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'a': two definitions register under it"):
        rs.Asset.from_multi(lambda: {}, output_defs=[rs.AssetDef("a"), rs.AssetDef("a")], name="m")


def test_output_name_colliding_with_another_asset():
    @rs.Asset
    def a():
        return 1

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split():
        return {"a": 1, "b": 2}

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'a': two definitions register under it"):
        rs.CodeRepository(assets=[a, split]).validate()


def test_output_defs_must_be_asset_defs():
    with pytest.raises(AssetDefinitionError):
        rs.Asset.from_multi(lambda: {}, output_defs=["a"], name="m")


def test_top_level_partitions_def_name_is_kept():
    asset = rs.Asset.from_multi(lambda: {}, output_defs=[rs.AssetDef("a")], name="m", partitions_def="daily")
    assert asset.partitions_def == "daily"


# ============================================================ outputs as nodes
def test_each_output_is_a_node_and_the_multi_name_is_not():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("left"), rs.AssetDef("right")])
    def split():
        return {"left": 1, "right": 2}

    repo = make_repo(split)
    assert set(repo.assets) == {"left", "right"}
    assert repo.assets["left"] is split and repo.assets["right"] is split
    with pytest.raises(AssetNotFoundError, match="Selection contains unknown asset: 'split'"):
        repo.materialize(selection=["split"])
    with pytest.raises(NodeNotFoundError):
        repo.load_node("split")


def test_dict_return_materializes_every_output():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("left"), rs.AssetDef("right")])
    def split():
        return {"left": [1], "right": [2]}

    @rs.Asset
    def joined(left: list, right: list) -> list:
        return left + right

    repo = make_repo(split, joined)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("left") == [1]
    assert repo.load_node("right") == [2]
    assert repo.load_node("joined") == [1, 2]
    assert result.materialized_assets == ["left", "right", "joined"]
    assert event_list(repo, result.run_id)[:4] == [
        ("StepStart", "split"), ("Materialization", "left"), ("Materialization", "right"), ("StepSuccess", "split"),
    ]


def test_function_runs_once_for_all_outputs():
    calls = []

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b"), rs.AssetDef("c")])
    def split():
        calls.append(1)
        return {"a": 1, "b": 2, "c": 3}

    make_repo(split).materialize()
    assert calls == [1]


def test_dict_values_may_be_output_and_materialization_wrappers():
    handler = Recorder()

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")], io_handler=handler)
    def split():
        return {"a": rs.Output(5, metadata={"n": 1}, data_version="va"),
                "b": rs.Materialization(metadata={"pushed": True}, data_version="vb")}

    repo = make_repo(split)
    result = repo.materialize()
    assert result.success
    assert handler.written_names == ["a"]  # Materialization never calls handle_output
    assert handler.values == {"a": 5}
    ev_a, ev_b = materialization(repo, result.run_id, "a"), materialization(repo, result.run_id, "b")
    assert (ev_a.data_version, ev_b.data_version) == ("va", "vb")
    assert meta(ev_a) == {"n": {"Int": {"value": 1}}}
    assert meta(ev_b) == {"pushed": {"Bool": {"value": True}}}


def test_missing_dict_output_fails_only_that_output():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split():
        return {"a": 1}

    @rs.Asset
    def after_a(a):
        return a

    @rs.Asset
    def after_b(b):
        return b

    repo = make_repo(split, after_a, after_b)
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    failed = dict(result.failed_assets)
    assert set(failed) == {"b", "after_b"}
    assert failed["b"].startswith("ExecutionError")
    assert failed["after_b"] == "ExecutionError: Skipped: upstream dependency failed"
    assert repo.load_node("a") == 1
    assert repo.load_node("after_a") == 1


def test_missing_dict_output_raises_execution_error_with_raise_on_error():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split():
        return {"a": 1}

    with pytest.raises(ExecutionError, match="'b'"):
        make_repo(split).materialize()


def test_extra_dict_keys_are_ignored():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a")])
    def split():
        return {"a": 1, "zzz": 2}

    repo = make_repo(split)
    result = repo.materialize()
    assert result.success
    assert result.materialized_assets == ["a"]
    assert repo.load_node("a") == 1


def test_non_dict_return_fails_every_output():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split():
        return 5

    result = make_repo(split).materialize(raise_on_error=False)
    assert not result.success
    assert {name for name, _ in result.failed_assets} == {"a", "b"}
    assert all(message.startswith("ExecutionError") for _, message in result.failed_assets)


# -------------------------------------------------------------- generators
def test_generator_yielding_outputs():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y")])
    def multi(context: rs.AssetExecutionContext):
        yield rs.Output(value=10, output_name="x")
        yield rs.Output(value=20, output_name="y")

    repo = make_repo(multi)
    assert repo.materialize().success
    assert (repo.load_node("x"), repo.load_node("y")) == (10, 20)


def test_async_generator_multi_asset():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y")])
    async def multi():
        yield rs.Output(1, output_name="x")
        yield rs.Output(2, output_name="y")

    assert multi.is_async
    repo = make_repo(multi)
    assert repo.materialize().success
    assert (repo.load_node("x"), repo.load_node("y")) == (1, 2)


def test_async_dict_multi_asset():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y")])
    async def multi():
        return {"x": 1, "y": 2}

    repo = make_repo(multi)
    assert repo.materialize().success
    assert (repo.load_node("x"), repo.load_node("y")) == (1, 2)


def test_generator_may_yield_observation_and_materialization():
    handler = Recorder()

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y"), rs.AssetDef("z")], io_handler=handler)
    def multi():
        yield rs.Output(1, output_name="x")
        yield rs.Observation(output_name="y", metadata={"seen": 1})
        yield rs.Materialization(output_name="z", data_version="vz")

    repo = make_repo(multi)
    result = repo.materialize()
    assert result.success
    assert handler.written_names == ["x"]
    kinds = event_list(repo, result.run_id)
    assert ("Observation", "y") in kinds
    assert ("Materialization", "z") in kinds
    assert materialization(repo, result.run_id, "z").data_version == "vz"


def test_plain_value_yield_fails_every_output():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y")])
    def multi():
        yield 1

    result = make_repo(multi).materialize(raise_on_error=False)
    assert {name for name, _ in result.failed_assets} == {"x", "y"}
    for _, message in result.failed_assets:
        assert "Generator multi-asset must yield Output(...), Observation(...), or Materialization(...)" in message


def test_yield_without_output_name_fails_every_output():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y")])
    def multi():
        yield rs.Output(1)

    result = make_repo(multi).materialize(raise_on_error=False)
    assert {name for name, _ in result.failed_assets} == {"x", "y"}
    for _, message in result.failed_assets:
        assert message.startswith("ExecutionError")
        assert "yield in multi-asset must include output_name" in message


def test_output_never_yielded_fails_that_output_only():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x"), rs.AssetDef("y")])
    def multi():
        yield rs.Output(1, output_name="x")

    repo = make_repo(multi)
    result = repo.materialize(raise_on_error=False)
    (name, message), = result.failed_assets
    assert name == "y"
    assert message.startswith("ExecutionError: ")
    assert "Generator multi-asset did not yield output 'y'" in message
    assert repo.load_node("x") == 1


def test_yield_of_an_unknown_output_fails():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x")])
    def multi():
        yield rs.Output(1, output_name="nope")

    result = make_repo(multi).materialize(raise_on_error=False)
    assert [name for name, _ in result.failed_assets] == ["x"]


def test_generator_multi_assets_are_never_retried():
    calls = []

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x")], retry=rs.RetryPolicy(3))
    def multi():
        calls.append(1)
        yield rs.Output(1, output_name="x")
        raise ValueError("late")

    repo = make_repo(multi)
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    assert calls == [1]
    assert not [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "StepRetry"]


def test_dict_multi_assets_are_retried():
    calls = []

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x")], retry=rs.RetryPolicy(2))
    def multi():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("again")
        return {"x": len(calls)}

    repo = make_repo(multi)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("x") == 3
    retries = [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "StepRetry"]
    assert [e.asset_key for e in retries] == ["multi", "multi"]


# =============================================================== subsetting
def test_output_selection_lists_all_outputs_when_not_subset():
    seen = []

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("left"), rs.AssetDef("right")])
    def split(context: rs.AssetExecutionContext):
        seen.append((context.asset_name, context.is_multi_asset, list(context.output_selection)))
        return {"left": 1, "right": 2}

    make_repo(split).materialize()
    assert seen == [("split", True, ["left", "right"])]


def test_subsetting_calls_the_function_once_and_discards_unselected_values():
    seen = []

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("left"), rs.AssetDef("right")])
    def split(context: rs.AssetExecutionContext):
        seen.append(list(context.output_selection))
        if "left" in context.output_selection:
            yield rs.Output(1, output_name="left")
        yield rs.Output(2, output_name="right")

    repo = make_repo(split)
    result = repo.materialize(selection=["right"])
    assert result.success
    assert seen == [["right"]]
    assert result.materialized_assets == ["right"]
    assert repo.load_node("right") == 2
    with pytest.raises(KeyError):
        repo.load_node("left")
    kinds = event_list(repo, result.run_id)
    assert ("Materialization", "left") not in kinds
    assert ("Materialization", "right") in kinds


def test_subset_dict_return_discards_unselected_values():
    handler = Recorder()

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")], io_handler=handler)
    def split():
        return {"a": 1, "b": 2}

    repo = make_repo(split)
    assert repo.materialize(selection=["a"]).success
    assert handler.written_names == ["a"]


def test_unselected_output_missing_from_the_dict_is_not_a_failure():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split(context: rs.AssetExecutionContext):
        return {name: 1 for name in context.output_selection}

    assert make_repo(split).materialize(selection=["a"]).success


# ================================================================== metadata
def test_context_metadata_applies_to_every_output_and_output_metadata_overlays():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split(context: rs.AssetExecutionContext):
        context.add_output_metadata({"shared": 1, "who": "ctx"})
        yield rs.Output(1, output_name="a", metadata={"who": "a", "only_a": True})
        yield rs.Output(2, output_name="b")

    repo = make_repo(split)
    run_id = repo.materialize().run_id
    ma, mb = meta(materialization(repo, run_id, "a")), meta(materialization(repo, run_id, "b"))
    assert ma["shared"] == mb["shared"] == {"Int": {"value": 1}}
    assert ma["who"] == {"Text": {"value": "a"}}
    assert mb["who"] == {"Text": {"value": "ctx"}}
    assert ma["only_a"] == {"Bool": {"value": True}}
    assert "only_a" not in mb


def test_per_output_static_metadata_reaches_the_handler():
    class MetaRecorder(Recorder):
        def handle_output(self, context, obj):
            super().handle_output(context, obj)
            self.loads.append((context.asset_name, context.asset_metadata))

    handler = MetaRecorder()

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a", metadata={"path": "a.csv"}), rs.AssetDef("b")],
                         io_handler=handler)
    def split():
        return {"a": 1, "b": 2}

    make_repo(split).materialize()
    assert handler.loads == [("a", {"path": "a.csv"}), ("b", None)]


# ================================================ top-level defaults and handlers
def test_top_level_settings_are_defaults_for_outputs():
    @rs.Asset.from_multi(
        output_defs=[rs.AssetDef("a"), rs.AssetDef("b", tags=["own"], kinds="file", group="g2", code_version="9")],
        tags=["top"], kinds="table", group="g1", code_version="1",
    )
    def split():
        return {"a": 1, "b": 2}

    repo = make_repo(split)
    a, b = repo.storage.get_asset_record("a"), repo.storage.get_asset_record("b")
    assert (a.tags, a.kinds, a.group, a.code_version) == (["top"], ["table"], "g1", "1")
    assert (b.tags, b.kinds, b.group, b.code_version) == (["own"], ["file"], "g2", "9")


def test_output_handler_chain():
    own, top = Recorder(), Recorder()

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a", io_handler=own), rs.AssetDef("b")], io_handler=top)
    def split():
        return {"a": 1, "b": 2}

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("c")])
    def other():
        return {"c": 3}

    repo = make_repo(split, other)
    assert repo.io_handler_for_output("a") is own
    assert repo.io_handler_for_output("b") is top
    assert isinstance(repo.io_handler_for_output("c"), rs.InMemoryIOHandler)
    repo.materialize()
    assert own.values == {"a": 1}
    assert top.values == {"b": 2}
    assert repo.load_node("c") == 3


def test_group_selection_uses_output_groups():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a", group="raw"), rs.AssetDef("b", group="clean")])
    def split(context: rs.AssetExecutionContext):
        return {name: name for name in context.output_selection}

    repo = make_repo(split)
    result = repo.materialize(selection="group:raw")
    assert result.materialized_assets == ["a"]


def test_hooks_fire_once_per_output():
    calls = []

    @rs.Hook.success
    def on_ok(ctx):
        calls.append((ctx.asset_name, ctx.output))

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")], hooks=[on_ok])
    def split():
        return {"a": 1, "b": 2}

    make_repo(split).materialize()
    assert calls == [("a", 1), ("b", 2)]


def test_multi_asset_config_is_keyed_by_the_multi_asset_name():
    pydantic = pytest.importorskip("pydantic")

    class Cfg(pydantic.BaseModel):
        factor: int = 1

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split(context: rs.AssetExecutionContext[Cfg]):
        return {"a": context.config.factor, "b": context.config.factor * 2}

    repo = make_repo(split)
    repo.materialize(config={"split": {"factor": 5}, "a": {"factor": 100}})
    assert (repo.load_node("a"), repo.load_node("b")) == (5, 10)


# ====================================================================== deps
def test_inputs_from_top_level_and_output_deps_are_merged():
    @rs.Asset
    def src1():
        return 1

    @rs.Asset
    def src2():
        return 2

    @rs.Asset.from_multi(
        output_defs=[rs.AssetDef("a", deps=[rs.AssetDef.input("src2")]), rs.AssetDef("b")],
        deps=[rs.AssetDef.input("src1")],
    )
    def split(src1: int, src2: int):
        return {"a": src1, "b": src2}

    repo = make_repo(src1, src2, split)
    repo.materialize()
    assert (repo.load_node("a"), repo.load_node("b")) == (1, 2)


def test_input_dep_io_handler_override_loads_only():
    loader = Recorder()
    loader.values["up"] = "from loader"
    up_handler = Recorder()

    @rs.Asset(io_handler=up_handler)
    def up():
        return "from up"

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a")],
                         deps=[rs.AssetDef.input("up", io_handler=loader, metadata={"cols": "x"})])
    def split(up: str):
        return {"a": up}

    repo = make_repo(up, split)
    repo.materialize()
    assert repo.load_node("a") == "from loader"
    assert up_handler.values == {"up": "from up"}  # the upstream is still written by its own handler
    assert repo.io_handler_for_output("up") is up_handler
    (ctx,) = loader.loads
    assert ctx.asset_name == "up"
    assert ctx.downstream_asset == "split"
    assert ctx.asset_metadata == {"cols": "x"}
    assert ctx.type_hint is str


def test_lineage_dep_on_an_output_attaches_only_to_that_output():
    order = []

    @rs.Asset
    def trigger():
        order.append("trigger")
        return 0

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x", deps=[rs.AssetDef.dep("trigger")]), rs.AssetDef("y")])
    def multi(context: rs.AssetExecutionContext):
        order.append("multi")
        return {n: 1 for n in context.output_selection}

    repo = make_repo(trigger, multi)
    assert repo.materialize(selection=["y"], include_upstream=True).materialized_assets == ["y"]
    assert set(repo.materialize(selection=["x"], include_upstream=True).materialized_assets) == {"trigger", "x"}
    order.clear()
    repo.materialize()
    assert order == ["trigger", "multi"]


def test_top_level_lineage_dep_orders_the_step():
    order = []

    @rs.Asset
    def trigger():
        order.append("trigger")
        return 0

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("x")], deps=[rs.AssetDef.dep("trigger")])
    def multi():
        order.append("multi")
        return {"x": 1}

    repo = make_repo(multi, trigger)
    repo.materialize()
    assert order == ["trigger", "multi"]
    assert set(repo.materialize(selection=["x"], include_upstream=True).materialized_assets) == {"trigger", "x"}


def test_same_input_twice_with_different_mappings_conflicts():
    with pytest.raises(Exception, match="conflicts with an earlier declaration"):
        @rs.Asset.from_multi(
            output_defs=[rs.AssetDef("a", deps=[rs.AssetDef.input("src", partition_mapping=object())])],
            deps=[rs.AssetDef.input("src", partition_mapping=object())],
        )
        def split(src: int):
            return {"a": src}


def test_same_input_twice_with_different_metadata_conflicts():
    with pytest.raises(Exception, match="metadata that conflicts"):
        @rs.Asset.from_multi(
            output_defs=[rs.AssetDef("a", deps=[rs.AssetDef.input("src", metadata={"c": "1"})])],
            deps=[rs.AssetDef.input("src", metadata={"c": "2"})],
        )
        def split(src: int):
            return {"a": src}


def test_same_input_twice_identically_is_accepted():
    mapping = object()

    @rs.Asset.from_multi(
        output_defs=[rs.AssetDef("a", deps=[rs.AssetDef.input("src", partition_mapping=mapping)]),
                     rs.AssetDef("b", deps=[rs.AssetDef.input("src", partition_mapping=mapping)])],
    )
    def split(src: int):
        return {"a": src, "b": src}

    assert split.partition_mapping == {"src": mapping}


def test_asset_def_partition_mapping_disagreeing_with_dep_mapping_conflicts():
    with pytest.raises(Exception, match="conflicts with the entry"):
        @rs.Asset.from_multi(
            output_defs=[rs.AssetDef("a", partition_mapping={"src": object()},
                                     deps=[rs.AssetDef.input("src", partition_mapping=object())])],
        )
        def split(src: int):
            return {"a": src}


def test_input_dep_must_match_an_annotated_parameter():
    with pytest.raises(ValueError, match=r"AssetDef.input\('src'\) does not match any parameter"):
        @rs.Asset.from_multi(output_defs=[rs.AssetDef("a", deps=[rs.AssetDef.input("src")])])
        def split(other: int):
            return {"a": other}


def test_unknown_input_dep_is_an_unresolved_input():
    from rivers.exceptions import GraphValidationError

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a")], deps=[rs.AssetDef.input("nowhere")])
    def split(nowhere: int):
        return {"a": nowhere}

    with pytest.raises(GraphValidationError, match="unresolved input 'nowhere'"):
        rs.CodeRepository(assets=[split]).validate()


def test_job_with_a_multi_asset_contributes_every_output():
    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def split():
        return {"a": 1, "b": 2}

    job = rs.Job("j", assets=[split])
    repo = make_repo(split, jobs=[job])
    result = repo.get_job("j").execute()
    assert result.success
    assert result.materialized_assets == ["a", "b"]


def test_lineage_dep_mapping_disagreeing_with_the_asset_def_entry_conflicts():
    with pytest.raises(AssetDefinitionError, match="conflicts with the entry"):
        @rs.Asset.from_multi(
            output_defs=[rs.AssetDef("out", partition_mapping={"upstream": object()},
                                     deps=[rs.AssetDef.dep("upstream", partition_mapping=object())])],
        )
        def m():
            yield rs.Output(1, output_name="out")


def test_asset_def_mapping_conflict_is_detected_on_the_asset_def_itself():
    with pytest.raises(AssetDefinitionError, match="conflicts with the entry"):
        rs.AssetDef("out", partition_mapping={"upstream": object()},
                    deps=[rs.AssetDef.input("upstream", partition_mapping=object())])


def test_asset_def_entry_keyed_by_an_asset_def_also_conflicts():
    up = rs.AssetDef("upstream")
    with pytest.raises(AssetDefinitionError, match="conflicts with the entry"):
        rs.AssetDef("out", partition_mapping={up: object()},
                    deps=[rs.AssetDef.dep("upstream", partition_mapping=object())])


def test_top_level_input_mapping_disagreeing_with_an_asset_def_entry_conflicts():
    with pytest.raises(AssetDefinitionError, match="conflicts with the entry"):
        @rs.Asset.from_multi(
            output_defs=[rs.AssetDef("out", partition_mapping={"src": object()})],
            deps=[rs.AssetDef.input("src", partition_mapping=object())],
        )
        def m(src: int):
            return {"out": src}


def test_agreeing_mapping_entries_are_accepted():
    mapping = object()
    out = rs.AssetDef("out", partition_mapping={"upstream": mapping},
                      deps=[rs.AssetDef.dep("upstream", partition_mapping=mapping)])
    assert out.partition_mapping == {"upstream": mapping}


def test_per_output_dep_mapping_flows_into_the_asset_def_partition_mapping():
    mapping = object()

    @rs.Asset.from_multi(
        output_defs=[rs.AssetDef("out", deps=[rs.AssetDef.dep("upstream", partition_mapping=mapping)])],
    )
    def m():
        yield rs.Output(1, output_name="out")

    assert m.output_defs[0].partition_mapping == {"upstream": mapping}
    assert rs.AssetDef("plain").partition_mapping is None


def test_multi_step_waits_for_every_per_output_lineage_upstream():
    order = []

    @rs.Asset
    def upstream_a():
        order.append("upstream_a")
        return 1

    @rs.Asset
    def upstream_b():
        order.append("upstream_b")
        return 2

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("out_a", deps=[rs.AssetDef.dep("upstream_a")]),
                                      rs.AssetDef("out_b", deps=[rs.AssetDef.dep("upstream_b")])])
    def m():
        order.append("multi")
        yield rs.Output(1, output_name="out_a")
        yield rs.Output(2, output_name="out_b")

    repo = make_repo(m, upstream_a, upstream_b)
    result = repo.materialize()
    assert result.success
    assert order.index("multi") > order.index("upstream_a")
    assert order.index("multi") > order.index("upstream_b")
    names = result.materialized_assets
    assert names.index("upstream_a") < names.index("out_a")
    assert names.index("upstream_b") < names.index("out_b")


def test_same_input_declared_at_top_level_and_per_output_is_loaded_once():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def upstream() -> int:
        return 4

    @rs.Asset.from_multi(deps=[rs.AssetDef.input("upstream")],
                         output_defs=[rs.AssetDef("out", deps=[rs.AssetDef.input("upstream")])])
    def m(upstream: int):
        yield rs.Output(upstream + 1, output_name="out")

    repo = make_repo(upstream, m)
    assert repo.materialize().success
    assert repo.load_node("out") == 5
    assert [ctx.downstream_asset for ctx in handler.loads] == ["m"]
