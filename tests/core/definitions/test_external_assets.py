"""``Asset.external``: sources produced outside rivers, loaded and observed.

Spec: assets.md §2.3; repository.md §1 (materialize selection, observe()).
"""

import json
from typing import Any

import pytest

import rivers as rs
from rivers.exceptions import AssetDefinitionError, ExecutionError


class Source(rs.BaseIOHandler):
    """Holds pre-existing data and records calls."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.data = dict(data or {})
        self.writes: list[str] = []
        self.loads: list[Any] = []

    def handle_output(self, context, obj):
        self.writes.append(context.asset_name)
        self.data[context.asset_name] = obj

    def load_input(self, context):
        self.loads.append(context)
        return self.data[context.asset_name]


def make_repo(*assets: Any, **kwargs: Any) -> rs.CodeRepository:
    repo = rs.CodeRepository(assets=list(assets), **kwargs)
    repo.resolve(rs.Storage.memory())
    return repo


def meta(event):
    return {k: json.loads(v) for k, v in event.metadata}


# ================================================================ definition
def test_direct_call_creates_an_external_asset():
    handler = Source()
    source = rs.Asset.external(name="source_table", io_handler=handler, kinds="table", tags=["ext"],
                               group="sources", metadata={"path": "s3://bucket/table"})
    assert isinstance(source, rs.ExternalAsset)
    assert isinstance(source, rs.Asset)
    assert (source.is_single, source.is_multi, source.is_graph, source.is_external) == (False, False, False, True)
    assert source.name == "source_table"
    assert source.observe_fn is None
    assert source.io_handler is handler
    assert source.kinds == ["table"]
    assert source.tags == ["ext"]
    assert source.group == "sources"
    assert source.metadata == {"path": "s3://bucket/table"}


def test_decorator_form_attaches_the_observe_function_and_takes_its_name():
    def source_table(context: rs.AssetExecutionContext):
        context.add_output_metadata({"row_count": rs.MetadataValue.int(42_000)})

    decorated = rs.Asset.external(io_handler=Source())(source_table)
    assert isinstance(decorated, rs.ExternalAsset)
    assert decorated.name == "source_table"
    assert decorated.observe_fn is source_table


def test_calling_a_named_external_asset_with_a_function_attaches_it():
    ext = rs.Asset.external(name="src", io_handler=Source())

    def observe():
        return None

    bound = ext(observe)
    assert bound is ext
    assert ext.observe_fn is observe
    assert ext.name == "src"


def test_wraps_argument_sets_the_observe_function():
    def observe():
        return None

    ext = rs.Asset.external(observe, io_handler=Source())
    assert ext.observe_fn is observe
    assert ext.name == "observe"


def test_async_observe_function_is_async():
    async def observe():
        return None

    assert rs.Asset.external(observe, io_handler=Source()).is_async


def test_external_requires_an_io_handler():
    with pytest.raises(AssetDefinitionError, match="External assets require an io_handler"):
        rs.Asset.external(name="src")


@pytest.mark.parametrize("bad", [object(), 42, Source])
def test_external_io_handler_must_be_a_base_io_handler(bad):
    with pytest.raises(AssetDefinitionError, match="BaseIOHandler"):
        rs.Asset.external(name="src", io_handler=bad)


@pytest.mark.parametrize("option", ["code_version", "deps", "hooks", "retry", "pool", "backfill_strategy"])
def test_external_has_no_compute_options(option):
    with pytest.raises(TypeError):
        rs.Asset.external(name="src", io_handler=Source(), **{option: None})


def test_external_with_non_str_static_metadata_is_a_type_error():
    with pytest.raises(TypeError):
        rs.Asset.external(name="src", io_handler=Source(), metadata={"rows": 1})


# =============================================================== loading
def test_downstream_loads_an_external_through_its_handler():
    handler = Source({"raw": [1, 2, 3]})
    raw = rs.Asset.external(name="raw", io_handler=handler, metadata={"path": "p"})

    @rs.Asset
    def total(raw: list) -> int:
        return sum(raw)

    repo = make_repo(raw, total)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("total") == 6
    assert handler.writes == []  # never computed, never written
    (ctx,) = handler.loads
    assert (ctx.asset_name, ctx.downstream_asset, ctx.asset_metadata, ctx.type_hint) == ("raw", "total", {"path": "p"},
                                                                                           list)


def test_external_without_observe_is_excluded_from_materialize():
    raw = rs.Asset.external(name="raw", io_handler=Source({"raw": 1}))

    @rs.Asset
    def down(raw: int) -> int:
        return raw

    repo = make_repo(raw, down)
    result = repo.materialize()
    assert result.materialized_assets == ["down"]
    kinds = {e.asset_key for e in repo.storage.get_events_for_run(result.run_id)}
    assert kinds == {"down"}


def test_selecting_an_unobservable_external_is_an_error():
    raw = rs.Asset.external(name="raw", io_handler=Source({"raw": 1}))
    repo = make_repo(raw)
    with pytest.raises(ExecutionError, match="Cannot materialize external asset without observe function: 'raw'"):
        repo.materialize(selection=["raw"])


def test_downstream_of_an_external_can_be_selected_alone():
    raw = rs.Asset.external(name="raw", io_handler=Source({"raw": 2}))

    @rs.Asset
    def down(raw: int) -> int:
        return raw * 2

    repo = make_repo(raw, down)
    assert repo.materialize(selection=["down"]).materialized_assets == ["down"]
    assert repo.load_node("down") == 4


def test_include_upstream_filters_out_unobservable_externals():
    raw = rs.Asset.external(name="raw", io_handler=Source({"raw": 2}))

    @rs.Asset
    def mid(raw: int) -> int:
        return raw + 1

    @rs.Asset
    def down(mid: int) -> int:
        return mid + 1

    repo = make_repo(raw, mid, down)
    result = repo.materialize(selection=["down"], include_upstream=True)
    assert result.materialized_assets == ["mid", "down"]
    assert repo.load_node("down") == 4


def test_load_node_of_an_external_uses_its_handler():
    raw = rs.Asset.external(name="raw", io_handler=Source({"raw": "data"}))
    repo = make_repo(raw)
    assert repo.load_node("raw") == "data"
    assert repo.io_handler_for_output("raw") is raw.io_handler


def test_external_is_listed_in_repo_assets():
    raw = rs.Asset.external(name="raw", io_handler=Source())
    repo = make_repo(raw)
    assert repo.assets == {"raw": raw}


def test_external_with_a_string_handler_reference():
    handler = Source({"raw": 5})
    raw = rs.Asset.external(name="raw", io_handler="store")

    @rs.Asset
    def down(raw: int) -> int:
        return raw

    repo = make_repo(raw, down, resources={"store": handler})
    repo.materialize()
    assert repo.load_node("down") == 5


# ============================================================= observable
def test_observable_external_is_included_and_records_an_observation():
    calls = []

    @rs.Asset.external(io_handler=Source({"src": 1}))
    def src(context: rs.AssetExecutionContext):
        calls.append(context.asset_name)
        context.add_output_metadata({"rows": 10})

    @rs.Asset
    def down(src: int) -> int:
        return src

    repo = make_repo(src, down)
    result = repo.materialize()
    assert result.success
    assert calls == ["src"]
    assert result.materialized_assets == ["src", "down"]
    events = [(e.event_type, e.asset_key) for e in repo.storage.get_events_for_run(result.run_id)]
    assert events[:3] == [("StepStart", "src"), ("Observation", "src"), ("StepSuccess", "src")]
    observation = [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "Observation"][0]
    assert meta(observation) == {"rows": {"Int": {"value": 10}}}
    assert src.io_handler.writes == []


def test_observable_external_can_be_selected():
    @rs.Asset.external(io_handler=Source())
    def src():
        return rs.Observation(data_version="v1")

    repo = make_repo(src)
    result = repo.materialize(selection=["src"])
    assert result.materialized_assets == ["src"]
    observation = [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "Observation"][0]
    assert observation.data_version == "v1"


def test_observation_metadata_wins_over_context_metadata_in_a_run():
    @rs.Asset.external(io_handler=Source())
    def src(context: rs.AssetExecutionContext):
        context.add_output_metadata({"a": 1, "b": "ctx"})
        return rs.Observation(metadata={"b": "obs"})

    repo = make_repo(src)
    run_id = repo.materialize().run_id
    observation = [e for e in repo.storage.get_events_for_run(run_id) if e.event_type == "Observation"][0]
    assert meta(observation) == {"a": {"Int": {"value": 1}}, "b": {"Text": {"value": "obs"}}}


def test_failing_observe_step_skips_downstream():
    @rs.Asset.external(io_handler=Source({"src": 1}))
    def src():
        raise ValueError("cannot observe")

    @rs.Asset
    def down(src: int) -> int:
        return src

    result = make_repo(src, down).materialize(raise_on_error=False)
    assert result.failed_assets == [("src", "ValueError: cannot observe"),
                                    ("down", "ExecutionError: Skipped: upstream dependency failed")]


def test_automation_condition_without_observe_function_is_rejected_at_validate():
    raw = rs.Asset.external(name="raw", io_handler=Source(), automation_condition=object())
    with pytest.raises(AssetDefinitionError, match="no observe function"):
        rs.CodeRepository(assets=[raw]).validate()


def test_automation_condition_with_observe_function_is_accepted():
    def raw():
        return None

    ext = rs.Asset.external(raw, io_handler=Source(), automation_condition=object())
    rs.CodeRepository(assets=[ext]).validate()


# ================================================================ observe()
def test_observe_runs_every_observe_function_and_returns_metadata():
    @rs.Asset.external(io_handler=Source())
    def with_meta(context: rs.AssetExecutionContext):
        context.add_output_metadata({"rows": 3})

    @rs.Asset.external(io_handler=Source())
    def without_meta():
        return None

    plain = rs.Asset.external(name="plain", io_handler=Source())

    repo = make_repo(with_meta, without_meta, plain)
    observed = repo.observe()
    assert observed == {"with_meta": {"rows": rs.MetadataValue.int(3)}, "without_meta": None}


def test_observe_filters_by_name_and_ignores_unknown_names():
    calls = []

    @rs.Asset.external(io_handler=Source())
    def a():
        calls.append("a")

    @rs.Asset.external(io_handler=Source())
    def b():
        calls.append("b")

    repo = make_repo(a, b)
    assert set(repo.observe(["b", "nope"])) == {"b"}
    assert calls == ["b"]


def test_observe_merges_context_and_observation_metadata_and_stores_an_event():
    @rs.Asset.external(io_handler=Source())
    def src(context: rs.AssetExecutionContext):
        context.add_output_metadata({"a": 1, "b": "ctx"})
        return rs.Observation(metadata={"b": "obs"}, data_version="2024-03-16")

    repo = make_repo(src)
    observed = repo.observe()
    assert observed == {"src": {"a": rs.MetadataValue.int(1), "b": rs.MetadataValue.text("obs")}}
    stored = [e for e in repo.storage.get_events_for_asset("src") if e.event_type == "Observation"]
    assert len(stored) == 1
    assert stored[0].run_id == ""
    assert stored[0].data_version == "2024-03-16"


def test_observe_calls_functions_without_context_with_no_arguments():
    got = []

    @rs.Asset.external(io_handler=Source())
    def src():
        got.append("called")
        return rs.Observation(metadata={"n": 1})

    assert make_repo(src).observe() == {"src": {"n": rs.MetadataValue.int(1)}}
    assert got == ["called"]


def test_observe_awaits_async_functions():
    @rs.Asset.external(io_handler=Source())
    async def src(context: rs.AssetExecutionContext):
        context.add_output_metadata({"n": 2})

    assert make_repo(src).observe() == {"src": {"n": rs.MetadataValue.int(2)}}


def test_observe_without_observable_externals_returns_an_empty_dict():
    @rs.Asset
    def a():
        return 1

    plain = rs.Asset.external(name="plain", io_handler=Source())
    assert make_repo(a, plain).observe() == {}


def test_observe_wraps_errors_in_runtime_error():
    @rs.Asset.external(io_handler=Source())
    def src():
        raise ValueError("boom")

    with pytest.raises(RuntimeError, match="observe failed for asset 'src': boom"):
        make_repo(src).observe()


def test_async_observe_step_in_a_run():
    @rs.Asset.external(io_handler=Source())
    async def src(context: rs.AssetExecutionContext):
        context.add_output_metadata({"n": 5})

    repo = make_repo(src)
    result = repo.materialize()
    observation = [e for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "Observation"][0]
    assert meta(observation) == {"n": {"Int": {"value": 5}}}
