"""Checks of a repository's automations at validate/resolve: targets exist, conditions fit their assets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from rivers.automation.conditions import ASSET_MATCHES, IN_LATEST_TIME_WINDOW, AutomationCondition
from rivers.exceptions import AssetDefinitionError, GraphValidationError, ScheduleDefinitionError, SensorDefinitionError

if TYPE_CHECKING:
    from rivers.graph.graph import AssetGraph

__all__ = ["check_automations", "condition_of"]


def condition_of(node: Any) -> AutomationCondition | None:
    """The automation condition declared on a graph node's asset, if any."""
    condition = getattr(node.owner, "automation_condition", None)
    return condition if isinstance(condition, AutomationCondition) else None


def check_automations(schedules: Iterable[Any], sensors: Iterable[Any], jobs: Mapping[str, Any],
                      graph: AssetGraph) -> None:
    """Reject schedules and sensors naming unknown jobs or assets, duplicate names and misplaced conditions."""
    seen: set[str] = set()
    for schedule in schedules:
        _unique(schedule.name, "schedule", seen)
        _check_timeout(schedule, "Schedule", ScheduleDefinitionError)
        if schedule.job_name not in jobs:
            raise ScheduleDefinitionError(
                f"Schedule '{schedule.name}' references unknown job '{schedule.job_name}'. "
                "Define the job and add it to `CodeRepository(jobs=...)`."
            )
    for sensor in sensors:
        _unique(sensor.name, "sensor", seen)
        _check_timeout(sensor, "Sensor", SensorDefinitionError)
        _check_interval(sensor)
        if sensor.job_name is None and not sensor.asset_selection:
            raise SensorDefinitionError(
                f"Sensor '{sensor.name}' must declare either `job_name` or `asset_selection` — "
                "the daemon has no target to dispatch against."
            )
        if sensor.job_name is not None and sensor.job_name not in jobs:
            raise SensorDefinitionError(
                f"Sensor '{sensor.name}' references unknown job '{sensor.job_name}'. "
                "Define the job and add it to `CodeRepository(jobs=...)`."
            )
        for asset in sensor.asset_selection or []:
            if asset not in graph.nodes:
                raise SensorDefinitionError(
                    f"Sensor '{sensor.name}' selects unknown asset '{asset}'; "
                    f"assets: {sorted(graph.nodes)[:20]}"
                )
    for name, node in graph.nodes.items():
        condition = condition_of(node)
        if condition is not None:
            _check_tree(name, node, condition, graph)


def _check_timeout(trigger: Any, kind: str, error: type[Exception]) -> None:
    timeout = trigger.eval_timeout
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise error(f"{kind} '{trigger.name}': eval_timeout must be a positive number of seconds or None, "
                    f"got {timeout!r}")


def _check_interval(sensor: Any) -> None:
    from rivers.storage.pools import parse_duration

    interval = sensor.minimum_interval
    if interval is None:
        return
    try:
        seconds = parse_duration(interval, "minimum_interval")
    except ValueError as problem:
        raise SensorDefinitionError(f"Sensor '{sensor.name}': {problem}") from None
    if seconds <= 0:
        raise SensorDefinitionError(f"Sensor '{sensor.name}': minimum_interval must be longer than 0s, got "
                                    f"{interval!r}")


def _unique(name: str, kind: str, seen: set[str]) -> None:
    if name in seen:
        raise GraphValidationError(f"Duplicate automation name: '{name}' (a {kind}); schedules and sensors "
                                   "need distinct names")
    seen.add(name)


def _check_tree(name: str, node: Any, condition: AutomationCondition, graph: AssetGraph) -> None:
    for sub in _root_scope(condition):
        if sub.kind == IN_LATEST_TIME_WINDOW and not _single_time_window(node.partitions_def):
            raise AssetDefinitionError(
                f"Asset '{name}': {sub.description} needs a single-dimension time-window partitioned asset; "
                f"'{name}' is {'unpartitioned' if node.partitions_def is None else 'partitioned otherwise'}"
            )
    for sub in condition.walk():
        if sub.kind == ASSET_MATCHES:
            for selected in sub.args[0]:
                if selected not in graph.nodes:
                    raise AssetDefinitionError(
                        f"Asset '{name}': automation condition {sub.description} names unknown asset '{selected}'"
                    )


def _root_scope(condition: AutomationCondition) -> Iterable[AutomationCondition]:
    """The nodes evaluated on the asset itself (not inside a dependency aggregate)."""
    yield condition
    if condition.kind in ("any_deps_match", "all_deps_match"):
        return
    for child in condition.children:
        yield from _root_scope(child)


def _single_time_window(partitions_def: Any) -> bool:
    from rivers.partitions.time.window import TimeWindowPartitions

    return isinstance(partitions_def, TimeWindowPartitions)
