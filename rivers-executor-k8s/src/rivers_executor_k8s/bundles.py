"""``bundle=``: which chains of steps run one after the other in one pod (pod start-up paid once).

A bundle is a chain ``s1 -> s2 -> ... -> sn`` of planned steps where each
later step waits for the one before it and for no other step of the plan, so
the pod may run it as soon as that one succeeded. With ``bundle=True`` the
chains are found: the maximal runs of steps each of which is the only
dependant of the one before and depends on it alone (nothing outside the
chain waits for a step inside it). With a list of chains (step keys) the user
names them; a chain's step may then have other dependants, which wait for the
whole pod. Steps that claim pool slots, run ``async`` or expand at run time
(mapped steps), or are routed to another executor than the step before them,
never run after another step in a pod: they are launched by the scheduler as
usual (and may start a chain of their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.exceptions import ConfigurationError

if TYPE_CHECKING:
    from rivers.execution.plan import ExecutionPlan, PlannedStep

__all__ = ["BundleSetting", "check_setting", "plan_bundles"]

#: ``False`` (no bundles), ``True`` (every linear chain) or explicit chains of step keys
BundleSetting = bool | tuple[tuple[str, ...], ...]


def check_setting(value: Any) -> BundleSetting:
    """``bundle=`` as given to the executor, checked (a :class:`ConfigurationError` says what is wrong)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    problem = "bundle must be True, False or a list of chains of step keys (e.g. [['raw', 'clean', 'daily']])"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ConfigurationError(f"kubernetes executor: {problem}, got {value!r}")
    chains: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for chain in value:
        if isinstance(chain, (str, bytes)) or not isinstance(chain, Sequence) or \
                not all(isinstance(key, str) and key for key in chain):
            raise ConfigurationError(f"kubernetes executor: {problem}, got the chain {chain!r}")
        if len(chain) < 2:
            raise ConfigurationError(f"kubernetes executor: bundle chain {list(chain)!r} has fewer than two steps")
        twice = seen.intersection(chain) or {key for key in chain if chain.count(key) > 1}
        if twice:
            raise ConfigurationError(f"kubernetes executor: step {sorted(twice)[0]!r} is in more than one bundle "
                                     "chain (or twice in one)")
        seen.update(chain)
        chains.append(tuple(chain))
    return tuple(chains)


def _bundleable(planned: PlannedStep) -> bool:
    return planned.expander is None and not planned.pools and not planned.runtime.is_async


def _linked(before: PlannedStep, after: PlannedStep) -> bool:
    """Whether ``after`` may run right after ``before`` in its pod: it waits for that step only."""
    return after.upstream_steps == (before.key,) and after.executor == before.executor and _bundleable(after)


def plan_bundles(plan: ExecutionPlan, setting: BundleSetting) -> dict[str, tuple[PlannedStep, ...]]:
    """The bundles of ``plan``: each chain's first step key -> the steps that run after it in its pod.

    :raises ConfigurationError: when a chain named in ``setting`` is not a
        chain of the plan (a step that waits for another step than the one
        before it). Steps of a named chain missing from the plan (not
        selected) split it.
    """
    steps = plan.by_key
    if setting is False:
        return {}
    if setting is True:
        return _found_chains(plan)
    bundles: dict[str, tuple[PlannedStep, ...]] = {}
    for chain in setting:
        present: list[list[PlannedStep]] = [[]]
        for key in chain:
            planned = steps.get(key)
            if planned is None:
                present.append([])
                continue
            part = present[-1]
            if part and not _linked(part[-1], planned):
                raise ConfigurationError(
                    f"kubernetes executor: bundle chain {list(chain)!r}: step {key!r} cannot run right after "
                    f"{part[-1].key!r} in one pod: it waits for {list(planned.upstream_steps)!r} (a bundled step "
                    "must wait for the step before it only, and claim no pool, run no async code, not be mapped)")
            part.append(planned)
        for part in present:
            if len(part) > 1:
                bundles[part[0].key] = tuple(part[1:])
    return bundles


def _found_chains(plan: ExecutionPlan) -> dict[str, tuple[PlannedStep, ...]]:
    steps = plan.by_key

    def follower(planned: PlannedStep) -> PlannedStep | None:
        if len(planned.dependants) != 1:
            return None
        after = steps.get(planned.dependants[0])
        return after if after is not None and _linked(planned, after) else None

    followed = {after.key for planned in plan.steps if (after := follower(planned)) is not None}
    bundles: dict[str, tuple[PlannedStep, ...]] = {}
    for planned in plan.steps:
        if planned.key in followed:
            continue
        members = []
        after = follower(planned)
        while after is not None:
            members.append(after)
            after = follower(after)
        if members:
            bundles[planned.key] = tuple(members)
    return bundles
