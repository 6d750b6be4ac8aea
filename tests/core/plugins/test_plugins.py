"""The plugin system: discovery, lookups, failure isolation, observers, laziness."""

from __future__ import annotations

import json
import logging
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import rivers.plugins
from rivers.exceptions import ConfigurationError, PluginConflictError, PluginError, PluginNotFoundError
from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.memory import InMemoryIOHandler
from rivers.plugins import hookimpl
from rivers.plugins.builtin import sqlite_path
from rivers.plugins.discovery import autoload_disabled
from rivers.plugins.events import RunFinished, RunStarted, StepFinished, StepStarted
from rivers.plugins.manager import RiversPluginManager
from support import hide_installed_plugins, run_python

EXAMPLE_DIST = "rivers-example-plugin"


# ---------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------


class Handler(BaseIOHandler):
    """A do-nothing handler plugins in these tests contribute."""

    root: str = "."

    def handle_output(self, context: Any, obj: Any) -> None:
        pass

    def load_input(self, context: Any) -> Any:
        return None


class HandlerPlugin:
    """Contributes the given IO handler names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def rivers_io_handlers(self) -> dict[str, type[BaseIOHandler]]:
        return dict.fromkeys(self.names, Handler)


class Recorder:
    """An observer remembering every event, by hook."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def rivers_run_started(self, event: RunStarted) -> None:
        self.seen.append(("run_started", event))

    @hookimpl
    def rivers_step_finished(self, event: StepFinished) -> None:
        self.seen.append(("step_finished", event))

    @hookimpl
    def rivers_run_finished(self, event: RunFinished) -> None:
        self.seen.append(("run_finished", event))


@pytest.fixture
def register():
    """Register plugins on the shared manager; unregister them afterwards."""
    registered: list[object] = []

    def _register(plugin: object, name: str | None = None) -> object:
        registered.append(rivers.plugins.register(plugin, name))
        return plugin

    yield _register
    manager = rivers.plugins.get_plugin_manager()
    for plugin in registered:
        if manager.pluggy_manager.is_registered(plugin):
            rivers.plugins.unregister(plugin)


@pytest.fixture
def example_version() -> str:
    """The installed version of the example plugin (fails with the fix if missing)."""
    try:
        return metadata.version(EXAMPLE_DIST)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{EXAMPLE_DIST} is not installed: pip install -e tests/plugins/{EXAMPLE_DIST}")


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> RiversPluginManager:
    """A fresh manager that loads no entry points."""
    monkeypatch.setenv(rivers.plugins.DISABLE_AUTOLOAD_ENV, "1")
    return RiversPluginManager()


def make_broken_distribution(root: Path) -> None:
    """A fake installed distribution whose entry point module raises on import."""
    dist_info = root / "broken_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[rivers]\nbroken = broken_plugin_module\n")
    (root / "broken_plugin_module.py").write_text(
        "def explode():\n    raise RuntimeError('boom at import')\n\nexplode()\n"
    )


def info(name: str, manager: RiversPluginManager | None = None) -> rivers.plugins.PluginInfo:
    plugins = manager.list_plugins() if manager else rivers.plugins.list_plugins()
    return next(plugin for plugin in plugins if plugin.name == name)


# ---------------------------------------------------------------------------
# Built-ins and the installed example plugin
# ---------------------------------------------------------------------------


def test_builtins_are_listed_as_a_plugin_of_rivers_core() -> None:
    builtin = info("rivers.builtin")
    assert builtin.builtin
    assert builtin.distribution == "rivers-core"
    assert builtin.version == metadata.version("rivers-core")
    assert builtin.components["io_handler"] == ("memory",)
    assert "in_process" in builtin.components["executor"]
    assert builtin.components["storage_backend"] == ("memory", "sqlite")
    assert "rivers_io_handlers" in builtin.hooks


def test_builtin_components_are_found_by_name() -> None:
    from rivers.execution.executors import Executor

    assert rivers.plugins.io_handler_class("memory") is InMemoryIOHandler
    assert isinstance(rivers.plugins.create_io_handler("memory"), InMemoryIOHandler)
    assert isinstance(rivers.plugins.create_executor("in_process"), Executor)


