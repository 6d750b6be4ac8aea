"""``Asset.from_graph``, ``Task`` and ``BashTask``.

Spec: assets.md §2.2, §8; io.md §4 (handler chain of graph internals).
"""

import sys
from typing import Any

import pytest

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    GraphValidationError,
    NodeNotFoundError,
    TaskDefinitionError,
)
from support import Recorder


def make_repo(assets, tasks=(), **kwargs: Any) -> rs.CodeRepository:
    repo = rs.CodeRepository(assets=list(assets), tasks=list(tasks), **kwargs)
    repo.resolve(rs.Storage.memory())
    return repo


# ==================================================================== tasks
def test_task_decorator_forms_and_properties():
    @rs.Task
    def plain(x: int) -> int:
        return x * 2

    @rs.Task(name="renamed", tags=["t"])
    def other() -> int:
        return 1

    async def coro():
        return 1

    assert isinstance(plain, rs.Task)
    assert plain.name == "plain"
    assert plain.tags is None
    assert plain.is_async is False
    assert other.name == "renamed"
    assert other.tags == ["t"]
    assert rs.Task(coro).is_async is True
    assert rs.Task(coro, name="w").name == "w"


def test_task_called_outside_a_graph_runs_the_function():
    @rs.Task
    def double(x: int) -> int:
        return x * 2

    assert double(4) == 8
    assert double(x=5) == 10


def test_task_keeps_its_io_handler_and_retry():
    handler, policy = Recorder(), rs.RetryPolicy(1)
    task = rs.Task(lambda: 1, name="t", io_handler=handler, retry=policy)
    assert task.io_handler is handler
    assert task.retry is policy
    with pytest.raises(AssetDefinitionError):
        rs.Task(lambda: 1, name="t", io_handler=object())
    with pytest.raises(ValueError):
        rs.Task(lambda: 1, name="t", retry=3)


# ============================================================ graph basics
@rs.Task
def step_a() -> int:
    return 2


@rs.Task
def step_b(x: int) -> int:
    return x * 10


def test_from_graph_returns_a_graph_asset():
    @rs.Asset.from_graph(name="pipeline", group="g")
    def my_pipeline():
        return step_b(step_a())

    assert isinstance(my_pipeline, rs.GraphAsset)
    assert (my_pipeline.is_single, my_pipeline.is_multi, my_pipeline.is_graph, my_pipeline.is_external) == (
        False, False, True, False)
    assert my_pipeline.name == "pipeline"
    assert my_pipeline.group == "g"
    assert my_pipeline.node_io_handler is None


def test_graph_internal_steps_are_namespaced():
    @rs.Asset.from_graph(name="pipeline")
    def my_pipeline():
        return step_b(step_a())

    repo = make_repo([my_pipeline], [step_a, step_b])
    result = repo.materialize()
    assert result.success
    assert result.materialized_assets == ["pipeline/step_a", "pipeline/step_b", "pipeline"]
    assert repo.load_node("pipeline") == 20
    assert repo.load_node("pipeline/step_a") == 2
    assert repo.load_node("pipeline/step_b") == 20
    keys = [(e.event_type, e.asset_key) for e in repo.storage.get_events_for_run(result.run_id)]
    assert keys == [
        ("StepStart", "pipeline/step_a"), ("Materialization", "pipeline/step_a"), ("StepSuccess", "pipeline/step_a"),
        ("StepStart", "pipeline/step_b"), ("Materialization", "pipeline/step_b"), ("StepSuccess", "pipeline/step_b"),
        ("StepStart", "pipeline"), ("Materialization", "pipeline"), ("StepSuccess", "pipeline"),
    ]


def test_repo_assets_lists_the_graph_but_not_its_internals():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    repo = make_repo([g], [step_a, step_b])
    assert list(repo.assets) == ["g"]
    assert repo.assets["g"] is g


def test_graph_body_runs_once_at_definition_time():
    calls = []

    @rs.Task
    def t() -> int:
        calls.append("task")
        return 1

    def body():
        calls.append("body")
        return t()

    graph = rs.Asset.from_graph(body, name="g")
    assert calls == ["body"]
    repo = make_repo([graph], [t])
    repo.materialize()
    repo.materialize()
    assert calls == ["body", "task", "task"]


