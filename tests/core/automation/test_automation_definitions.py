"""AutomationCondition trees, Schedule/Sensor definitions and their synchronous evaluation."""

from __future__ import annotations

import asyncio

import pydantic
import pytest

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    ConfigurationError,
    ExecutionError,
    GraphValidationError,
    NodeNotFoundError,
    ResultDefinitionError,
    ScheduleDefinitionError,
    SensorDefinitionError,
)

A = rs.AutomationCondition

EAGER = ("((missing.newly_true() | any_deps_updated).since_last_handled() & ~any_deps_missing & "
         "~any_deps_in_progress & ~(in_progress | backfill_in_progress) & ~execution_failed)")


# ---------------------------------------------------------------- conditions
def test_presets_have_their_label_and_canonical_description():
    assert A.eager().label == "eager"
    assert A.eager().description == EAGER
    assert repr(A.eager()) == "AutomationCondition(eager)"
    assert A.on_missing().description == (
        "(missing.newly_true().since_last_handled() & ~any_deps_missing & ~execution_failed)")
    cron = A.on_cron("0 * * * *")
    assert cron.label == "on_cron('0 * * * *')"
    assert cron.description == (
        "(cron_tick_passed('0 * * * *').since(((newly_requested | newly_updated) & ~cron_tick_passed('0 * * * *')))"
        " & all_deps_updated_since_cron & ~(in_progress | backfill_in_progress))")
    assert "cron_tick_passed('0 9 * * *', tz='US/Eastern')" in A.on_cron("0 9 * * *", "US/Eastern").description


def test_leaf_descriptions_and_children():
    assert A.missing().children == []
    assert A.in_flight().description == "(in_progress | backfill_in_progress)"
    assert A.in_flight().label == "in_flight"
    assert A.in_latest_time_window().description == "in_latest_time_window"
    assert A.in_latest_time_window(86400).description == "in_latest_time_window(lookback=86400)"
    assert A.last_executed_with_tags(tag_keys=["a"], tag_values={"k": "v"}).description == \
        "last_executed_with_tags(a, k=v)"
    assert A.any_deps_match(A.missing()).description == "any_deps_match(missing)"
    assert A.all_deps_updated_since_cron("0 0 * * *").description == "all_deps_updated_since_cron"
    assert A.missing().on_selected("x").description == "asset_matches('x', missing)"
    assert A.missing().on_selected(["a", "b"]).description == "asset_matches(['a', 'b'], missing)"


def test_combinators_flatten_and_keep_double_negation():
    a, b, c = A.missing(), A.in_progress(), A.newly_updated()
    both = a & b & c
    assert len(both.children) == 3
    assert both.description == "(missing & in_progress & newly_updated)"
    assert (a | b).description == "(missing | in_progress)"
    assert (~~a).description == "~~missing"
    assert repr(a & b) == "AutomationCondition((missing & in_progress))"
    assert a.newly_true().description == "missing.newly_true()"
    assert a.since(b).description == "missing.since(in_progress)"
    assert A.missing() != A.missing()
    with pytest.raises(TypeError):
        _ = a & 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = a | "x"  # type: ignore[operator]


def test_with_label_keeps_the_description():
    labelled = (A.cron_tick_passed("0 3 * * *") & ~A.in_flight()).with_label("nightly_refresh")
    assert labelled.label == "nightly_refresh"
    assert labelled.description == "(cron_tick_passed('0 3 * * *') & ~(in_progress | backfill_in_progress))"
    assert repr(labelled) == "AutomationCondition(nightly_refresh)"


def test_without_drops_top_level_operands_by_text_label_or_structure():
    assert "~any_deps_missing" not in A.eager().without("~any_deps_missing").description
    dropped = A.eager().without(~A.in_flight())
    assert "backfill_in_progress" not in dropped.description
    assert dropped.label == "eager"
    assert A.eager().without("any_deps_missing").description == EAGER
    assert A.eager().without("~in_flight").description == EAGER
    with pytest.raises(ValueError, match="without\\(\\) removed every operand"):
        (A.missing() & A.in_progress()).without("missing").without("in_progress")


def test_replace_matches_description_label_or_structure():
    replaced = A.eager().replace("in_flight", A.in_progress())
    assert "~in_progress & ~execution_failed" in replaced.description
    assert "backfill_in_progress" not in replaced.description
    assert A.eager().replace(A.missing(), A.newly_updated()).description.startswith(
        "((newly_updated.newly_true()")
    assert A.eager().replace("nothing-like-this", A.missing()).description == EAGER