def test_example_plugin_is_discovered_with_its_distribution(example_version: str) -> None:
    example = info("example")
    assert not example.builtin
    assert example.source == "entry point"
    assert (example.distribution, example.version) == (EXAMPLE_DIST, example_version)
    assert example.components == {"io_handler": ("example-json",), "partition_type": ("fiscal_quarter",)}
    assert {"rivers_io_handlers", "rivers_partition_types", "rivers_run_started", "rivers_run_finished"} <= set(example.hooks)
    assert json.loads(json.dumps(example.to_dict()))["distribution"] == EXAMPLE_DIST


def test_example_handler_round_trips_a_value(tmp_path: Path, example_version: str) -> None:
    from rivers.context import InputContext, OutputContext

    handler = rivers.plugins.create_io_handler("example-json", root=str(tmp_path))
    output = OutputContext(asset_name="prices")
    handler.handle_output(output, {"eur": [1.5, 2.0]})

    path = tmp_path / "prices.json"
    assert path.is_file()
    assert str(path) in str(output.output_metadata["path"])
    assert handler.load_input(InputContext(asset_name="prices", downstream_asset="report")) == {"eur": [1.5, 2.0]}


def test_example_observer_logs_events_as_json_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_version: str
) -> None:
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("RIVERS_EXAMPLE_OBSERVER_LOG", str(log))
    observers = rivers.plugins.get_observers()
    assert observers.active
    observers.run_started(RunStarted("r1", None, ["a", "b"], [("team", "data")]))
    observers.run_finished(RunFinished("r1", "success", 0.5, []))

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [
        {"event": "run_started", "run_id": "r1", "job_name": None, "node_names": ["a", "b"], "tags": {"team": "data"}},
        {"event": "run_finished", "run_id": "r1", "status": "success", "duration_s": 0.5, "failed_steps": []},
    ]


# ---------------------------------------------------------------------------
# Lookup errors
# ---------------------------------------------------------------------------


def test_missing_first_party_component_names_its_distribution(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    hide_installed_plugins(monkeypatch, request)  # rivers-io-s3 is installed in the test environment
    with pytest.raises(PluginNotFoundError) as excinfo:
        rivers.plugins.create_io_handler("s3", bucket="data")
    message = str(excinfo.value)
    assert "IO handler 's3' is not available (plugin may not be installed): pip install rivers-io-s3" in message
    assert "'memory'" in message

    with pytest.raises(PluginNotFoundError, match="pip install rivers-executor-k8s"):
        rivers.plugins.create_executor("kubernetes", namespace="jobs")


def test_missing_name_suggests_close_matches_and_lists_available() -> None:
    with pytest.raises(PluginNotFoundError) as excinfo:
        rivers.plugins.io_handler_class("memroy")
    message = str(excinfo.value)
    assert "IO handler 'memroy' is not available" in message
    assert "Did you mean 'memory'?" in message
    assert "Available IO handlers:" in message
    assert "rivers.plugins.register()" in message


def test_missing_partition_type_and_storage_scheme() -> None:
    with pytest.raises(PluginNotFoundError, match="partition type 'no-such-type' is not available"):
        rivers.plugins.partition_type("no-such-type")
    # (postgresql:// is provided once rivers-storage-postgres is installed, as in the test environment)
    with pytest.raises(PluginNotFoundError, match=r"storage URL scheme 'mongodb'.*'memory'.*'sqlite'"):
        rivers.plugins.connect_storage("mongodb://db/rivers")


def test_storage_url_without_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"has no scheme.*sqlite:///"):
        rivers.plugins.connect_storage("rivers.db")


def test_two_plugins_claiming_one_name_is_a_conflict_naming_both(register) -> None:
    register(HandlerPlugin("dup", "only-a"), name="plugin-a")
    register(HandlerPlugin("dup", "memory"), name="plugin-b")

    with pytest.raises(PluginConflictError) as excinfo:
        rivers.plugins.create_io_handler("dup")
    message = str(excinfo.value)
    assert "IO handler 'dup' is provided by more than one plugin" in message
    assert "'plugin-a'" in message and "'plugin-b'" in message

    with pytest.raises(PluginConflictError, match=r"'rivers.builtin' \(rivers-core [^)]*\) and 'plugin-b'"):
        rivers.plugins.create_io_handler("memory")
    assert rivers.plugins.io_handler_class("only-a") is Handler


