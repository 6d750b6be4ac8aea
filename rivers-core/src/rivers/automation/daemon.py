"""``AutomationDaemon``: ticks schedules and sensors, evaluates conditions, launches runs, one leader at a time.

One loop thread: it holds (or waits for) the storage lease
``rivers/automation/leader`` and, while it leads, every ``poll_interval``

* hands each Running schedule whose cron time came (after its catch-up
  policy) and each Running sensor whose ``minimum_interval`` passed to a
  worker thread (one tick per automation at a time: a slow one never stalls
  the others, the loop or the lease renewal);
* reads the events stored since its cursor and re-evaluates the conditions
  of the assets they touch at once (``condition_eval_interval`` is only the
  fallback for time-based conditions), launching what fired;
* starts ``Requested`` backfills and, every few seconds, reconciles runs
  whose process died (when the storage offers ``reconcile_runs``).

Two daemons on one storage: the second waits; it takes over within a lease
period after the leader dies. Deterministic tick and run ids (see
:mod:`rivers.automation.triggers`) make a re-evaluated tick launch nothing
twice.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from rivers.automation.condition_store import ConditionStore
from rivers.automation.cron_ticks import CronClock
from rivers.automation.launching import Launcher
from rivers.automation.leadership import LEASE_NAME
from rivers.automation.statuses import is_running
from rivers.automation.triggers import TickLog, tick_schedule, tick_sensor
from rivers.storage.control_records import StoredTick

if TYPE_CHECKING:
    from rivers.automation.engine import ConditionEngine
    from rivers.automation.sensors import Sensor
    from rivers.automation.world import World
    from rivers.repository import CodeRepository

__all__ = ["AutomationDaemon", "CONDITIONS_TICK_NAME", "LEASE_NAME"]

CONDITIONS_TICK_NAME = "automation_conditions"
_LOG = logging.getLogger("rivers.automation")
_CATCH_UP = ("skip", "latest", "all")


def _seconds(value: str | float | int, what: str) -> float:
    from rivers.storage.pools import parse_duration

    seconds = parse_duration(value, what)
    if seconds <= 0:
        raise ValueError(f"invalid duration for '{what}': {value!r} (must be positive)")
    return float(seconds)


class AutomationDaemon:
    """Runs the automations of ``repo`` against ``storage`` in a background thread.

    ``start()`` returns at once; ``stop()`` finishes the current tick and
    waits. ``run_once()`` does one pass in the calling thread (``rivers daemon
    --once`` and tests). ``clock`` (epoch seconds) can be injected;
    ``on_tick`` is called with every finished tick.
    """

    def __init__(
        self,
        repo: CodeRepository,
        storage: Any = None,
        *,
        max_ticks_retained: int = 100,
        condition_eval_interval: str | float = "30s",
        poll_interval: float = 0.25,
        lease_duration: str | float = "5s",
        reconcile_interval: float = 5.0,
        catch_up_grace: float = 5.0,
        clock: Callable[[], float] = time.time,
        on_tick: Callable[[StoredTick], None] | None = None,
    ) -> None:
        if isinstance(max_ticks_retained, bool) or not isinstance(max_ticks_retained, int) or max_ticks_retained < 1:
            raise ValueError(f"max_ticks_retained must be a positive int, got {max_ticks_retained!r}")
        if storage is not None:
            repo.resolve(storage)
        self.repo = repo
        self.storage = repo.storage
        self.condition_eval_interval = _seconds(condition_eval_interval, "condition_eval_interval")
        self.poll_interval = poll_interval
        self.lease_seconds = _seconds(lease_duration, "lease_duration")
        self.reconcile_interval = reconcile_interval
        self.catch_up_grace = catch_up_grace
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.launcher = Launcher(repo)
        self.ticks = TickLog(self.storage, max_ticks_retained, on_tick)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rivers-automation-tick")
        self._busy: dict[str, Future[Any]] = {}
        self._leading = False
        self._lease_renewed = 0.0
        self._last_sensor_tick: dict[str, float] = {}
        self._last_reconcile = 0.0
        self._conditions: tuple[World, ConditionEngine, ConditionStore] | None = None
        self._last_condition_eval: float | None = None
        self._clocks: dict[str, CronClock] = {}
        self._has_conditions: bool | None = None
        self._last_pass: float | None = None

    # -------------------------------------------------------------- lifecycle
    @property
    def is_leader(self) -> bool:
        """Whether this daemon holds the leader lease."""
        return self._leading

    def start(self) -> None:
        """Start the loop thread (non-blocking)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="rivers-automation-daemon", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the current pass, release the lease and wait for the loop and in-flight ticks."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._workers.shutdown(wait=True)
        self._release()

    def wait_for_runs(self, timeout: float | None = None) -> None:
        """Wait until the runs this daemon launched finished (tests, ``--once``)."""
        self.launcher.wait(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - one bad pass must not end the daemon
                _LOG.exception("automation daemon pass failed")
            self._wake.wait(self._next_wake() if self._leading else min(self.lease_seconds / 3, 1.0))
            self._wake.clear()

    # ------------------------------------------------------------- leadership
    def _lead(self) -> bool:
        now = time.monotonic()
        if self._leading and now - self._lease_renewed < self.lease_seconds / 3:
            return True
        lease = self.storage.acquire_lease(LEASE_NAME, self.owner, self.lease_seconds)
        was_leading, self._leading = self._leading, lease is not None
        if self._leading:
            self._lease_renewed = now
            if not was_leading:
                _LOG.info("automation daemon %s is the leader", self.owner)
        return self._leading

    def _release(self) -> None:
        if self._leading:
            self.storage.release_lease(LEASE_NAME, self.owner)
            self._leading = False

    # ------------------------------------------------------------------ passes
    def run_once(self, wait: bool = False) -> bool:
        """One pass (when this daemon leads); ``wait``: also wait for the ticks it started. Whether it led."""
        if not self._lead():
            self._last_pass = None
            return False
        now = self.clock()
        self._due_schedules(now)
        self._due_sensors(now)
        self._evaluate_conditions(now)
        self._pick_up_backfills()
        self._reconcile()
        self._last_pass = now
        if wait:
            for future in list(self._busy.values()):
                future.result()
        return True

    def _submit(self, name: str, job: Callable[[], Any]) -> None:
        busy = self._busy.get(name)
        if busy is not None and not busy.done():
            return
        self._busy[name] = self._workers.submit(self._guarded, name, job)

    @staticmethod
    def _guarded(name: str, job: Callable[[], Any]) -> Any:
        try:
            return job()
        except Exception:  # noqa: BLE001 - logged; the tick stays recorded as started
            _LOG.exception("tick of '%s' failed", name)
            return None

    def _resources(self) -> dict[str, Any]:
        return self.repo.resources

    # --------------------------------------------------------------- schedules
    def _due_schedules(self, now: float) -> None:
        for schedule in self.repo.schedules:
            if not is_running(self.storage, schedule):
                continue
            busy = self._busy.get(schedule.name)
            if busy is not None and not busy.done():
                continue
            due = self.due_ticks(schedule, now)
            if due:
                self._submit(schedule.name, functools.partial(self._run_schedule, schedule, due))

    def due_ticks(self, schedule: Any, now: float) -> list[float]:
        """The cron times of ``schedule`` to run now, after its catch-up policy (and moving its cursor)."""
        clock = self._clock_of(schedule)
        stored = self.storage.get_automation_cursor(schedule.name)
        if stored is None:  # first time: start from now, nothing to catch up
            self.storage.set_automation_cursor(schedule.name, repr(now - self.poll_interval))
            stored = repr(now - self.poll_interval)
        last = float(stored)
        policy, cap = schedule.catch_up, schedule.max_catch_up_ticks
        ticks = clock.ticks_between(last, now, limit=cap + 1)
        if not ticks:
            return []
        # ticks that came due since this daemon's previous pass are on time; older ones were missed (downtime)
        boundary = self._last_pass if self._last_pass is not None else now - self.catch_up_grace
        recent = [t for t in ticks if t > boundary]
        missed = [t for t in ticks if t <= boundary]
        if not missed:
            return recent
        if policy == "skip":
            chosen = recent
        elif policy == "latest":
            chosen = recent or missed[-1:]
        else:
            chosen = (missed + recent)[-cap:]
        if not chosen:
            self.storage.set_automation_cursor(schedule.name, repr(ticks[-1]))
        return chosen

    def _clock_of(self, schedule: Any) -> CronClock:
        clock = self._clocks.get(schedule.name)
        if clock is None:
            clock = self._clocks[schedule.name] = CronClock(schedule.cron_schedule, schedule.timezone)
        return clock

    def _next_wake(self) -> float:
        """Seconds until the next pass: the poll interval, or sooner when a schedule's tick comes first."""
        wait = self.poll_interval
        now = self.clock()
        for schedule in self.repo.schedules:
            if schedule.name in self._clocks:
                wait = min(wait, max(0.0, self._clocks[schedule.name].next_after(now) - now + 0.001))
        return wait

    def _run_schedule(self, schedule: Any, due: list[float]) -> None:
        for scheduled in due:
            tick_schedule(schedule, scheduled, self.launcher, self.ticks, self._resources())
            self.storage.set_automation_cursor(schedule.name, repr(scheduled))

    # ----------------------------------------------------------------- sensors
    def _due_sensors(self, now: float) -> None:
        for sensor in self.repo.sensors:
            if sensor.evaluation_fn is None or not is_running(self.storage, sensor):
                continue
            interval = _seconds(sensor.minimum_interval or "30s", "minimum_interval")
            last = self._last_sensor_tick.get(sensor.name)
            if last is None:
                previous = self.storage.get_ticks(sensor.name, limit=1)
                last = previous[0].timestamp / 1e9 if previous else None
                if last is not None:
                    self._last_sensor_tick[sensor.name] = last
            if last is not None and now - last < interval:
                continue
            busy = self._busy.get(sensor.name)
            if busy is not None and not busy.done():
                continue
            self._last_sensor_tick[sensor.name] = now

            def job(s: Sensor = sensor, last_tick: float | None = last, n: float = now) -> StoredTick:
                return tick_sensor(s, self.launcher, self.ticks, self._resources(), last_tick, n)

            self._submit(sensor.name, job)

    # -------------------------------------------------------------- conditions
    def _condition_engine(self) -> tuple[World, ConditionEngine, ConditionStore] | None:
        if self._conditions is None:
            from rivers.automation.engine import ConditionEngine
            from rivers.automation.validation import condition_of
            from rivers.automation.world import World

            graph = self.repo.graph
            found = {name: condition_of(node) for name, node in graph.nodes.items()}
            conditions = {name: cond for name, cond in found.items() if cond is not None}
            if not conditions:
                return None
            names = set(conditions)
            for name in list(conditions):
                names.update(graph.parents(name))
            world = World(graph, self.storage, [n for n in graph.names if n in names])
            store = ConditionStore(self.storage)
            states, cursor, failed = store.load()
            world.load(cursor, failed)
            engine = ConditionEngine(graph, world, conditions)
            engine.load_states(states)
            self._conditions = (world, engine, store)
        return self._conditions

    def _evaluate_conditions(self, now: float) -> None:
        if self._has_conditions is False:
            return
        found = self._condition_engine()
        self._has_conditions = found is not None
        if found is None:
            return
        world, engine, store = found
        touched = world.begin_tick(self.launcher.in_flight())
        pending = any(state.requested or not state.settled for state in engine.states.values())
        interval_due = self._last_condition_eval is None or now - self._last_condition_eval >= \
            self.condition_eval_interval
        if not (touched or pending or interval_due):
            return
        self._last_condition_eval = now
        fired = engine.tick(now, touched)
        run_ids = self._launch_fired(world, fired)
        store.save(engine.states, engine.changed_states, world)
        if fired or engine.changed_states:
            tick = StoredTick(f"conditions:{time.time_ns()}", CONDITIONS_TICK_NAME, "condition",
                              "success" if run_ids else "skipped", int(now * 1e9), run_ids=run_ids,
                              skip_reason=None if run_ids else f"evaluated {len(engine.evaluated)} assets; none fired")
            self.ticks.record(tick)

    def _launch_fired(self, world: World, fired: dict[str, int]) -> list[str]:
        """One run per partition key (all the assets that fired for it); unpartitioned assets share one run."""
        from rivers._ids import random_uuid4
        from rivers.storage.records import LaunchedBy

        groups: dict[str | None, list[str]] = {}
        for name, mask in fired.items():
            view = world.views[name]
            if view.partitions_def is None:
                groups.setdefault(None, []).append(name)
                continue
            position = 0
            while mask:
                if mask & 1:
                    groups.setdefault(view.keys[position], []).append(name)
                mask >>= 1
                position += 1
        run_ids = []
        for key, names in groups.items():
            run_id = random_uuid4()
            try:
                self.launcher.launch_assets(names, run_id=run_id, partition_key=key,
                                            tags={"rivers/automation": CONDITIONS_TICK_NAME},
                                            launched_by=LaunchedBy.condition())
                run_ids.append(run_id)
            except Exception:  # noqa: BLE001 - logged; the other groups still launch
                _LOG.exception("launching %s (partition %s) for fired conditions failed", names, key)
        return run_ids

    # ------------------------------------------------------ backfills, reconcile
    def _pick_up_backfills(self) -> None:
        from rivers.backfills.state import backfills_with_status

        for record in backfills_with_status(self.storage, "Requested"):
            self.launcher.run_backfill(record.backfill_id)

    def _reconcile(self) -> None:
        now = time.monotonic()
        if now - self._last_reconcile < self.reconcile_interval:
            return
        self._last_reconcile = now
        reconcile = getattr(self.storage, "reconcile_runs", None)
        if reconcile is not None:
            reconcile()