@pytest.mark.parametrize(("build", "message"), [
    (lambda: A.cron_tick_passed("bad"), 'invalid cron schedule "bad"'),
    (lambda: A.on_cron("0 0 * * *", "Mars/Base"), 'invalid timezone "Mars/Base"'),
    (lambda: A.in_latest_time_window(-1), "lookback_delta must be a positive number of seconds, got -1"),
    (lambda: A.in_latest_time_window(float("inf")), "lookback_delta must be a positive number"),
    (lambda: A.has_run_with_tags(), "tag_keys or tag_values"),
    (lambda: A.missing().on_selected([]), "on_selected"),
])
def test_condition_constructor_errors(build, message):
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        build()


def test_in_latest_time_window_needs_a_time_window_asset():
    @rs.Asset(automation_condition=A.in_latest_time_window())
    def plain() -> int:
        return 1

    with pytest.raises(AssetDefinitionError, match="'plain'.*time-window"):
        rs.CodeRepository(assets=[plain]).validate()


# ------------------------------------------------------------------ schedules
@rs.Asset
def feed() -> int:
    return 1


JOB = rs.Job("nightly", assets=[feed], executor=rs.Executor.in_process())


def test_schedule_spec_example():
    @rs.Schedule(cron_schedule="0 2 * * *", job_name="nightly", tags={"team": "data"})
    def nightly(context: rs.ScheduleEvaluationContext):
        return rs.RunRequest(run_key=context.scheduled_execution_time)

    @rs.Sensor(job_name="nightly", minimum_interval="30s")
    def inbox(context: rs.SensorEvaluationContext):
        seen = int(context.cursor or 0)
        if seen >= 3:
            return rs.SkipReason("nothing new")
        return rs.SensorResult(run_requests=[rs.RunRequest(run_key=str(seen + 1))], cursor=str(seen + 1))

    repo = rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=[nightly], sensors=[inbox])
    tick = repo.evaluate_schedule("nightly", execution_time="2025-03-10T02:00:00")
    assert tick.run_requests[0].tags == {"team": "data"}
    assert tick.run_requests[0].run_key == "2025-03-10T02:00:00"
    assert tick.run_requests[0].job_name == "nightly"
    assert repr(tick) == "ScheduleTickResult(schedule='nightly', run_requests=1)"
    sensed = repo.evaluate_sensor("inbox", cursor="1")
    assert sensed.cursor == "2"
    assert repr(sensed) == "SensorTickResult(sensor='inbox', run_requests=1, cursor=Some(\"2\"))"
    assert repo.evaluate_sensor("inbox", cursor="3").skip_reason.message == "nothing new"
    assert repr(nightly) == "Schedule(name='nightly', cron='0 2 * * *', job='nightly')"


def test_schedule_names_and_validation_messages():
    assert rs.Schedule(cron_schedule="0 0 * * *", job_name="j").name == "j_schedule"
    assert rs.Schedule(cron_schedule="0 0 * * *", job_name="j", name="n").name == "n"
    with pytest.raises(ScheduleDefinitionError, match="cron_schedule cannot be empty"):
        rs.Schedule(cron_schedule="", job_name="j")
    with pytest.raises(ScheduleDefinitionError, match='invalid cron_schedule "bad"'):
        rs.Schedule(cron_schedule="bad", job_name="j")
    with pytest.raises(ScheduleDefinitionError, match="job_name cannot be empty"):
        rs.Schedule(cron_schedule="0 0 * * *", job_name="")
    with pytest.raises(ScheduleDefinitionError, match='invalid timezone "X"'):
        rs.Schedule(cron_schedule="0 0 * * *", job_name="j", timezone="X")
    with pytest.raises(ScheduleDefinitionError, match="invalid catch_up"):
        rs.Schedule(cron_schedule="0 0 * * *", job_name="j", catch_up="sometimes")
    with pytest.raises(TypeError):
        rs.Schedule(cron_schedule="0 0 * * *")  # type: ignore[call-arg]
    schedule = rs.Schedule(cron_schedule="0 0 * * *", job_name="missing_job", name="nightly")
    with pytest.raises(ScheduleDefinitionError, match="Schedule 'nightly' references unknown job 'missing_job'. "
                       "Define the job and add it to `CodeRepository\\(jobs=...\\)`."):
        rs.CodeRepository(assets=[feed], schedules=[schedule]).validate()
    assert int(rs.ScheduleStatus.Stopped) == 1 and int(rs.EvalMode.Subprocess) == 2


