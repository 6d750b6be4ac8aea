"""Projects written for the published package: its rivers.toml tables, pyproject.toml, RIVERS_* variables, flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivers.config import ProjectConfig
from rivers.exceptions import ProjectConfigError
from test_cli import RUN_LINE, assert_user_error, rivers, write

REPOSITORY = """
import rivers as rs

@rs.Asset
def greeting() -> str:
    return "hello"

repo = rs.CodeRepository(assets=[greeting])
other = rs.CodeRepository(assets=[greeting])
"""

PACKAGE_DEMO_TOML = """
[module]
path = "package_demo.repository"
repo_var = "repo"

[storage]
path = ".rivers/storage/"

[server]
host = "127.0.0.1"
port = 3000
grpc_port = 3001

[daemon]
no_daemon = false
"""


def demo(tmp_path: Path) -> Path:
    write(tmp_path, "package_demo/__init__.py", "")
    write(tmp_path, "package_demo/repository.py", REPOSITORY)
    write(tmp_path, "rivers.toml", PACKAGE_DEMO_TOML)
    return tmp_path


def test_the_published_package_demo_runs_without_target(tmp_path: Path) -> None:
    project = demo(tmp_path)
    result = rivers(project, "materialize")
    assert result.returncode == 0, result.stderr
    assert RUN_LINE.search(result.stdout)["outcome"].startswith("success")
    assert (project / ".rivers" / "storage" / "rivers.db").is_file()  # [storage] path is a directory
    assert "[server] grpc_port: the gRPC port is used only by the published rivers package; ignored" in result.stderr
    assert result.stderr.count("note:") == 1
    # found by walking up from a sub-directory; relative paths stay those of the file
    (project / "sub").mkdir()
    listed = rivers(project / "sub", "runs")
    assert listed.stdout.count("materialize") == 1, listed.stdout
    assert rivers(project / "sub", "validate").returncode == 0


def test_pyproject_tool_rivers_environment_and_flags(tmp_path: Path) -> None:
    write(tmp_path, "package_demo/__init__.py", "")
    write(tmp_path, "package_demo/repository.py", REPOSITORY)
    write(tmp_path, "pyproject.toml", """
        [project]
        name = "demo"

        [tool.rivers.module]
        path = "package_demo.repository"
        repo_var = "other"

        [tool.rivers.storage]
        path = "from-pyproject"
        """)
    result = rivers(tmp_path, "materialize", "-q")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-pyproject" / "rivers.db").is_file()
    by_env = rivers(tmp_path, "materialize", "-q", RIVERS_STORAGE_PATH="from-env")
    assert by_env.returncode == 0, by_env.stderr
    assert (tmp_path / "from-env" / "rivers.db").is_file()
    by_flag = rivers(tmp_path, "materialize", "-q", "--storage-path", "from-flag", RIVERS_STORAGE_PATH="from-env")
    assert by_flag.returncode == 0, by_flag.stderr
    assert (tmp_path / "from-flag" / "rivers.db").is_file()
    memory = rivers(tmp_path, "materialize", "package_demo.repository", "--repo-var", "repo", "--memory")
    assert memory.returncode == 0, memory.stderr
    assert not (tmp_path / ".rivers").exists()
    both = rivers(tmp_path, "materialize", "--memory", "--storage", "memory://")
    assert_user_error(both)
    assert "give one storage option" in both.stderr
    endpoint = rivers(tmp_path, "runs", "--surreal-endpoint", "ws://localhost:8000")
    assert endpoint.returncode == 0
    assert "--surreal-endpoint: SurrealDB endpoints are used only by the published rivers package" in endpoint.stderr


def test_rivers_toml_wins_over_pyproject_and_env_over_both(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.rivers.executor]\nname = "parallel"\nmax_workers = 3\n'
                                      '[tool.rivers.module]\npath = "a.b"\n')
    write(tmp_path, "rivers.toml", '[executor]\nname = "in_process"\n')
    config = ProjectConfig.load(tmp_path, environ={})
    assert config.executor_name == "in_process" and config.executor_settings == {"max_workers": 3}
    assert config.module_target == "a.b:repo"
    env = ProjectConfig.load(tmp_path, environ={"RIVERS_EXECUTOR_NAME": "parallel", "RIVERS_EXECUTOR_MAX_WORKERS": "2",
                                                "RIVERS_MODULE_REPO_VAR": "mine", "RIVERS_CLAIM_TIMEOUT": "5",
                                                "RIVERS_IO_HANDLER_NAME": "memory"})
    assert (env.executor_name, env.executor_settings) == ("parallel", {"max_workers": 2})
    assert env.module_target == "a.b:mine" and env.io_handler_name == "memory"
    assert env.origins["executor.max_workers"] == "RIVERS_EXECUTOR_MAX_WORKERS"
    flags = ProjectConfig.load(tmp_path, environ={"RIVERS_STORAGE_URL": "memory://"},
                               overrides={"storage": {"url": ("sqlite:///x.db", "--storage")}})
    assert (flags.storage_url, flags.storage_url_source) == ("sqlite:///x.db", "--storage")


@pytest.mark.parametrize(("environ", "fragment"), [
    ({"RIVERS_SERVER_PORT": "eighty"}, "RIVERS_SERVER_PORT must be a whole number"),
    ({"RIVERS_DAEMON_NO_DAEMON": "maybe"}, "RIVERS_DAEMON_NO_DAEMON must be true or false"),
    ({"RIVERS_MODULE_REPO_VAR": "not a name"}, "RIVERS_MODULE_REPO_VAR = 'not a name': expected a Python name"),
])
def test_bad_environment_values_name_the_variable(tmp_path: Path, environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(ProjectConfigError, match=fragment.replace("(", r"\(")):
        ProjectConfig.load(tmp_path, environ=environ)


def test_published_settings_are_read(tmp_path: Path) -> None:
    demo(tmp_path)
    config = ProjectConfig.load(tmp_path, environ={"RIVERS_DAEMON_NO_DAEMON": "true"})
    assert (config.server_host, config.server_port, config.daemon_enabled) == ("127.0.0.1", 3000, False)
    assert config.module_target == "package_demo.repository:repo"
    assert config.absolute_storage_url() == f"sqlite:///{tmp_path}/.rivers/storage/rivers.db"
    write(tmp_path, "rivers.toml", '[storage]\nurl = "memory://"\npath = "x"\n')
    with pytest.raises(ProjectConfigError, match="give one of them"):
        ProjectConfig.load(tmp_path, environ={})


def test_no_target_and_no_module_is_a_clear_error(tmp_path: Path) -> None:
    result = rivers(tmp_path, "materialize")
    assert_user_error(result)
    assert "no TARGET given and no module configured" in result.stderr
    assert '[module] path = "my_pkg.repository"' in result.stderr


def test_resume_a_run_of_the_configured_module_from_another_directory(tmp_path: Path) -> None:
    project = demo(tmp_path)
    write(project, "package_demo/repository.py", """
        import os

        import rivers as rs

        @rs.Asset
        def greeting() -> str:
            if os.environ.get("DEMO_BREAK"):
                raise RuntimeError("broken on purpose")
            return "hello"

        repo = rs.CodeRepository(assets=[greeting])
        """)
    (project / "one").mkdir()
    (project / "two").mkdir()
    failed = rivers(project / "one", "materialize", DEMO_BREAK="1")
    assert failed.returncode == 1, failed.stderr
    run_id = RUN_LINE.search(failed.stdout)["id"]
    resumed = rivers(project / "two", "resume", run_id[:8])
    assert resumed.returncode == 0, resumed.stderr
    assert RUN_LINE.search(resumed.stdout)["outcome"].startswith("success")
