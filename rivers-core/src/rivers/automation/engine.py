"""Evaluating automation conditions: every node of a tree as a bitmask over the asset's partitions.

One tick walks the assets that carry a condition in topological order. A
node evaluates to an ``int`` whose bit ``i`` says whether the condition holds
for partition position ``i`` (one bit for an unpartitioned asset), so ``&``,
``|`` and ``~`` over a year of daily partitions are single integer
operations. Dependency aggregates evaluate their operand on each dependency
and translate its mask through the edge's partition mapping
(:class:`EdgeMap`).

Stateful nodes (``newly_true``, ``since``, ``since_last_handled``) keep
their previous mask in :class:`AssetState`, which the daemon persists with
the evaluated tree (the value of every root-scope node, for
``rivers automation why``).

Only assets whose inputs changed are evaluated: an asset is *dirty* when it
or a dependency was touched by new events or in-flight changes, was or had a
dependency requested on the previous tick, its tree reads the clock, or its
previous evaluation changed its state (it has not settled yet).
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from rivers.automation import conditions as c
from rivers.automation.cron_ticks import CronClock

if TYPE_CHECKING:
    from rivers.automation.conditions import AutomationCondition
    from rivers.automation.world import AssetView, World
    from rivers.graph.graph import AssetGraph

__all__ = ["AssetState", "ConditionEngine", "EdgeMap", "fingerprint_of"]

_TIME_KINDS = frozenset({c.CRON_TICK_PASSED, c.ALL_DEPS_UPDATED_SINCE_CRON, c.IN_LATEST_TIME_WINDOW})
_DEP_SCOPES = frozenset({c.ANY_DEPS_MATCH, c.ALL_DEPS_MATCH})


def fingerprint_of(description: str) -> str:
    """A short digest of a condition tree's description: what a saved state remembers to detect a changed tree."""
    return hashlib.blake2b(description.encode(), digest_size=8).hexdigest()


class AssetState:
    """What one asset's condition remembers between ticks (persisted by the daemon).

    ``fingerprint`` identifies the tree it belongs to (:func:`fingerprint_of`
    its description): a state of another tree is discarded.
    """

    __slots__ = ("fingerprint", "size", "nodes", "values", "requested", "evaluated_at", "settled")

    def __init__(self, fingerprint: str, size: int) -> None:
        self.fingerprint = fingerprint
        self.size = size
        self.nodes: dict[str, int] = {}
        self.values: list[int | None] = []
        self.requested = 0
        self.evaluated_at: float | None = None
        self.settled = False

    def to_json(self) -> list[Any]:
        """A JSON-ready list ``[fingerprint, size, latches, values, requested, evaluated_at, settled]``.

        Masks are plain integers (JSON has no size limit on them); a list,
        not a dict, because a tick that changed everything writes 10,000s of them.
        """
        return [self.fingerprint, self.size, self.nodes, self.values, self.requested, self.evaluated_at,
                self.settled]

    @classmethod
    def from_json(cls, data: list[Any] | dict[str, Any]) -> AssetState:
        """The state :meth:`to_json` wrote (also the dict form an earlier version saved)."""
        if isinstance(data, dict):  # {"d": description, "n": size, "s": ..., "v": ..., "r": ..., "t": ..., "ok": ...}
            data = [data.get("f") or fingerprint_of(data["d"]), data["n"], data["s"], data["v"], data["r"],
                    data["t"], data.get("ok")]
        fingerprint, size, nodes, values, requested, evaluated_at, settled = data
        state = cls(fingerprint, size)
        state.nodes = dict(nodes)
        state.values = list(values)
        state.requested = int(requested)
        state.evaluated_at = evaluated_at
        state.settled = bool(settled)
        return state


