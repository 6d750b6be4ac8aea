"""Result wrappers, return-type validation and parameter inference."""

from __future__ import annotations

import sys
import types
import uuid
from typing import Any, Optional
import pytest
import rivers as rs
from rivers.exceptions import AssetOutputValidationError, ExecutionError, GraphValidationError
from support import Recorder, make_repo
from assets_support import events, materialization, meta


# ============================================================ result wrappers
def test_output_repr_with_value_metadata_and_version():
    assert repr(rs.Output(1, metadata={"a": 1}, data_version="v")) == (
        "Output(has_value=true, has_metadata=true, data_version='v')"
    )


def test_output_repr_empty():
    assert repr(rs.Output()) == "Output(has_value=false, has_metadata=false)"


def test_output_repr_shows_output_name_when_set():
    r = repr(rs.Output(value=42, output_name="out", data_version="v1", metadata={"k": "v"}))
    assert r == "Output(output_name='out', has_value=true, has_metadata=true, data_version='v1')"


def test_output_repr_metadata_flag_for_empty_dict():
    assert repr(rs.Output(1, metadata={})) == "Output(has_value=true, has_metadata=false)"


def test_observation_repr():
    assert repr(rs.Observation()) == "Observation()"
    assert repr(rs.Observation(output_name="x")) == "Observation(output_name='x')"


def test_materialization_repr():
    assert repr(rs.Materialization(output_name="o", metadata={"a": 1})) == (
        "Materialization(output_name='o', has_metadata=true)"
    )
    assert repr(rs.Materialization()) == "Materialization()"
    assert repr(rs.Materialization(data_version="v1", metadata={"k": "v"})) == (
        "Materialization(has_metadata=true, data_version='v1')"
    )


def test_result_wrapper_defaults():
    o, obs, m = rs.Output(), rs.Observation(), rs.Materialization()
    assert (o.value, o.output_name, o.metadata, o.data_version, o.tags) == (None, None, None, None, None)
    assert (obs.output_name, obs.metadata, obs.data_version) == (None, None, None)
    assert (m.output_name, m.metadata, m.data_version, m.tags) == (None, None, None, None)


def test_output_without_value_stores_none():
    @rs.Asset
    def a() -> rs.Output:
        return rs.Output(metadata={"status": "done"})

    repo = make_repo(a)
    repo.materialize()
    assert repo.load_node("a") is None


def test_output_attributes_are_raw():
    metadata = {"n": 1, "t": rs.MetadataValue.text("x")}
    out = rs.Output([1], output_name="o", metadata=metadata, data_version="v1", tags=["a"])
    assert out.value == [1]
    assert out.output_name == "o"
    assert out.metadata is metadata  # raw dict as given, not coerced
    assert out.data_version == "v1"
    assert out.tags == ["a"]


def test_output_only_value_is_positional():
    with pytest.raises(TypeError):
        rs.Output(1, "o")


def test_observation_and_materialization_are_keyword_only_and_have_no_value():
    with pytest.raises(TypeError):
        rs.Observation({"a": 1})
    with pytest.raises(TypeError):
        rs.Observation(value=1)
    with pytest.raises(TypeError):
        rs.Materialization({"a": 1})
    with pytest.raises(TypeError):
        rs.Observation(tags=["x"])
    m = rs.Materialization(output_name="o", metadata={"a": 1}, data_version="v", tags=["t"])
    assert (m.output_name, m.metadata, m.data_version, m.tags) == ("o", {"a": 1}, "v", ["t"])
    o = rs.Observation(output_name="o", metadata={"a": 1}, data_version="v")
    assert (o.output_name, o.metadata, o.data_version) == ("o", {"a": 1}, "v")


def test_output_value_is_unwrapped_for_the_handler_and_downstream():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def up() -> rs.Output:
        return rs.Output([1, 2], metadata={"rows": 2}, data_version="v7")

    @rs.Asset
    def down(up: list) -> int:
        return len(up)

    repo = make_repo(up, down)
    result = repo.materialize()
    assert handler.writes == [("up", [1, 2])]
    assert repo.load_node("down") == 2
    event = materialization(repo, result.run_id, "up")
    assert event.data_version == "v7"
    assert meta(event)["rows"] == {"Int": {"value": 2}}