def test_entry_point_plugin_conflict_names_its_distribution(register, example_version: str) -> None:
    register(HandlerPlugin("example-json"), name="shadow")
    with pytest.raises(PluginConflictError, match=rf"'example' \({EXAMPLE_DIST} {example_version}\)"):
        rivers.plugins.io_handler_class("example-json")


# ---------------------------------------------------------------------------
# Broken plugins are isolated and reported
# ---------------------------------------------------------------------------


def test_plugin_failing_to_import_is_reported_and_isolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_version: str
) -> None:
    make_broken_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = RiversPluginManager()

    [broken] = [plugin for plugin in manager.broken_plugins() if plugin.stage == "import"]
    assert (broken.name, broken.distribution, broken.version) == ("broken", "broken-plugin", "0.1")
    assert broken.cause == "RuntimeError: boom at import"
    assert any("broken_plugin_module.py" in frame for frame in broken.traceback)
    assert "boom at import" in broken.describe()

    assert manager.io_handler_class("memory") is InMemoryIOHandler
    assert manager.io_handler_class("example-json").__name__ == "JsonFileIOHandler"
    with pytest.raises(PluginNotFoundError, match=r"'broken' \(broken-plugin 0.1\) is broken and might provide it"):
        manager.io_handler_class("csv")


def test_import_rivers_survives_a_broken_plugin(tmp_path: Path) -> None:
    make_broken_distribution(tmp_path)
    out = run_python(
        """
        import rivers, rivers.plugins
        print(rivers.plugins.create_io_handler("memory"))
        print([(b.name, b.cause) for b in rivers.plugins.broken_plugins() if b.stage == "import"])
        """,
        PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    )
    assert out.splitlines() == ["InMemoryIOHandler()", "[('broken', 'RuntimeError: boom at import')]"]


class RaisingHook:
    @hookimpl
    def rivers_io_handlers(self) -> dict[str, type[BaseIOHandler]]:
        raise ImportError("No module named 'boto3'")


class InvalidHook:
    @hookimpl
    def rivers_io_handlers(self) -> dict[str, object]:
        return {"bad": object()}


@pytest.mark.parametrize(
    ("plugin", "cause"),
    [
        (RaisingHook(), "ImportError: No module named 'boto3'"),
        (InvalidHook(), "PluginError: rivers_io_handlers() entry 'bad' must be a BaseIOHandler subclass"),
    ],
)
def test_failing_component_hook_is_reported_and_isolated(isolated: RiversPluginManager, plugin, cause) -> None:
    isolated.register(plugin, name="faulty")
    isolated.register(HandlerPlugin("fine"), name="fine")

    assert isolated.io_handler_class("fine") is Handler
    [broken] = isolated.broken_plugins()
    assert (broken.name, broken.stage) == ("faulty", "rivers_io_handlers")
    assert broken.cause.startswith(cause)
    with pytest.raises(PluginNotFoundError, match="'faulty' is broken and might provide it"):
        isolated.io_handler_class("bad")


# ---------------------------------------------------------------------------
# Autoload switch, registration
# ---------------------------------------------------------------------------


def test_disable_autoload_keeps_builtins_and_registered_plugins(isolated: RiversPluginManager) -> None:
    isolated.register(HandlerPlugin("mine"), name="mine")
    assert [plugin.name for plugin in isolated.list_plugins()] == ["rivers.builtin", "mine"]
    assert isolated.entry_points_loaded
    assert isolated.io_handler_class("mine") is Handler
    assert isolated.io_handler_class("memory") is InMemoryIOHandler
    with pytest.raises(PluginNotFoundError):
        isolated.io_handler_class("example-json")