def test_graph_parameters_depend_on_outer_assets():
    @rs.Asset
    def source() -> int:
        return 7

    @rs.Asset.from_graph
    def g(source: int):
        return step_b(source)

    repo = make_repo([source, g], [step_b])
    result = repo.materialize()
    assert result.materialized_assets == ["source", "g/step_b", "g"]
    assert repo.load_node("g") == 70


def test_keyword_wiring_and_positional_wiring():
    @rs.Task
    def combine(left: int, right: int) -> int:
        return left * 100 + right

    @rs.Task
    def one() -> int:
        return 1

    @rs.Task
    def two() -> int:
        return 2

    @rs.Asset.from_graph
    def kw():
        return combine(right=one(), left=two())

    @rs.Asset.from_graph
    def pos():
        return combine(two(), one())

    repo = make_repo([kw, pos], [combine, one, two])
    repo.materialize()
    assert repo.load_node("kw") == 201
    assert repo.load_node("pos") == 201


def test_unbound_task_parameter_resolves_by_name_in_the_outer_graph():
    @rs.Asset
    def source() -> int:
        return 3

    @rs.Task
    def uses_source(source: int) -> int:
        return source + 1

    @rs.Asset.from_graph
    def g():
        return uses_source()

    repo = make_repo([source, g], [uses_source])
    repo.materialize()
    assert repo.load_node("g") == 4


def test_calling_an_asset_in_a_graph_body_references_the_outer_asset():
    @rs.Asset
    def up() -> int:
        return 5

    @rs.Asset.from_graph
    def g():
        return step_b(up())

    repo = make_repo([up, g], [step_b])
    result = repo.materialize()
    assert result.materialized_assets == ["up", "g/step_b", "g"]
    assert repo.load_node("g") == 50


def test_task_resources_are_injected_by_name():
    class Api(rs.Resource):
        url: str = "u"

    @rs.Task
    def fetch(api) -> str:
        return api.url

    @rs.Asset.from_graph
    def g():
        return fetch()

    repo = make_repo([g], [fetch], resources={"api": Api(url="http://x")})
    repo.materialize()
    assert repo.load_node("g") == "http://x"


def test_graph_returning_a_graph_parameter_passes_the_outer_asset_through():
    @rs.Asset.from_graph()
    def g(inner: int) -> int:
        return inner

    @rs.Asset
    def inner() -> int:
        return 1

    repo = make_repo([g, inner])
    result = repo.materialize()
    assert result.materialized_assets == ["inner", "g"]
    assert repo.load_node("g") == 1


def test_graph_returning_nothing_has_no_stored_value():
    @rs.Task
    def side() -> int:
        return 1

    @rs.Asset.from_graph
    def g():
        side()

    repo = make_repo([g], [side])
    result = repo.materialize()
    assert result.success
    assert repo.load_node("g/side") == 1
    with pytest.raises(KeyError):
        repo.load_node("g")


def test_graph_body_must_return_a_task_output_or_nothing():
    with pytest.raises(AssetDefinitionError):
        @rs.Asset.from_graph
        def g():
            return 5


def test_constant_task_argument_is_rejected():
    with pytest.raises(AssetDefinitionError):
        @rs.Asset.from_graph
        def g():
            return step_b(5)


def test_too_many_task_arguments_are_rejected():
    with pytest.raises(AssetDefinitionError):
        @rs.Asset.from_graph
        def g():
            a = step_a()
            return step_b(a, a)


def test_mapping_an_unbound_task_is_rejected_in_the_graph_body():
    # it used to be recorded, and building the graph failed with an AttributeError on its missing signature
    unbound = rs.Task(name="per_item")
    with pytest.raises(TaskDefinitionError, match=r"Task 'per_item' is not bound to a function"):
        @rs.Asset.from_graph
        def g():
            return step_a().map(unbound).collect()


def test_same_task_twice_in_one_graph_depends_on_itself():
    with pytest.raises(GraphValidationError, match=r"Asset 'g/step_a': depends on itself"):
        @rs.Asset.from_graph
        def g():
            step_a()
            return step_a()


def test_unregistered_task_is_an_unresolved_input():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    with pytest.raises(GraphValidationError, match=r"Asset 'g': unresolved input 'g/step_a'"):
        rs.CodeRepository(assets=[g], tasks=[step_b]).validate()