def test_output_name_on_a_single_asset_is_ignored():
    @rs.Asset
    def a():
        return rs.Output(3, output_name="something_else")

    repo = make_repo(a)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("a") == 3
    materialization(repo, result.run_id, "a")


def test_single_asset_returning_none_stores_none():
    @rs.Asset
    def nothing():
        return None

    repo = make_repo(nothing)
    assert repo.materialize().success
    assert repo.load_node("nothing") is None


def test_sync_generator_single_asset_stores_the_generator_object():
    @rs.Asset
    def gen():
        yield 1

    repo = make_repo(gen)
    assert repo.materialize().success
    assert isinstance(repo.load_node("gen"), types.GeneratorType)


def test_single_asset_returning_observation_records_observation_and_writes_nothing():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def watched():
        return rs.Observation(metadata={"rows": 5}, data_version="obs-1")

    repo = make_repo(watched)
    result = repo.materialize()
    assert result.success
    assert handler.writes == []
    kinds = [e.event_type for e in events(repo, result.run_id, "watched")]
    assert kinds == ["StepStart", "Observation", "StepSuccess"]
    obs = [e for e in events(repo, result.run_id, "watched") if e.event_type == "Observation"][0]
    assert obs.data_version == "obs-1"
    assert meta(obs) == {"rows": {"Int": {"value": 5}}}


def test_materialization_result_records_event_without_calling_handle_output():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def push(context: rs.AssetExecutionContext) -> rs.Materialization:
        context.add_output_metadata({"from_ctx": 1, "both": "ctx"})
        return rs.Materialization(metadata={"status": 200, "both": "wrapper"}, data_version="etag-1")

    repo = make_repo(push)
    result = repo.materialize()
    assert result.success
    assert handler.writes == []
    event = materialization(repo, result.run_id, "push")
    assert event.data_version == "etag-1"
    assert meta(event) == {"from_ctx": {"Int": {"value": 1}}, "both": {"Text": {"value": "wrapper"}},
                           "status": {"Int": {"value": 200}}}
    with pytest.raises(KeyError):
        handler.load_input(rs.InputContext("push", "__load_node__"))


def test_materialization_wrapper_data_version_beats_context_registered_version():
    @rs.Asset
    def push(context: rs.AssetExecutionContext):
        context.register_data_version("ctx")
        return rs.Materialization(data_version="wrapper")

    repo = make_repo(push)
    result = repo.materialize()
    assert materialization(repo, result.run_id, "push").data_version == "wrapper"


def test_wrapper_metadata_that_cannot_be_coerced_fails_the_step():
    @rs.Asset
    def bad():
        return rs.Output(1, metadata={"obj": object()})

    repo = make_repo(bad)
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    (name, message), = result.failed_assets
    assert name == "bad"
    assert message.startswith("TypeError: Cannot coerce")


def test_wrapper_metadata_failure_raises_type_error_with_raise_on_error():
    @rs.Asset
    def bad():
        return rs.Output(1, metadata={"obj": object()})

    with pytest.raises(TypeError, match="Cannot coerce"):
        make_repo(bad).materialize()


# ------------------------------------------------------ return-type validation
def test_return_annotation_mismatch_fails_with_output_validation_error():
    @rs.Asset
    def typed() -> int:
        return "not an int"

    with pytest.raises(AssetOutputValidationError) as info:
        make_repo(typed).materialize()
    message = str(info.value)
    assert "Asset 'typed' returned value of type 'str' but expected 'int'" in message


def test_return_annotation_is_checked_on_the_unwrapped_output_value():
    @rs.Asset
    def typed() -> int:
        return rs.Output("nope")

    with pytest.raises(AssetOutputValidationError):
        make_repo(typed).materialize()


def test_return_annotation_of_a_wrapper_class_is_not_checked():
    @rs.Asset
    def typed() -> rs.Output:
        return rs.Output("anything")

    assert make_repo(typed).materialize().success