class EdgeMap:
    """Translates a dependency's partition mask into the downstream asset's partitions."""

    __slots__ = ("kind", "up", "down", "table")

    def __init__(self, up: AssetView, down: AssetView, mapping: Any) -> None:
        self.up, self.down = up, down
        self.table: list[list[int]] | None = None
        if up.partitions_def is None or down.partitions_def is None:
            self.kind = "broadcast" if up.partitions_def is None else "collapse"
        elif mapping is None and (up.partitions_def is down.partitions_def or up.partitions_def == down.partitions_def):
            self.kind = "identity"
        else:
            self.kind = "table"
            self.table = self._build(mapping)

    def _build(self, mapping: Any) -> list[list[int]]:
        from rivers.exceptions import PartitionValidationError
        from rivers.partitions.mappings.defaults import key_from_text
        from rivers.partitions.mappings.resolution import resolve_upstream

        table: list[list[int]] = []
        down = self.down.partitions_def
        for key in self.down.keys:
            try:
                load = resolve_upstream(mapping, [key_from_text(down, key)], down, self.up.partitions_def)
            except PartitionValidationError:  # e.g. a time-window offset before the upstream's first window
                table.append([])
                continue
            keys = load.keys if load.is_load else []
            table.append([self.up.positions[str(k)] for k in keys or () if str(k) in self.up.positions])
        return table

    def _direct(self, mask: int, every: bool) -> int | None:
        """The translation without a table (``every``: all upstream positions must be set); ``None`` for a table."""
        kind = self.kind
        if kind == "identity":
            return mask & self.down.full
        if kind == "broadcast":
            return self.down.full if mask else 0
        if kind == "collapse":
            return 1 if (mask & self.up.full == self.up.full if every else mask) else 0
        return None

    def any(self, mask: int) -> int:
        """Downstream positions that map to at least one set upstream position."""
        direct = self._direct(mask, False)
        if direct is not None:
            return direct
        out = 0
        for position, ups in enumerate(self.table or ()):
            for up in ups:
                if mask >> up & 1:
                    out |= 1 << position
                    break
        return out

    def all(self, mask: int) -> int:
        """Downstream positions all of whose upstream positions are set."""
        direct = self._direct(mask, True)
        if direct is not None:
            return direct
        out = 0
        for position, ups in enumerate(self.table or ()):
            if all(mask >> up & 1 for up in ups):
                out |= 1 << position
        return out


_Compiled = Callable[["ConditionEngine", "_Pass", str], int]


class _Tree:
    """A condition tree compiled once: nodes in pre-order, one closure per node, whether it reads the clock."""

    __slots__ = ("root", "fingerprint", "nodes", "index", "timed", "clocks", "evaluate")

    def __init__(self, root: AutomationCondition) -> None:
        self.root = root
        self.fingerprint = fingerprint_of(root.description)
        self.nodes = list(root.walk())
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        self.timed = any(node.kind in _TIME_KINDS for node in self.nodes)
        self.clocks = {i: CronClock(*node.args) for i, node in enumerate(self.nodes)
                       if node.kind in (c.CRON_TICK_PASSED, c.ALL_DEPS_UPDATED_SINCE_CRON)}
        self.evaluate: _Compiled = _compile(root, self.index)




class _Pass:
    """One asset's evaluation on one tick."""

    __slots__ = ("engine", "target", "tree", "state", "now", "previous", "initial", "new_nodes", "values")

    def __init__(self, engine: ConditionEngine, target: str, tree: _Tree, state: AssetState, now: float) -> None:
        self.engine, self.target, self.tree, self.state, self.now = engine, target, tree, state, now
        self.previous = state.evaluated_at
        self.initial = state.evaluated_at is None
        self.new_nodes: dict[str, int] = {}
        self.values: list[int | None] = [None] * len(tree.nodes)


