"""The built-in executors pass the executor conformance kit."""

from __future__ import annotations

from rivers.testing.executors import ExecutorConformance


class TestInProcessConformance(ExecutorConformance):
    executor_name = "in_process"
    concurrent_steps = False  # one step at a time, by definition


class TestParallelConformance(ExecutorConformance):
    executor_name = "parallel"
    executor_config = {"max_workers": 2}
    isolated_runner = True