def test_generic_alias_checks_only_the_origin():
    @rs.Asset
    def typed() -> list[int]:
        return ["a"]

    @rs.Asset
    def wrong() -> list[int]:
        return {"a": 1}

    repo = make_repo(typed, wrong)
    result = repo.materialize(raise_on_error=False)
    assert [name for name, _ in result.failed_assets] == ["wrong"]
    assert "AssetOutputValidationError" in result.failed_assets[0][1]


@pytest.mark.parametrize(
    ("annotation", "value", "ok"),
    [
        (Optional[int], None, True),
        (Optional[int], 3, True),
        (Optional[int], "x", False),
        (int | str, "x", True),
        (int | str, 1.5, False),
        (Any, object(), True),
        (None, 5, True),  # a literal -> None annotation is not checked
        (bool, True, True),
        (float, 1, False),
        (dict[str, int], {"a": "b"}, True),
        (int, None, False),
        (int | None, None, True),
        (list, "a string", False),
    ],
)
def test_return_annotation_variants(annotation, value, ok):
    def fn():
        return value

    fn.__annotations__["return"] = annotation
    asset = rs.Asset(fn, name="typed")
    result = make_repo(asset).materialize(raise_on_error=False)
    assert result.success is ok, result.failed_assets


def test_return_annotation_with_a_local_class():
    class MyData:
        pass

    @rs.Asset
    def good() -> MyData:
        return MyData()

    @rs.Asset
    def bad() -> MyData:
        return 42

    result = make_repo(good, bad).materialize(raise_on_error=False)
    assert [name for name, _ in result.failed_assets] == ["bad"]
    assert "but expected 'MyData'" in result.failed_assets[0][1]


def test_string_annotations_are_evaluated_before_checking():
    source = (
        "from __future__ import annotations\n"
        "import rivers as rs\n"
        "class Cfg:\n"
        "    pass\n"
        "@rs.Asset\n"
        "def good() -> int:\n"
        "    return 1\n"
        "@rs.Asset\n"
        "def bad() -> int:\n"
        "    return 'x'\n"
        "@rs.Asset\n"
        "def ctx_first(context: rs.AssetExecutionContext, good: int) -> int:\n"
        "    return context.asset_name == 'ctx_first' and good\n"
    )
    module = types.ModuleType("future_annotations_assets")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, module.__name__, "exec"), module.__dict__)
        repo = make_repo(module.good, module.bad, module.ctx_first)
        result = repo.materialize(raise_on_error=False)
    finally:
        del sys.modules[module.__name__]
    assert [name for name, _ in result.failed_assets] == ["bad"]
    assert result.failed_assets[0][1].startswith("AssetOutputValidationError")
    assert repo.load_node("ctx_first") == 1


# ------------------------------------------------------- parameter inference
def test_parameters_with_defaults_and_varargs_are_not_dependencies():
    @rs.Asset
    def a(x=3, *args, y=4, **kwargs) -> int:
        return x + y

    repo = make_repo(a)
    repo.materialize()
    assert repo.load_node("a") == 7


def test_parameter_named_like_its_own_asset_is_a_graph_error():
    @rs.Asset
    def foo(foo):
        return 1

    with pytest.raises(GraphValidationError, match=r"Asset 'foo': depends on itself; use SelfDependency\[T\]"):
        rs.CodeRepository(assets=[foo]).validate()


def test_self_without_self_dependency_annotation_fails_at_run_time():
    @rs.Asset
    def me(self):
        return 1

    repo = make_repo(me)
    with pytest.raises(ExecutionError, match=r"Asset 'me': `self` parameter requires a `SelfDependency\[T\]` annotation"):
        repo.materialize()


def test_data_version_defaults_to_a_random_uuid4():
    @rs.Asset
    def a():
        return 1

    repo = make_repo(a)
    first = materialization(repo, repo.materialize().run_id, "a").data_version
    second = materialization(repo, repo.materialize().run_id, "a").data_version
    assert first != second
    assert uuid.UUID(first).version == 4
