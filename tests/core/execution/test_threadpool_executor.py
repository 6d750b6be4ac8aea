"""The example executor of tests/plugins/rivers-threadpool-executor passes the conformance kit."""

from __future__ import annotations

import pytest

import rivers as rs
from rivers.testing.executors import ExecutorConformance


class TestThreadPoolConformance(ExecutorConformance):
    executor_name = "threadpool"
    executor_config = {"max_threads": 3}


def test_the_plugin_executor_is_found_by_name_and_checks_its_configuration() -> None:
    executor = rs.Executor.from_plugin("threadpool", max_threads=2)
    assert repr(executor) == "Executor.from_plugin('threadpool', max_threads=2)"
    with pytest.raises(rs.exceptions.ConfigurationError, match="max_threads must be an int >= 1"):
        rs.Executor.from_plugin("threadpool", max_threads=0)


def test_per_asset_metadata_may_name_the_plugin_executor() -> None:
    import threading

    @rs.Asset(metadata={"rivers/executor": "threadpool"})
    def on_a_pool_thread() -> str:
        return threading.current_thread().name

    @rs.Asset
    def here(on_a_pool_thread: str) -> tuple:
        return on_a_pool_thread, threading.current_thread().name

    repo = rs.CodeRepository(assets=[on_a_pool_thread, here], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.memory())
    assert repo.materialize().success
    pool_thread, main_thread = repo.load_node("here")
    assert pool_thread.startswith("rivers-threadpool") and main_thread == threading.current_thread().name
