"""rivers.toml: defaults, sections, the storage URL override, and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import hide_installed_plugins

import rivers.plugins
from rivers.config import DEFAULT_STORAGE_URL, STORAGE_URL_ENV, ProjectConfig
from rivers.exceptions import ConfigurationError, PluginNotFoundError, ProjectConfigError
from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.memory import InMemoryIOHandler
from rivers.plugins import hookimpl


@pytest.fixture(autouse=True)
def no_storage_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORAGE_URL_ENV, raising=False)


def write_config(directory: Path, text: str) -> Path:
    path = directory / "rivers.toml"
    path.write_text(text)
    return path


class RootHandler(BaseIOHandler):
    root: str

    def handle_output(self, context: Any, obj: Any) -> None:
        pass

    def load_input(self, context: Any) -> Any:
        return None


class RootHandlerPlugin:
    @hookimpl
    def rivers_io_handlers(self) -> dict[str, type[BaseIOHandler]]:
        return {"rooted": RootHandler}


@pytest.fixture
def rooted_plugin():
    plugin = rivers.plugins.register(RootHandlerPlugin(), name="rooted-plugin")
    yield plugin
    rivers.plugins.unregister(plugin)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = ProjectConfig.load(tmp_path)
    assert config.path is None
    assert config.storage_url == DEFAULT_STORAGE_URL == "sqlite:///.rivers/rivers.db"
    assert (config.executor_name, config.io_handler_name) == ("in_process", "memory")
    assert config.storage_settings == config.executor_settings == config.io_handler_settings == {}
    assert config.storage_url_source == "default"


def test_load_reads_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, '[executor]\nname = "parallel"\n')
    monkeypatch.chdir(tmp_path)
    assert ProjectConfig.load().executor_name == "parallel"


def test_sections_and_extra_settings(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [storage]
        url = "memory://"
        timeout = 5

        [executor]
        name = "kubernetes"
        namespace = "jobs"

        [io_handler]
        name = "s3"
        bucket = "data"
        prefix = "prod/"
        """.replace("        ", ""),
    )
    config = ProjectConfig.load(tmp_path)
    assert config.path == path
    assert (config.storage_url, config.storage_settings) == ("memory://", {"timeout": 5})
    assert (config.executor_name, config.executor_settings) == ("kubernetes", {"namespace": "jobs"})
    assert (config.io_handler_name, config.io_handler_settings) == ("s3", {"bucket": "data", "prefix": "prod/"})
    assert config.storage_url_source == str(path)


@pytest.mark.parametrize(("override", "settings"), [("memory://", {}), ("sqlite:////tmp/y.db", {"timeout": 5})])
def test_environment_overrides_the_storage_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str, settings: dict[str, Any]
) -> None:
    write_config(tmp_path, '[storage]\nurl = "sqlite:///x.db"\ntimeout = 5\n')
    monkeypatch.setenv(STORAGE_URL_ENV, override)
    config = ProjectConfig.load(tmp_path)
    assert (config.storage_url, config.storage_url_source) == (override, STORAGE_URL_ENV)
    assert config.storage_settings == settings  # kept only for the same backend


def test_builders_go_through_the_plugin_lookups(tmp_path: Path, rooted_plugin: object) -> None:
    from rivers.execution.executors import Executor
    from rivers.storage import Storage

    write_config(
        tmp_path,
        f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n[io_handler]\nname = "rooted"\nroot = "out"\n',
    )
    config = ProjectConfig.load(tmp_path)
    handler = config.make_io_handler()
    assert isinstance(handler, RootHandler) and handler.root == "out"
    assert isinstance(config.make_executor(), Executor)
    assert isinstance(config.make_storage(), Storage)
    assert isinstance(ProjectConfig().make_io_handler(), InMemoryIOHandler)


def test_unknown_component_error_names_the_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    hide_installed_plugins(monkeypatch, request)  # rivers-io-s3 is installed in the test environment
    path = write_config(tmp_path, '[io_handler]\nname = "s3"\n')
    with pytest.raises(PluginNotFoundError) as excinfo:
        ProjectConfig.load(tmp_path).make_io_handler()
    message = str(excinfo.value)
    assert message.startswith(f"{path} [io_handler] name = 's3': IO handler 's3' is not available")
    assert "pip install rivers-io-s3" in message


def test_bad_settings_error_names_the_section(tmp_path: Path, rooted_plugin: object) -> None:
    write_config(tmp_path, '[io_handler]\nname = "rooted"\nroot = "out"\ncolour = "blue"\n')
    with pytest.raises(ProjectConfigError, match=r"\[io_handler\] name = 'rooted': invalid settings.*colour"):
        ProjectConfig.load(tmp_path).make_io_handler()


def test_the_embedded_storage_takes_its_commit_delay_from_the_storage_section(tmp_path: Path) -> None:
    write_config(tmp_path, f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\ncommit_delay = 0\n')
    storage = ProjectConfig.load(tmp_path).make_storage()
    assert storage.commit_delay == 0  # type: ignore[attr-defined]
    storage.close()
    path = write_config(tmp_path, f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\ncommit_delay = "soon"\n')
    with pytest.raises(ConfigurationError) as excinfo:
        ProjectConfig.load(tmp_path).make_storage()
    assert str(excinfo.value).startswith(f"{path} [storage] url = ")
    assert "commit_delay must be a number of seconds >= 0" in str(excinfo.value)


def test_bad_storage_url_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORAGE_URL_ENV, "nowhere")
    with pytest.raises(Exception, match=f"^{STORAGE_URL_ENV} = 'nowhere': storage URL 'nowhere' has no scheme"):
        ProjectConfig.load(tmp_path).make_storage()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[executor\nname = 1", ["invalid TOML", "line 1"]),
        ('[executors]\nname = "x"\n', ["unknown section [executors]", "Did you mean [executor]?"]),
        ('url = "memory://"\n', ["unexpected top-level key 'url'", "[storage]"]),
        ('storage = "memory://"\n', ["storage must be a table written [storage]"]),
        ("[storage]\nurl = 3\n", ["[storage] url must be a non-empty string, got int 3", 'url = "sqlite:///']),
        ('[executor]\nname = ""\n', ["[executor] name must be a non-empty string", 'name = "in_process"']),
    ],
)
def test_malformed_files_name_the_file_key_and_fix(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ProjectConfigError) as excinfo:
        ProjectConfig.load(tmp_path)
    message = str(excinfo.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


def test_importing_config_is_cheap() -> None:
    import subprocess
    import sys

    code = "import sys, rivers.config; print('tomllib' in sys.modules, 'rivers.plugins.manager' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