@pytest.mark.parametrize(("value", "disabled"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_disable_autoload_values(value: str, disabled: bool) -> None:
    assert autoload_disabled({rivers.plugins.DISABLE_AUTOLOAD_ENV: value}) is disabled
    assert not autoload_disabled({})


def test_register_and_unregister_update_lookups() -> None:
    plugin = HandlerPlugin("temp")
    assert rivers.plugins.register(plugin, name="temp-plugin") is plugin
    try:
        assert rivers.plugins.io_handler_class("temp") is Handler
        registered = info("temp-plugin")
        assert (registered.source, registered.distribution, registered.components) == (
            "registered",
            None,
            {"io_handler": ("temp",)},
        )
        with pytest.raises(PluginError, match="already registered"):
            rivers.plugins.register(plugin)
    finally:
        assert rivers.plugins.unregister("temp-plugin") is plugin
    with pytest.raises(PluginNotFoundError):
        rivers.plugins.io_handler_class("temp")
    with pytest.raises(PluginNotFoundError, match="not a registered plugin"):
        rivers.plugins.unregister(plugin)


def test_the_builtins_answer_the_same_with_and_without_pluggy() -> None:
    direct, through_pluggy = RiversPluginManager(autoload=False), RiversPluginManager(autoload=False)
    through_pluggy.pluggy_manager  # creates the pluggy manager and registers the built-ins with it
    assert direct._pm is None and through_pluggy._pm is not None
    for kind in ("io_handler", "executor", "storage_backend"):
        assert direct.names(kind) == through_pluggy.names(kind)
    assert direct.io_handler_class("memory") is through_pluggy.io_handler_class("memory") is InMemoryIOHandler
    assert not direct.observers().active and not through_pluggy.observers().active
    assert direct._pm is None  # lookups and observers never needed it
    direct.register(HandlerPlugin("extra"))  # the first other plugin brings pluggy in, after the built-ins
    assert direct._pm is not None
    assert direct.names("io_handler") == ["extra", "memory"]
    assert direct.pluggy_manager.get_plugin("rivers.builtin") is not None


def test_the_builtins_can_be_unregistered_before_pluggy_is_needed() -> None:
    manager = RiversPluginManager(autoload=False)
    manager.unregister("rivers.builtin")
    with pytest.raises(PluginNotFoundError, match="'memory' is not available"):
        manager.io_handler_class("memory")
    assert manager.pluggy_manager.get_plugin("rivers.builtin") is None


def test_register_names_plugins_after_their_module_or_class(isolated: RiversPluginManager) -> None:
    import types

    module = types.ModuleType("my_rivers_plugin")
    isolated.register(module)
    isolated.register(HandlerPlugin("x"))
    names = [plugin.name for plugin in isolated.list_plugins()]
    assert "my_rivers_plugin" in names
    assert any(name.startswith(f"{__name__}.HandlerPlugin@0x") for name in names)


class Misspelled:
    @hookimpl
    def rivers_io_handler(self) -> dict[str, type]:
        return {}


class Unmarked:
    def rivers_io_handlers(self) -> dict[str, type]:
        return {}


class WrongArguments:
    @hookimpl
    def rivers_run_started(self, event: Any, extra: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (Misspelled(), "unknown hook 'rivers_io_handler' (did you mean 'rivers_io_handlers'?)"),
        (Unmarked(), "rivers_io_handlers is not marked with @rivers.hookimpl"),
        (WrongArguments(), "'extra'"),
    ],
)
def test_invalid_plugins_are_rejected_with_the_fix(isolated: RiversPluginManager, plugin, message) -> None:
    with pytest.raises(PluginError, match="cannot be registered") as excinfo:
        isolated.register(plugin, name="invalid")
    assert message in str(excinfo.value)
    assert [p.name for p in isolated.list_plugins()] == ["rivers.builtin"]


def test_executor_and_storage_factories_receive_config(isolated: RiversPluginManager) -> None:
    calls: list[tuple[str, Any]] = []
    storage = rivers.Storage.memory()  # a real backend: connect_storage checks it against the storage contract

    class Factories:
        @hookimpl
        def rivers_executors(self) -> dict[str, Any]:
            return {"recording": lambda **config: calls.append(("executor", config)) or "executor"}

        @hookimpl
        def rivers_storage_backends(self) -> dict[str, Any]:
            return {"rec": lambda url, **config: calls.append((url, config)) or storage}

    isolated.register(Factories())
    assert isolated.create_executor("recording", workers=2) == "executor"
    assert isolated.connect_storage("REC://host/db", timeout=3) is storage
    assert calls == [("executor", {"workers": 2}), ("REC://host/db", {"timeout": 3})]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///.rivers/rivers.db", os.path.join(".rivers", "rivers.db")),
        ("sqlite:////tmp/abs.db", "/tmp/abs.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    # a relative path is relative to the working directory when the URL is opened
    # (tests run inside their tmp_path, see tests/conftest.py)
    expected = path if path == ":memory:" else os.path.join(os.getcwd(), path)
    assert sqlite_path(url) == expected


def test_sqlite_url_without_path_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite:////absolute/path\.db"):
        rivers.plugins.connect_storage("sqlite://")


def test_builtin_storage_backends(tmp_path: Path) -> None:
    from rivers.storage import Storage

    assert isinstance(rivers.plugins.connect_storage("memory://"), Storage)
    storage = rivers.plugins.connect_storage(f"sqlite:///{tmp_path}/runs.db")
    assert isinstance(storage, Storage)
    assert (tmp_path / "runs.db").exists()


# ---------------------------------------------------------------------------
# Observers
# ---------------------------------------------------------------------------


def test_observers_are_inactive_without_observer_plugins(isolated: RiversPluginManager) -> None:
    observers = isolated.observers()
    assert observers.active is False
    observers.run_started(RunStarted("r", None, [], {}))  # a no-op


def test_observers_see_events_and_snapshots_follow_registration(isolated: RiversPluginManager) -> None:
    recorder = Recorder()
    isolated.register(recorder)
    observers = isolated.observers()
    assert observers.active
    assert isolated.observers() is observers  # cached until plugins change

    started = RunStarted("r1", "daily", ("a",), {})
    finished = StepFinished("r1", "a", "success", 0.01)
    observers.run_started(started)
    observers.step_started(StepStarted("r1", "a"))  # Recorder does not implement it
    observers.step_finished(finished)
    assert recorder.seen == [("run_started", started), ("step_finished", finished)]

    isolated.unregister(recorder)
    assert isolated.observers().active is False


def test_observer_exceptions_are_logged_and_never_propagate(
    isolated: RiversPluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        @hookimpl
        def rivers_run_finished(self) -> None:  # fewer arguments than the spec
            raise RuntimeError("observer bug")

    recorder = Recorder()
    isolated.register(recorder)
    isolated.register(Exploding(), name="exploding")
    event = RunFinished("r1", "failure", 1.0, ["a"])
    with caplog.at_level(logging.ERROR, logger="rivers.plugins"):
        isolated.observers().run_finished(event)

    assert recorder.seen == [("run_finished", event)]
    [record] = caplog.records
    assert "rivers_run_finished" in record.getMessage() and "'exploding'" in record.getMessage()
    assert "observer bug" in record.exc_text


def test_get_observers_on_the_shared_manager(register) -> None:
    recorder = register(Recorder())
    rivers.plugins.get_observers().run_started(RunStarted("r2", None, [], {}))
    assert [kind for kind, _ in recorder.seen] == ["run_started"]


def test_events_are_frozen_and_validated() -> None:
    event = StepFinished("r", "a", "failure", 0.2, "ValueError: bad")
    with pytest.raises(AttributeError):
        event.status = "success"  # type: ignore[misc]
    with pytest.raises(ValueError, match="status"):
        StepFinished("r", "a", "succeeded", 0.2)
    with pytest.raises(ValueError, match="status"):
        RunFinished("r", "Success", 0.2)
    assert RunFinished("r", "failure", 1, ["a", "b"]).failed_steps == ("a", "b")
    assert StepStarted("r", "a").to_dict() == {"event": "step_started", "run_id": "r", "step_key": "a"}


# ---------------------------------------------------------------------------
# Laziness
# ---------------------------------------------------------------------------


def test_importing_rivers_plugins_loads_no_entry_points(example_version: str, tmp_path: Path) -> None:
    code = """
        import sys
        import rivers, rivers.plugins
        print("rivers_example_plugin.plugin" in sys.modules, "rivers.plugins.manager" in sys.modules)
        rivers.plugins.io_handler_class("memory")
        print("rivers_example_plugin.plugin" in sys.modules, rivers.plugins.get_plugin_manager().entry_points_loaded)
        """
    # the first process after an install loads every plugin for a lookup, and records what they provide ...
    first = run_python(code, RIVERS_CACHE_DIR=str(tmp_path), RIVERS_PLUGIN_CACHE="1")
    assert first.splitlines() == ["False False", "True True"]
    # ... so the next one finds the built-in 'memory' handler without importing any plugin
    second = run_python(code, RIVERS_CACHE_DIR=str(tmp_path), RIVERS_PLUGIN_CACHE="1")
    assert second.splitlines() == ["False False", "False False"]


def test_reset_discards_the_shared_manager() -> None:
    before = rivers.plugins.get_plugin_manager()
    rivers.plugins.reset()
    after = rivers.plugins.get_plugin_manager()
    assert after is not before
    assert not after.entry_points_loaded


def test_cores_partition_types_come_through_the_plugin_hook():
    from rivers.partitions.static import StaticPartitions
    from rivers.plugins import builtin

    assert rivers.plugins.partition_type("static") is StaticPartitions
    assert {"static", "time_window", "multi", "dynamic"} <= set(rivers.plugins.component_names("partition_type"))
    (core,) = [info for info in rivers.plugins.list_plugins() if info.name == builtin.PLUGIN_NAME]
    assert "rivers_partition_types" in core.hooks, core


def test_cores_hook_functions_carry_hookimpl_like_a_third_partys():
    from rivers.plugins import builtin

    hooks = [name for name in dir(builtin) if name.startswith("rivers_")]
    assert hooks and all(getattr(builtin, name).rivers_impl["tryfirst"] is False for name in hooks), hooks


# ---------------------------------------------------------------------------
# CLI sub-commands of plugins (rivers_cli_commands)
# ---------------------------------------------------------------------------


class HelloCommand:
    """The docs/plugins.md example: ``rivers hello [--name NAME]``."""

    @staticmethod
    def _hello(args: Any, context: Any) -> int:
        context.console.print(f"hello {args.name} from {context.project.directory.name}")
        return 3

    @classmethod
    def _add_parser(cls, subparsers: Any, parents: Any) -> None:
        parser = subparsers.add_parser("hello", parents=parents, help="say hello")
        parser.add_argument("--name", default="world")
        parser.set_defaults(handler=cls._hello)

    @hookimpl
    def rivers_cli_commands(self) -> dict[str, Any]:
        return {"hello": self._add_parser}


def test_a_plugin_adds_a_rivers_sub_command(register, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rivers.cli.app import run

    register(HelloCommand(), "hello-plugin")
    project = tmp_path / "proj"
    project.mkdir()
    # global options work after the plugin's command too (its parser has the shared parents)
    assert run(["hello", "--name", "k8s", "--project-dir", str(project)]) == 3
    assert "hello k8s from proj" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run(["--help"])
    assert re.search(r"hello\s+say hello", capsys.readouterr().out)
    listed = {info.name: info for info in rivers.plugins.list_plugins()}
    assert listed["hello-plugin"].components["cli_command"] == ("hello",)


class _Claims:
    def __init__(self, name: str, add_parser: Any) -> None:
        self.name, self.add_parser = name, add_parser

    @hookimpl
    def rivers_cli_commands(self) -> dict[str, Any]:
        return {self.name: self.add_parser}


def test_plugin_commands_that_clash_or_raise_are_left_out_with_a_warning(
    register, capsys: pytest.CaptureFixture[str]
) -> None:
    from rivers.cli.app import build_parser

    def steals_runs(subparsers: Any, parents: Any) -> None:
        raise AssertionError("never called: 'runs' is core's")

    def raises(subparsers: Any, parents: Any) -> None:
        subparsers.add_parser("broken", parents=parents)
        raise RuntimeError("no parser today")

    register(_Claims("runs", steals_runs), "thief")
    register(_Claims("broken", raises), "breaks")
    parser = build_parser()
    err = capsys.readouterr().err
    assert "the command 'runs' of plugin 'thief' is left out: rivers has a command of that name" in err
    assert "the command 'broken' of plugin 'breaks' is left out: its add_parser raised RuntimeError: no parser" in err
    assert parser.parse_args(["runs"]).command == "runs"  # core's own command is intact
    with pytest.raises(SystemExit):
        parser.parse_args(["broken"])