def test_same_task_in_two_graphs():
    @rs.Asset.from_graph
    def g1():
        return step_b(step_a())

    @rs.Asset.from_graph
    def g2():
        return step_b(step_a())

    repo = make_repo([g1, g2], [step_a, step_b])
    result = repo.materialize()
    assert result.success
    assert {"g1/step_a", "g2/step_a", "g1/step_b", "g2/step_b"} <= set(result.materialized_assets)
    assert repo.load_node("g1") == repo.load_node("g2") == 20


def test_downstream_asset_reads_the_graph_value():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    @rs.Asset
    def after(g: int) -> int:
        return g + 1

    repo = make_repo([g, after], [step_a, step_b])
    repo.materialize()
    assert repo.load_node("after") == 21


# ===================================================================== handlers
def test_internal_handler_precedence_node_io_handler_first():
    node_handler, task_handler, graph_handler = Recorder(), Recorder(), Recorder()

    @rs.Task(io_handler=task_handler)
    def own() -> int:
        return 1

    @rs.Asset.from_graph(io_handler=graph_handler, node_io_handler=node_handler)
    def g():
        return own()

    repo = make_repo([g], [own])
    assert g.node_io_handler is node_handler
    assert repo.io_handler_for_output("g/own") is node_handler
    assert repo.io_handler_for_output("g") is graph_handler


def test_internal_handler_falls_back_to_the_task_handler():
    task_handler, graph_handler = Recorder(), Recorder()

    @rs.Task(io_handler=task_handler)
    def own() -> int:
        return 1

    @rs.Asset.from_graph(io_handler=graph_handler)
    def g():
        return own()

    repo = make_repo([g], [own])
    assert repo.io_handler_for_output("g/own") is task_handler


def test_graph_io_handler_is_not_a_fallback_for_internal_tasks():
    graph_handler = Recorder()

    @rs.Asset.from_graph(io_handler=graph_handler)
    def g():
        return step_b(step_a())

    repo = make_repo([g], [step_a, step_b])
    default = repo.io_handler_for_output("g/step_a")
    assert default is not graph_handler
    assert isinstance(default, rs.InMemoryIOHandler)
    assert repo.io_handler_for_output("g/step_b") is default


def test_graph_io_handler_dual_write():
    node_handler, graph_handler = Recorder(), Recorder()

    @rs.Asset.from_graph(io_handler=graph_handler, node_io_handler=node_handler)
    def g():
        return step_b(step_a())

    repo = make_repo([g], [step_a, step_b])
    repo.materialize()
    assert graph_handler.writes == [("g", 20)]
    assert node_handler.writes == [("g/step_a", 2), ("g/step_b", 20)]
    assert repo.load_node("g") == 20
    assert repo.load_node("g/step_b") == 20


def test_node_io_handler_may_be_a_resource_name():
    files = Recorder()

    @rs.Asset.from_graph(node_io_handler="files")
    def g():
        return step_b(step_a())

    assert g.node_io_handler is None  # a string reference reads back as None
    repo = make_repo([g], [step_a, step_b], resources={"files": files})
    repo.materialize()
    assert repo.io_handler_for_output("g/step_a") is files
    assert [name for name, _ in files.writes] == ["g/step_a", "g/step_b"]


def test_graph_input_dep_overrides_propagate_to_internal_tasks():
    loader = Recorder()
    loader.values["source"] = 100

    @rs.Asset
    def source() -> int:
        return 1

    @rs.Asset.from_graph(deps=[rs.AssetDef.input("source", io_handler=loader, metadata={"m": "1"})])
    def g(source: int):
        return step_b(source)

    repo = make_repo([source, g], [step_b])
    repo.materialize()
    assert repo.load_node("g") == 1000
    (ctx,) = loader.loads
    assert ctx.asset_name == "source"
    assert ctx.downstream_asset == "g/step_b"
    assert ctx.asset_metadata == {"m": "1"}


def test_internal_steps_get_the_graph_metadata():
    seen = []

    class MetaRecorder(Recorder):
        def handle_output(self, context, obj):
            seen.append((context.asset_name, context.asset_metadata))
            super().handle_output(context, obj)

    @rs.Asset.from_graph(node_io_handler=MetaRecorder(), metadata={"owner": "team"})
    def g():
        return step_a()

    make_repo([g], [step_a]).materialize()
    assert seen == [("g/step_a", {"owner": "team"})]