def test_schedule_return_values():
    def make(result):
        def fn(context: rs.ScheduleEvaluationContext):
            return result() if callable(result) else result
        return rs.Schedule(fn, cron_schedule="* * * * *", job_name="nightly", name="s", tags={"t": "1"})

    def evaluate(result):
        return rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=[make(result)]).evaluate_schedule("s")

    skipped = evaluate(None)
    assert skipped.run_requests == [] and skipped.skip_reason.message == \
        "Eval fn didn't return a RunRequest, no reason provided"
    assert evaluate(rs.SkipReason("quiet")).skip_reason.message == "quiet"
    many = evaluate(lambda: (rs.RunRequest(run_key=str(i), tags={"own": "x"} if i else None) for i in range(2)))
    assert [r.tags for r in many.run_requests] == [{"t": "1"}, {"own": "x"}]  # replaced, not merged
    backfill = evaluate(rs.BackfillRequest(["feed"]))
    assert isinstance(backfill.run_requests[0], rs.BackfillRequest)
    with pytest.raises(ExecutionError, match="Schedule evaluation function must return RunRequest, BackfillRequest, "
                       "SkipReason, list, or None; got int"):
        evaluate(3)
    default_time = evaluate(lambda: rs.RunRequest())
    assert default_time.run_requests[0].job_name == "nightly"
    with pytest.raises(NodeNotFoundError, match="Schedule 'nope' not found"):
        rs.CodeRepository(assets=[feed]).evaluate_schedule("nope")


def test_function_less_schedule_requests_its_job_with_its_tags():
    schedule = rs.Schedule(cron_schedule="* * * * *", job_name="nightly", tags={"a": "b"})
    tick = rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=[schedule]).evaluate_schedule("nightly_schedule")
    assert [(r.job_name, r.tags) for r in tick.run_requests] == [("nightly", {"a": "b"})]


def test_execution_time_defaults_to_epoch_seconds_text():
    seen = []

    @rs.Schedule(cron_schedule="* * * * *", job_name="nightly")
    def when(context: rs.ScheduleEvaluationContext):
        seen.append(context.scheduled_execution_time)

    rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=[when]).evaluate_schedule("when")
    assert seen[0].isdigit()


class Threshold(pydantic.BaseModel):
    limit: int = 7


class Api(rs.Resource):
    url: str = "http://example.invalid"


def test_resources_and_typed_config_are_injected_by_annotation_after_resolve():
    got = {}

    @rs.Schedule(cron_schedule="* * * * *", job_name="nightly")
    def configured(context: rs.ScheduleEvaluationContext[Threshold], api: Api):
        got["limit"] = context.config.limit
        got["api"] = api
        got["log"] = context.log.name

    api = Api()
    repo = rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=[configured], resources={"api": api})
    with pytest.raises(ScheduleDefinitionError, match="Unknown parameter 'api' in schedule 'configured': not a "
                       "context or registered resource"):
        repo.evaluate_schedule("configured")  # resources only after resolve()
    repo.resolve(rs.Storage.memory())
    repo.evaluate_schedule("configured")
    assert got == {"limit": 7, "api": api, "log": "code-repo.schedules.configured"}


def test_unannotated_parameters_are_not_passed():
    @rs.Schedule(cron_schedule="* * * * *", job_name="nightly")
    def bare(context):
        return None

    with pytest.raises(TypeError):
        rs.CodeRepository(assets=[feed], jobs=[JOB], schedules=[bare]).evaluate_schedule("bare")


def test_async_evaluation_functions_are_awaited():
    @rs.Sensor(job_name="nightly")
    async def slow(context: rs.SensorEvaluationContext):
        await asyncio.sleep(0)
        return rs.SensorResult([rs.RunRequest(run_key="k")], cursor="after")

    result = rs.CodeRepository(assets=[feed], jobs=[JOB], sensors=[slow]).evaluate_sensor("slow")
    assert result.cursor == "after" and result.run_requests[0].run_key == "k"