class ConditionEngine:
    """Evaluates the conditions of a graph against a :class:`World`, tick after tick."""

    def __init__(self, graph: AssetGraph, world: World, conditions: dict[str, AutomationCondition]) -> None:
        self.graph = graph
        self.world = world
        self.order = [name for name in graph.names if name in conditions]
        compiled: dict[int, _Tree] = {}  # one per condition object, shared by the assets using it
        self.trees = {name: compiled.get(id(condition)) or compiled.setdefault(id(condition), _Tree(condition))
                      for name, condition in conditions.items()}
        self.position = {name: index for index, name in enumerate(self.order)}
        self._pending: set[str] = set()
        self.states: dict[str, AssetState] = {}
        self.parents = {name: [p for p in graph.parents(name) if p in world.views] for name in world.views}
        self.children: dict[str, list[str]] = {name: [] for name in world.views}
        for name, parents in self.parents.items():
            for parent in parents:
                self.children.setdefault(parent, []).append(name)
        self._edges: dict[tuple[str, str], EdgeMap] = {}
        self._mappings = _edge_mappings(graph)
        self.fired: dict[str, int] = {}
        self.evaluated: list[str] = []
        self.changed_states: set[str] = set()

    # ------------------------------------------------------------------ ticks
    def tick(self, now: float | None = None, touched: Iterable[str] = ()) -> dict[str, int]:
        """Evaluate the dirty assets; the masks of the partitions to request, by asset."""
        import heapq

        now = time.time() if now is None else now
        position, children, trees, states, views = self.position, self.children, self.trees, self.states, \
            self.world.views
        dirty: set[str] = set()
        for name in (*touched, *self._pending):
            dirty.add(name)
            dirty.update(children.get(name, ()))
        if len(states) < len(self.order) or any(tree.timed for tree in trees.values()):
            dirty.update(name for name in self.order if name not in states or trees[name].timed)
        queue = [(position[name], name) for name in dirty if name in position]
        heapq.heapify(queue)
        self.fired = {}
        self.evaluated = []
        self.changed_states = set()
        pending: set[str] = set()
        seen: set[str] = set()
        while queue:
            _, name = heapq.heappop(queue)
            if name in seen:
                continue
            seen.add(name)
            tree = trees[name]
            state = states.get(name)
            size = len(views[name].keys)
            if state is None or state.fingerprint != tree.fingerprint or state.size != size:
                old = state
                state = states[name] = AssetState(tree.fingerprint, size)
                if old is not None and old.fingerprint == tree.fingerprint:
                    state.nodes, state.requested, state.evaluated_at = old.nodes, old.requested, old.evaluated_at
            fired = self._evaluate(name, tree, state, now)
            self.evaluated.append(name)
            if fired or not state.settled:
                pending.add(name)
            if fired:
                self.fired[name] = fired
                for child in children.get(name, ()):
                    if child in position and child not in seen:
                        heapq.heappush(queue, (position[child], child))
        self._pending = pending | {name for name in self._pending if name not in seen}
        return self.fired

    def load_states(self, states: dict[str, AssetState]) -> None:
        """Adopt saved states (of the assets that still carry a condition)."""
        for name, state in states.items():
            if name in self.trees:
                self.states[name] = state
                if state.requested or not state.settled:
                    self._pending.add(name)

    def _evaluate(self, name: str, tree: _Tree, state: AssetState, now: float) -> int:
        run = _Pass(self, name, tree, state, now)
        mask = tree.evaluate(self, run, name)
        new_nodes, values = run.new_nodes, run.values
        same = new_nodes == state.nodes and values == state.values
        if not same or mask != state.requested:
            self.changed_states.add(name)
        state.settled = same and not mask and not state.requested
        state.nodes = new_nodes
        state.values = values
        state.requested = mask
        state.evaluated_at = now
        return mask

    # ------------------------------------------------------------- helpers
    def edge(self, up: str, down: str) -> EdgeMap:
        """The partition translation from dependency ``up`` to ``down`` (built once)."""
        edge = self._edges.get((up, down))
        view_up, view_down = self.world.views[up], self.world.views[down]
        if edge is None or (edge.kind == "table" and edge.table is not None
                            and len(edge.table) != len(view_down.keys)):
            edge = self._edges[(up, down)] = EdgeMap(view_up, view_down, self._mappings.get((up, down)))
        return edge

    def _deps_any(self, scope: str, of: Callable[[str], int]) -> int:
        out = 0
        for dep in self.parents.get(scope, ()):
            out |= self.edge(dep, scope).any(of(dep))
        return out

    def _deps_all(self, scope: str, of: Callable[[str], int]) -> int:
        out = self.world.views[scope].full
        for dep in self.parents.get(scope, ()):
            out &= self.edge(dep, scope).all(of(dep))
        return out

    def _run_has_tags(self, run_id: str | None, node: AutomationCondition) -> bool:
        record = self.world.run(run_id)
        if record is None:
            return False
        tags = dict(record.tags)
        keys, values = node.args
        return all(key in tags for key in keys) and all(tags.get(k) == v for k, v in values)