# ==================================================================== loading
def test_load_node_of_internals_and_unknown_internal():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    repo = make_repo([g], [step_a, step_b])
    repo.materialize()
    assert repo.load_node("g/step_a") == 2
    with pytest.raises(NodeNotFoundError, match="Node 'g/nope' not found in repository"):
        repo.load_node("g/nope")


def test_internal_step_can_be_selected_alone():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    repo = make_repo([g], [step_a, step_b])
    result = repo.materialize(selection=["g/step_a"])
    assert result.materialized_assets == ["g/step_a"]
    assert repo.load_node("g/step_a") == 2
    with pytest.raises(KeyError):
        repo.load_node("g")


def test_selecting_the_graph_runs_its_internals():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    @rs.Asset
    def unrelated() -> int:
        return 0

    repo = make_repo([g, unrelated], [step_a, step_b])
    result = repo.materialize(selection=["g"])
    assert result.materialized_assets == ["g/step_a", "g/step_b", "g"]


def test_job_with_a_graph_pulls_in_its_internals():
    @rs.Asset.from_graph
    def g():
        return step_b(step_a())

    job = rs.Job("j", assets=[g])
    repo = make_repo([g], [step_a, step_b], jobs=[job])
    result = repo.get_job("j").execute()
    assert result.success
    assert result.materialized_assets == ["g/step_a", "g/step_b", "g"]


# ====================================================================== failures
def test_failing_internal_task_skips_the_graph_and_fires_its_failure_hooks():
    calls = []

    @rs.Hook.failure
    def on_fail(ctx):
        calls.append((ctx.asset_name, ctx.error))

    @rs.Task
    def broken() -> int:
        raise ValueError("inside")

    @rs.Asset.from_graph(hooks=[on_fail])
    def g():
        return step_b(broken())

    repo = make_repo([g], [broken, step_b])
    result = repo.materialize(raise_on_error=False)
    assert result.failed_assets == [
        ("g/broken", "ValueError: inside"),
        ("g/step_b", "ExecutionError: Skipped: upstream dependency failed"),
        ("g", "ExecutionError: Skipped: upstream dependency failed"),
    ]
    assert calls == [("g", "Skipped: upstream dependency failed")]


def test_failing_internal_task_reraises_its_exception():
    @rs.Task
    def broken() -> int:
        raise KeyError("k")

    @rs.Asset.from_graph
    def g():
        return broken()

    with pytest.raises(KeyError):
        make_repo([g], [broken]).materialize()


def test_graph_success_hook_output_is_none():
    calls = []

    @rs.Hook.success
    def on_ok(ctx):
        calls.append((ctx.asset_name, ctx.output))

    @rs.Asset.from_graph(hooks=[on_ok])
    def g():
        return step_a()

    make_repo([g], [step_a]).materialize()
    assert calls == [("g", None)]


def test_internal_task_retry_policy():
    attempts = []

    @rs.Task(retry=rs.RetryPolicy(2))
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 2:
            raise ValueError("again")
        return len(attempts)

    @rs.Asset.from_graph
    def g():
        return flaky()

    repo = make_repo([g], [flaky])
    result = repo.materialize()
    assert repo.load_node("g") == 2
    retries = [e.asset_key for e in repo.storage.get_events_for_run(result.run_id) if e.event_type == "StepRetry"]
    assert retries == ["g/flaky"]


# ===================================================================== contexts
def test_task_context_in_a_graph_is_named_graph_slash_task():
    seen = []

    @rs.Task
    def with_ctx(context: rs.TaskExecutionContext) -> str:
        seen.append(context)
        return context.task_name

    @rs.Asset.from_graph
    def g():
        return with_ctx()

    repo = make_repo([g], [with_ctx])
    result = repo.materialize()
    assert isinstance(seen[0], rs.TaskExecutionContext)
    assert seen[0].task_name == "g/with_ctx"
    assert seen[0].run_id == result.run_id
    assert repo.load_node("g") == "g/with_ctx"


def test_task_config_is_keyed_by_graph_slash_task():
    pydantic = pytest.importorskip("pydantic")

    class Cfg(pydantic.BaseModel):
        n: int = 1

    @rs.Task
    def configured(context: rs.TaskExecutionContext[Cfg]) -> int:
        return context.config.n

    @rs.Asset.from_graph
    def g():
        return configured()

    repo = make_repo([g], [configured])
    repo.materialize(config={"g/configured": {"n": 6}, "configured": {"n": 99}})
    assert repo.load_node("g") == 6


