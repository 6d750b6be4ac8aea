"""Fixtures of the UI tests: the example repository on a real SQLite file, and the app over HTTP."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest

import rivers as rs

PIPELINE = Path(__file__).with_name("pipeline.py")
_loaded = itertools.count()


def load_pipeline(directory: Path) -> Any:
    """A fresh import of the example pipeline copied into ``directory`` (its own repository object)."""
    target = directory / "pipeline.py"
    shutil.copyfile(PIPELINE, target)
    spec = importlib.util.spec_from_file_location(f"rivers_ui_test_pipeline_{next(_loaded)}", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def repo(tmp_path: Path) -> Any:
    """The example repository resolved against a SQLite file in the test's directory."""
    repository = load_pipeline(tmp_path).repo
    repository.resolve(rs.Storage.embedded(str(tmp_path / "ui.db")))
    yield repository
    repository.shutdown()


@pytest.fixture
def client(repo: Any) -> Any:
    """A Starlette test client of the UI of ``repo`` (lifespan run, so the event hub stops at the end)."""
    from starlette.testclient import TestClient

    from rivers_ui import UiSettings, create_app

    app = create_app(repo, settings=UiSettings(storage_url="sqlite:///ui.db"))
    with TestClient(app, base_url="http://127.0.0.1:3000") as test_client:
        test_client.csrf = app.state.ui.csrf
        yield test_client