# ------------------------------------------------------------------ compiling
def _compile(node: AutomationCondition, index: dict[int, int]) -> _Compiled:
    """One closure per node: ``(engine, pass, scope) -> mask``; root-scope values are recorded for ``why``."""
    i = index[id(node)]
    key = str(i)
    kids = [_compile(child, index) for child in node.operands]
    kind = node.kind

    if kind == c.AND:
        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            mask = e.world.views[s].full
            for kid in kids:
                mask &= kid(e, r, s)
            return mask
    elif kind == c.OR:
        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            mask = 0
            for kid in kids:
                mask |= kid(e, r, s)
            return mask
    elif kind == c.NOT:
        only = kids[0]

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            return e.world.views[s].full & ~only(e, r, s)
    elif kind == c.NEWLY_TRUE:
        only = kids[0]

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            k = key if s == r.target else f"{i}@{s}"
            current = only(e, r, s)
            if current:
                r.new_nodes[k] = current
            return current & ~r.state.nodes.get(k, 0)
    elif kind == c.SINCE:
        trigger, reset = kids

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            k = key if s == r.target else f"{i}@{s}"
            on, off = trigger(e, r, s), reset(e, r, s)
            value = (r.state.nodes.get(k, 0) | on) & ~off
            if value:
                r.new_nodes[k] = value
            return value
    elif kind == c.SINCE_LAST_HANDLED:
        only = kids[0]

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            root = s == r.target
            k = key if root else f"{i}@{s}"
            handled = r.state.requested if root else e.fired.get(s, 0)
            value = (r.state.nodes.get(k, 0) & ~handled) | only(e, r, s)
            if value:
                r.new_nodes[k] = value
            return value
    elif kind == c.ASSET_MATCHES:
        only, names = kids[0], frozenset(node.args[0])

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            return only(e, r, s) if s in names else 0
    elif kind == c.ANY_DEPS_MATCH:
        only = kids[0]

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            return e._deps_any(s, lambda dep: only(e, r, dep))
    elif kind == c.ALL_DEPS_MATCH:
        only = kids[0]

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            return e._deps_all(s, lambda dep: only(e, r, dep))
    else:
        leaf = _LEAVES[kind]

        def evaluate(e: ConditionEngine, r: _Pass, s: str) -> int:
            return leaf(e, r, node, s)

    def recorded(e: ConditionEngine, r: _Pass, s: str) -> int:
        value = evaluate(e, r, s)
        if s == r.target:
            r.values[i] = value
        return value

    return recorded