# -------------------------------------------------------------------- sensors
def test_sensor_rules():
    assert rs.Sensor(job_name="j").name == ""
    with pytest.raises(SensorDefinitionError, match="sensor name cannot be empty"):
        rs.Sensor(name="", job_name="j")
    with pytest.raises(ResultDefinitionError, match="SensorResult cannot have both run_requests and skip_reason"):
        rs.SensorResult(run_requests=[rs.RunRequest()], skip_reason="x")
    assert repr(rs.SensorResult(skip_reason="x")) == "SensorResult(skipped, cursor=None)"
    assert isinstance(rs.SensorResult(skip_reason="x").skip_reason, rs.SkipReason)
    with pytest.raises(TypeError, match="partition_key"):
        rs.RunRequest(partition_key=rs.PartitionKey.single("a"))  # type: ignore[arg-type]

    def untargeted(context: rs.SensorEvaluationContext):
        return None

    with pytest.raises(SensorDefinitionError, match="Sensor 's' must declare either `job_name` or `asset_selection`"):
        rs.CodeRepository(assets=[feed], sensors=[rs.Sensor(untargeted, name="s")]).validate()
    with pytest.raises(SensorDefinitionError, match="Sensor 's3' references unknown job 'nojob'"):
        rs.CodeRepository(assets=[feed], sensors=[rs.Sensor(untargeted, name="s3", job_name="nojob")]).validate()
    with pytest.raises(SensorDefinitionError, match="unknown asset 'ghost'"):
        rs.CodeRepository(assets=[feed], sensors=[rs.Sensor(untargeted, name="s4", asset_selection=["ghost"])]
                          ).validate()
    with pytest.raises(GraphValidationError, match="Duplicate automation name: 'twice'"):
        rs.CodeRepository(assets=[feed], jobs=[JOB], sensors=[rs.Sensor(untargeted, name="twice", job_name="nightly"),
                                                             rs.Sensor(untargeted, name="twice", job_name="nightly")]
                          ).validate()


def test_sensor_return_values_and_cursor():
    def repo_with(result):
        def fn(context: rs.SensorEvaluationContext):
            return result
        return rs.CodeRepository(assets=[feed], jobs=[JOB], sensors=[rs.Sensor(fn, name="s", job_name="nightly",
                                                                              tags={"not": "copied"})])

    requested = repo_with([rs.RunRequest(run_key="1")]).evaluate_sensor("s", cursor="c")
    assert requested.cursor is None  # only a SensorResult sets it
    assert requested.run_requests[0].tags is None  # sensor tags are not copied
    assert requested.run_requests[0].job_name == "nightly"
    assert repo_with(None).evaluate_sensor("s").skip_reason.message.startswith("Eval fn didn't return")
    with pytest.raises(ExecutionError, match="Sensor evaluation function must return"):
        repo_with("text").evaluate_sensor("s")
    with pytest.raises(ConfigurationError, match="no evaluation function"):
        rs.CodeRepository(assets=[feed], jobs=[JOB], sensors=[rs.Sensor(name="x", job_name="nightly")]
                          ).evaluate_sensor("x")
    with pytest.raises(NodeNotFoundError, match="Sensor 'nope' not found"):
        rs.CodeRepository(assets=[feed]).evaluate_sensor("nope")


# ------------------------------------------------------------------ cron clock
def test_cron_clock_finds_ticks_after_an_instant_in_a_zone():
    from datetime import datetime, timezone

    from rivers.automation.cron_ticks import CronClock

    def at(*parts: int) -> float:
        return datetime(*parts, tzinfo=timezone.utc).timestamp()

    every_second = CronClock("* * * * * *")
    assert every_second.next_after(at(2025, 3, 10, 23, 59, 59)) == at(2025, 3, 11, 0, 0, 0)
    assert every_second.ticks_between(at(2025, 1, 1, 12, 0, 0), at(2025, 1, 1, 12, 0, 3)) == [
        at(2025, 1, 1, 12, 0, 1), at(2025, 1, 1, 12, 0, 2), at(2025, 1, 1, 12, 0, 3)]
    assert len(every_second.ticks_between(at(2025, 1, 1), at(2025, 1, 2), limit=5)) == 5
    berlin = CronClock("0 2 * * *", "Europe/Berlin")  # 02:00 local: UTC+1 in winter, UTC+2 in summer
    assert berlin.next_after(at(2025, 1, 15, 12)) == at(2025, 1, 16, 1)
    assert berlin.next_after(at(2025, 7, 15, 12)) == at(2025, 7, 16, 0)
    # 2025-03-30 02:00 does not exist in Berlin (spring forward): that day is skipped
    assert berlin.next_after(at(2025, 3, 29, 12)) == at(2025, 3, 31, 0)
    assert CronClock("30 9 * * MON").latest_at_or_before(at(2025, 3, 12), 8 * 86400) == at(2025, 3, 10, 9, 30)
