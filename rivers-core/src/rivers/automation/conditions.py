"""``AutomationCondition``: declarative, immutable per-asset rules the daemon evaluates every tick.

A condition is a tree: leaves read the asset's recorded state (``missing``,
``in_progress``, ``newly_updated``, ...), dependency aggregates read its
upstreams' (``any_deps_missing``, ``any_deps_match(c)``), and combinators
build on them (``&``, ``|``, ``~``, ``newly_true()``, ``since()``,
``since_last_handled()``). What each node means on a tick is implemented by
:mod:`rivers.automation.engine`; this module only builds and edits trees.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ["AutomationCondition"]

# node kinds whose operands are conditions
AND, OR, NOT = "and", "or", "not"
NEWLY_TRUE, SINCE, SINCE_LAST_HANDLED = "newly_true", "since", "since_last_handled"
ASSET_MATCHES, ANY_DEPS_MATCH, ALL_DEPS_MATCH = "asset_matches", "any_deps_match", "all_deps_match"

#: leaves and aggregates with no arguments: kind == description
SIMPLE_LEAVES = (
    "missing", "in_progress", "backfill_in_progress", "execution_failed", "newly_updated", "newly_requested",
    "code_version_changed", "data_version_changed", "initial_evaluation", "will_be_requested",
    "last_run_includes_target", "any_deps_missing", "any_deps_in_progress", "any_deps_updated",
)
CRON_TICK_PASSED, ALL_DEPS_UPDATED_SINCE_CRON = "cron_tick_passed", "all_deps_updated_since_cron"
IN_LATEST_TIME_WINDOW = "in_latest_time_window"
TAG_LEAVES = ("last_executed_with_tags", "has_run_with_tags", "all_runs_have_tags")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _checked_cron(cron_schedule: Any, timezone: Any) -> tuple[str, str | None]:
    from rivers.automation.cron_ticks import check_cron, check_zone

    problem = check_cron(cron_schedule)
    if problem is not None:
        raise ValueError(f'invalid cron schedule "{cron_schedule}": {problem}')
    if timezone is not None:
        problem = check_zone(timezone)
        if problem is not None:
            raise ValueError(f'invalid timezone "{timezone}": {problem}')
    return cron_schedule, timezone


def _tag_args(method: str, tag_keys: Any, tag_values: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    keys = tuple(sorted(tag_keys)) if tag_keys else ()
    values = tuple(sorted(dict(tag_values).items())) if tag_values else ()
    if not keys and not values:
        raise ValueError(f"{method}() needs tag_keys or tag_values (or both); both are empty")
    for key in keys:
        if not isinstance(key, str):
            raise ValueError(f"{method}() tag_keys must be strings, got {key!r}")
    for key, value in values:
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"{method}() tag_values must map strings to strings, got {key!r}: {value!r}")
    return keys, values


class AutomationCondition:
    """An immutable automation rule; build it with the static methods and combine with ``&``, ``|``, ``~``.

    ``label`` is set only by :meth:`with_label` and the presets;
    ``description`` is the canonical text of the tree; ``children`` the
    operands of the top node. Conditions compare by identity.
    """

    __slots__ = ("kind", "args", "operands", "label", "_description")

    def __init__(self, kind: str, children: Iterable[AutomationCondition] = (), args: tuple[Any, ...] = (),
                 label: str | None = None) -> None:
        self.kind = kind
        self.args = args
        self.operands = tuple(children)
        self.label = label
        self._description: str | None = None

    # ----------------------------------------------------------------- members
    @property
    def children(self) -> list[AutomationCondition]:
        """The operands of the top node (``[]`` for leaves)."""
        return list(self.operands)

    @property
    def description(self) -> str:
        """The canonical text of the whole tree (labels are not used)."""
        if self._description is None:
            self._description = self._describe()
        return self._description

    def _describe(self) -> str:
        kind, args, kids = self.kind, self.args, self.operands
        if kind == AND:
            return "(" + " & ".join(child.description for child in kids) + ")"
        if kind == OR:
            return "(" + " | ".join(child.description for child in kids) + ")"
        if kind == NOT:
            return "~" + kids[0].description
        if kind in (NEWLY_TRUE, SINCE_LAST_HANDLED):
            return f"{kids[0].description}.{kind}()"
        if kind == SINCE:
            return f"{kids[0].description}.since({kids[1].description})"
        if kind == ASSET_MATCHES:
            names = args[0]
            shown = _quote(names[0]) if len(names) == 1 and args[1] else "[" + ", ".join(map(_quote, names)) + "]"
            return f"asset_matches({shown}, {kids[0].description})"
        if kind in (ANY_DEPS_MATCH, ALL_DEPS_MATCH):
            return f"{kind}({kids[0].description})"
        if kind == CRON_TICK_PASSED:
            cron, zone = args
            return f"cron_tick_passed({_quote(cron)}" + (f", tz={_quote(zone)})" if zone else ")")
        if kind == IN_LATEST_TIME_WINDOW:
            lookback = args[0]
            if lookback is None:
                return kind
            number = int(lookback) if float(lookback).is_integer() else lookback
            return f"{kind}(lookback={number})"
        if kind in TAG_LEAVES:
            keys, values = args
            return f"{kind}(" + ", ".join([*keys, *(f"{k}={v}" for k, v in values)]) + ")"
        return kind

    def structure(self) -> tuple[Any, ...]:
        """A hashable value equal for structurally equal trees (labels ignored)."""
        return (self.kind, self.args, tuple(child.structure() for child in self.operands))

    def __repr__(self) -> str:
        return f"AutomationCondition({self.label or self.description})"

    def walk(self) -> Iterable[AutomationCondition]:
        """This node and every node below it, in pre-order."""
        yield self
        for child in self.operands:
            yield from child.walk()

    # ------------------------------------------------------------- combinators
    def __and__(self, other: object) -> AutomationCondition:
        if not isinstance(other, AutomationCondition):
            return NotImplemented
        return AutomationCondition(AND, [*self._flat(AND), *other._flat(AND)])

    def __or__(self, other: object) -> AutomationCondition:
        if not isinstance(other, AutomationCondition):
            return NotImplemented
        return AutomationCondition(OR, [*self._flat(OR), *other._flat(OR)])

    def __invert__(self) -> AutomationCondition:
        return AutomationCondition(NOT, [self])

    def _flat(self, kind: str) -> tuple[AutomationCondition, ...]:
        return self.operands if self.kind == kind and self.label is None else (self,)

    def newly_true(self) -> AutomationCondition:
        """True on the tick this condition becomes true (rising edge)."""
        return AutomationCondition(NEWLY_TRUE, [self])

    def since(self, reset_condition: AutomationCondition) -> AutomationCondition:
        """True from a tick this condition is true until ``reset_condition`` is (the reset wins ties)."""
        _check_operand(reset_condition, "since")
        return AutomationCondition(SINCE, [self, reset_condition])

    def since_last_handled(self) -> AutomationCondition:
        """True from a tick this condition is true until the daemon has requested the asset once."""
        return AutomationCondition(SINCE_LAST_HANDLED, [self])

    def on_selected(self, keys: str | list[str]) -> AutomationCondition:
        """Evaluate this condition only on the named assets (false on every other)."""
        single = isinstance(keys, str)
        names = (keys,) if single else tuple(keys)
        if not names:
            raise ValueError("on_selected() needs at least one asset name, got []")
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValueError(f"on_selected() asset names must be non-empty strings, got {name!r}")
        return AutomationCondition(ASSET_MATCHES, [self], (names, single))

    def with_label(self, label: str) -> AutomationCondition:
        """The same tree with ``label`` (shown in reprs and the evaluated tree)."""
        if not isinstance(label, str):
            raise TypeError(f"with_label() takes a str, got {type(label).__name__}")
        return AutomationCondition(self.kind, self.operands, self.args, label)

    def _matches(self, pattern: str | AutomationCondition) -> bool:
        if isinstance(pattern, str):
            return pattern == self.description or (self.label is not None and pattern == self.label)
        return self.structure() == pattern.structure()

    def replace(self, old: str | AutomationCondition, new: AutomationCondition) -> AutomationCondition:
        """Replace every sub-tree matching ``old`` (a description, a label, or a structurally equal tree)."""
        _check_pattern(old, "replace")
        _check_operand(new, "replace")
        if self._matches(old):
            return new
        children = [child.replace(old, new) for child in self.operands]
        if all(a is b for a, b in zip(children, self.operands)):
            return self
        return AutomationCondition(self.kind, children, self.args, self.label)

    def without(self, condition: str | AutomationCondition) -> AutomationCondition:
        """Drop the operands of the top-level ``&`` that match ``condition``; the label is kept."""
        _check_pattern(condition, "without")
        if self.kind != AND:
            return self
        kept = [child for child in self.operands if not child._matches(condition)]
        if not kept:
            raise ValueError("without() removed every operand, leaving an empty condition that would fire on every tick")
        if len(kept) == len(self.operands):
            return self
        return AutomationCondition(AND, kept, (), self.label)

    # ------------------------------------------------------------------ leaves
    @staticmethod
    def missing() -> AutomationCondition:
        """The asset (partition) was never materialized."""
        return AutomationCondition("missing")

    @staticmethod
    def in_progress() -> AutomationCondition:
        """The asset (partition) is part of a run that has not finished."""
        return AutomationCondition("in_progress")

    @staticmethod
    def backfill_in_progress() -> AutomationCondition:
        """The asset (partition) is part of an active backfill."""
        return AutomationCondition("backfill_in_progress")

    @staticmethod
    def in_flight() -> AutomationCondition:
        """``in_progress | backfill_in_progress``."""
        return (AutomationCondition.in_progress() | AutomationCondition.backfill_in_progress()).with_label("in_flight")

    @staticmethod
    def execution_failed() -> AutomationCondition:
        """The latest execution of the asset (partition) failed."""
        return AutomationCondition("execution_failed")

    @staticmethod
    def newly_updated() -> AutomationCondition:
        """A new materialization arrived since the previous tick."""
        return AutomationCondition("newly_updated")

    @staticmethod
    def newly_requested() -> AutomationCondition:
        """The daemon requested the asset (partition) on the previous tick."""
        return AutomationCondition("newly_requested")

    @staticmethod
    def code_version_changed() -> AutomationCondition:
        """The declared code version differs from the one last materialized (stays true until re-materialized)."""
        return AutomationCondition("code_version_changed")

    @staticmethod
    def data_version_changed() -> AutomationCondition:
        """A materialization since the previous tick recorded a different data version."""
        return AutomationCondition("data_version_changed")

    @staticmethod
    def initial_evaluation() -> AutomationCondition:
        """The first evaluation of this tree (no state yet, or the tree changed)."""
        return AutomationCondition("initial_evaluation")

    @staticmethod
    def cron_tick_passed(cron_schedule: str, timezone: str | None = None) -> AutomationCondition:
        """A boundary of ``cron_schedule`` passed since the previous evaluation."""
        return AutomationCondition(CRON_TICK_PASSED, (), _checked_cron(cron_schedule, timezone))

    @staticmethod
    def in_latest_time_window(lookback_delta: float | None = None) -> AutomationCondition:
        """The partition is the latest time window (or starts within ``lookback_delta`` seconds before it)."""
        if lookback_delta is not None:
            bad = isinstance(lookback_delta, bool) or not isinstance(lookback_delta, (int, float))
            if bad or not math.isfinite(lookback_delta) or lookback_delta <= 0:
                raise ValueError(f"lookback_delta must be a positive number of seconds, got {lookback_delta}")
        return AutomationCondition(IN_LATEST_TIME_WINDOW, (), (lookback_delta,))

    @staticmethod
    def will_be_requested() -> AutomationCondition:
        """The asset's own condition already fired earlier in the same tick (use inside ``any_deps_match``)."""
        return AutomationCondition("will_be_requested")

    @staticmethod
    def last_run_includes_target() -> AutomationCondition:
        """The dependency's latest run also covered the evaluated asset (use inside ``any_deps_match``)."""
        return AutomationCondition("last_run_includes_target")

    @staticmethod
    def last_executed_with_tags(*, tag_keys: Iterable[str] | None = None,
                                tag_values: dict[str, str] | None = None) -> AutomationCondition:
        """The latest materializing run carried these tag keys / values."""
        return AutomationCondition("last_executed_with_tags", (),
                                   _tag_args("last_executed_with_tags", tag_keys, tag_values))

    @staticmethod
    def has_run_with_tags(*, tag_keys: Iterable[str] | None = None,
                          tag_values: dict[str, str] | None = None) -> AutomationCondition:
        """A new materialization of this tick came from a run carrying these tags."""
        return AutomationCondition("has_run_with_tags", (), _tag_args("has_run_with_tags", tag_keys, tag_values))

    @staticmethod
    def all_runs_have_tags(*, tag_keys: Iterable[str] | None = None,
                           tag_values: dict[str, str] | None = None) -> AutomationCondition:
        """Every new materialization of this tick came from a run with these tags (true when there is none)."""
        return AutomationCondition("all_runs_have_tags", (), _tag_args("all_runs_have_tags", tag_keys, tag_values))

    # ------------------------------------------------------------- aggregates
    @staticmethod
    def any_deps_missing() -> AutomationCondition:
        """Some dependency (partition this one maps to) was never materialized."""
        return AutomationCondition("any_deps_missing")

    @staticmethod
    def any_deps_in_progress() -> AutomationCondition:
        """Some dependency is part of a run that has not finished."""
        return AutomationCondition("any_deps_in_progress")

    @staticmethod
    def any_deps_updated() -> AutomationCondition:
        """Some dependency was updated outside a run that also covered this asset, or will be requested this tick."""
        return AutomationCondition("any_deps_updated")

    @staticmethod
    def any_deps_match(condition: AutomationCondition) -> AutomationCondition:
        """``condition`` is true on some dependency."""
        _check_operand(condition, "any_deps_match")
        return AutomationCondition(ANY_DEPS_MATCH, [condition])

    @staticmethod
    def all_deps_match(condition: AutomationCondition) -> AutomationCondition:
        """``condition`` is true on every dependency (true without dependencies)."""
        _check_operand(condition, "all_deps_match")
        return AutomationCondition(ALL_DEPS_MATCH, [condition])

    @staticmethod
    def all_deps_updated_since_cron(cron_schedule: str, timezone: str | None = None) -> AutomationCondition:
        """Every dependency was updated (or requested) since the latest tick of ``cron_schedule``."""
        return AutomationCondition(ALL_DEPS_UPDATED_SINCE_CRON, (), _checked_cron(cron_schedule, timezone))

    # ---------------------------------------------------------------- presets
    @staticmethod
    def eager() -> AutomationCondition:
        """Materialize when missing or when a dependency updated, once the dependencies are there and idle."""
        c = AutomationCondition
        trigger = (c.missing().newly_true() | c.any_deps_updated()).since_last_handled()
        tree = trigger & ~c.any_deps_missing() & ~c.any_deps_in_progress() & ~c.in_flight() & ~c.execution_failed()
        return tree.with_label("eager")

    @staticmethod
    def on_cron(cron_schedule: str, timezone: str | None = None) -> AutomationCondition:
        """Materialize once per ``cron_schedule`` tick, after every dependency updated since that tick."""
        c = AutomationCondition
        passed = c.cron_tick_passed(cron_schedule, timezone)
        handled = (c.newly_requested() | c.newly_updated()) & ~c.cron_tick_passed(cron_schedule, timezone)
        tree = passed.since(handled) & c.all_deps_updated_since_cron(cron_schedule, timezone) & ~c.in_flight()
        return tree.with_label(f"on_cron({_quote(cron_schedule)})")

    @staticmethod
    def on_missing() -> AutomationCondition:
        """Materialize missing partitions once, when their dependencies are there."""
        c = AutomationCondition
        tree = c.missing().newly_true().since_last_handled() & ~c.any_deps_missing() & ~c.execution_failed()
        return tree.with_label("on_missing")


def _check_operand(value: object, method: str) -> None:
    if not isinstance(value, AutomationCondition):
        raise TypeError(f"{method}() takes an AutomationCondition, got {type(value).__name__}")


def _check_pattern(value: object, method: str) -> None:
    if not isinstance(value, (str, AutomationCondition)):
        raise TypeError(f"{method}() takes a description/label string or an AutomationCondition, "
                        f"got {type(value).__name__}")