# ---------------------------------------------------------------------- leaves
def _missing(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    view = engine.world.views[scope]
    return view.full & ~view.materialized


def _in_progress(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.in_progress.get(scope, 0)


def _backfill_in_progress(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.backfilling.get(scope, 0)


def _execution_failed(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.views[scope].failed


def _newly_updated(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.updated.get(scope, 0)


def _newly_requested(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    state = engine.states.get(scope)
    if scope == run.target:
        return run.state.requested
    return state.requested if state is not None else 0


def _code_version_changed(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.code_outdated(scope)


def _data_version_changed(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.data_changed.get(scope, 0)


def _initial_evaluation(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.world.views[scope].full if run.initial else 0


def _cron_tick_passed(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    if run.previous is None:
        return 0
    clock = run.tree.clocks[run.tree.index[id(node)]]
    return engine.world.views[scope].full if clock.next_after(run.previous) <= run.now else 0


def _in_latest_time_window(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    view = engine.world.views[scope]
    if not view.keys:
        return 0
    last = len(view.keys) - 1
    lookback = node.args[0]
    if not lookback:
        return 1 << last
    window = view.partitions_def.window(view.keys[last])
    if window is None:
        return 1 << last
    horizon = window[0].timestamp() - lookback
    mask = 0
    for position in range(last, -1, -1):
        start = view.partitions_def.window(view.keys[position])
        if start is None or start[0].timestamp() < horizon:
            break
        mask |= 1 << position
    return mask


def _will_be_requested(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    return engine.fired.get(scope, 0)


def _last_run_includes_target(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    view = engine.world.views[scope]
    if scope == run.target:
        return view.materialized
    record = engine.world.run(view.last_run_id)
    return view.full if record is not None and run.target in record.node_names else 0


def _last_executed_with_tags(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    view = engine.world.views[scope]
    return view.full if engine._run_has_tags(view.last_run_id, node) else 0


def _has_run_with_tags(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    runs = engine.world.updated_runs.get(scope, ())
    return engine.world.views[scope].full if any(engine._run_has_tags(r, node) for r in runs) else 0


def _all_runs_have_tags(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    runs = engine.world.updated_runs.get(scope, ())
    return engine.world.views[scope].full if all(engine._run_has_tags(r, node) for r in runs) else 0


def _any_deps_missing(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    views = engine.world.views
    return engine._deps_any(scope, lambda dep: views[dep].full & ~views[dep].materialized)


def _any_deps_in_progress(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    progress = engine.world.in_progress
    return engine._deps_any(scope, lambda dep: progress.get(dep, 0))


def _any_deps_updated(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    world = engine.world

    def updated(dep: str) -> int:
        mask = world.updated.get(dep, 0)
        if mask:
            runs = world.updated_runs.get(dep, ())
            joint = all((record := world.run(r)) is not None and scope in record.node_names for r in runs)
            if joint and world.updated.get(scope, 0) & engine.edge(dep, scope).any(mask):
                mask = 0  # the dependency and this asset were materialized by the same run(s)
        return mask | engine.fired.get(dep, 0)

    return engine._deps_any(scope, updated)


def _all_deps_updated_since_cron(engine: ConditionEngine, run: _Pass, node: AutomationCondition, scope: str) -> int:
    clock = run.tree.clocks[run.tree.index[id(node)]]
    latest = clock.latest_at_or_before(run.now, 366 * 86400)
    views = engine.world.views
    full = views[scope].full
    if latest is None:
        return full
    since_ns = int(latest * 1e9)

    def recent(dep: str) -> int:
        timestamp = views[dep].last_timestamp
        if engine.fired.get(dep) or (timestamp is not None and timestamp >= since_ns):
            return views[dep].full
        return 0

    return engine._deps_all(scope, recent)


_LEAVES: dict[str, Callable[[ConditionEngine, _Pass, Any, str], int]] = {
    "missing": _missing, "in_progress": _in_progress, "backfill_in_progress": _backfill_in_progress,
    "execution_failed": _execution_failed, "newly_updated": _newly_updated, "newly_requested": _newly_requested,
    "code_version_changed": _code_version_changed, "data_version_changed": _data_version_changed,
    "initial_evaluation": _initial_evaluation, c.CRON_TICK_PASSED: _cron_tick_passed,
    c.IN_LATEST_TIME_WINDOW: _in_latest_time_window, "will_be_requested": _will_be_requested,
    "last_run_includes_target": _last_run_includes_target, "last_executed_with_tags": _last_executed_with_tags,
    "has_run_with_tags": _has_run_with_tags, "all_runs_have_tags": _all_runs_have_tags,
    "any_deps_missing": _any_deps_missing, "any_deps_in_progress": _any_deps_in_progress,
    "any_deps_updated": _any_deps_updated, c.ALL_DEPS_UPDATED_SINCE_CRON: _all_deps_updated_since_cron,
}


def _edge_mappings(graph: AssetGraph) -> dict[tuple[str, str], Any]:
    """The declared partition mapping of every edge ``(upstream, downstream)``: data inputs and lineage-only deps.

    A mapping comes from ``AssetDef.input``/``AssetDef.dep(partition_mapping=...)`` or from the owner's
    ``partition_mapping={...}`` table (as the run layer reads it); edges without one use the default.
    """
    from rivers.graph.partition_checks import edge_mapping

    mappings: dict[tuple[str, str], Any] = {}
    for name, node in graph.nodes.items():
        step = graph.steps.get(node.step_key)
        if step is None:
            continue
        declared = {spec.upstream: spec.partition_mapping for spec in step.inputs}
        for parent in graph.parents(name):
            mapping = edge_mapping(step, parent, declared.get(parent))
            if mapping is not None:
                mappings[(parent, name)] = mapping
    return mappings