def test_asset_context_annotation_on_a_task_yields_an_asset_context():
    seen = []

    @rs.Task
    def t(context: rs.AssetExecutionContext) -> int:
        seen.append(context)
        return 1

    @rs.Asset.from_graph
    def g():
        return t()

    make_repo([g], [t]).materialize()
    assert isinstance(seen[0], rs.AssetExecutionContext)
    assert seen[0].asset_name == "g/t"


def test_internal_task_return_annotation_is_checked():
    from rivers.exceptions import AssetOutputValidationError

    @rs.Task
    def wrong() -> int:
        return "x"

    @rs.Asset.from_graph
    def g():
        return wrong()

    with pytest.raises(AssetOutputValidationError, match="g/wrong"):
        make_repo([g], [wrong]).materialize()


# ============================================================ standalone tasks
def test_standalone_task_is_a_node():
    @rs.Task
    def standalone() -> int:
        return 9

    @rs.Asset
    def uses(standalone: int) -> int:
        return standalone + 1

    repo = make_repo([uses], [standalone])
    result = repo.materialize()
    assert result.materialized_assets == ["standalone", "uses"]
    assert repo.load_node("standalone") == 9
    assert repo.load_node("uses") == 10
    assert "standalone" not in repo.assets


def test_async_task_in_a_graph():
    @rs.Task
    async def fetch() -> int:
        return 4

    @rs.Asset.from_graph
    def g():
        return step_b(fetch())

    repo = make_repo([g], [fetch, step_b])
    repo.materialize()
    assert repo.load_node("g") == 40


# ===================================================================== BashTask
def test_bash_task_properties():
    task = rs.BashTask("hello", "echo hi", env={"A": "1"}, cwd="/tmp", tags=["sh"])
    assert isinstance(task, rs.Task)
    assert (task.name, task.command, task.env, task.cwd, task.tags) == ("hello", "echo hi", {"A": "1"}, "/tmp", ["sh"])


def test_bash_task_call_returns_stdout_without_trailing_newline():
    assert rs.BashTask("hello", "echo hi")() == "hi"
    assert rs.BashTask("two", "printf 'a\\nb\\n'")() == "a\nb"


def test_bash_task_list_command_is_executed_directly():
    assert rs.BashTask("argv", [sys.executable, "-c", "print('x y')"])() == "x y"


def test_bash_task_env_is_merged_over_the_environment(monkeypatch):
    monkeypatch.setenv("RIVERS_OUTER", "outer")
    task = rs.BashTask("env", 'echo "$RIVERS_OUTER-$RIVERS_INNER"', env={"RIVERS_INNER": "inner"})
    assert task() == "outer-inner"


def test_bash_task_cwd(tmp_path):
    (tmp_path / "sub").mkdir()
    assert rs.BashTask("pwd", "pwd", cwd=str(tmp_path / "sub"))().endswith("/sub")


def test_bash_task_non_zero_exit_is_an_os_error():
    with pytest.raises(OSError, match="Command failed with exit status: 3: bad thing"):
        rs.BashTask("fail", "echo bad thing >&2; exit 3")()


def test_bash_task_command_validation():
    with pytest.raises(TaskDefinitionError, match="command list must not be empty"):
        rs.BashTask("x", [])
    with pytest.raises(TypeError, match="command must be a str or list"):
        rs.BashTask("x", 123)


def test_bash_task_as_a_graph_step():
    shout = rs.BashTask("shout", "echo LOUD")

    @rs.Task
    def lower(text: str) -> str:
        return text.lower()

    @rs.Asset.from_graph
    def g():
        return lower(shout())

    repo = make_repo([g], [shout, lower])
    result = repo.materialize()
    assert result.success
    assert repo.load_node("g/shout") == "LOUD"
    assert repo.load_node("g") == "loud"


def test_failing_bash_task_step_fails_with_os_error():
    bad = rs.BashTask("bad", "exit 4")

    @rs.Asset.from_graph
    def g():
        return bad()

    result = make_repo([g], [bad]).materialize(raise_on_error=False)
    assert result.failed_assets[0][0] == "g/bad"
    assert result.failed_assets[0][1].startswith("OSError: Command failed with exit status: 4")
