"""rivers — a pure-Python, plugin-based orchestrator for software-defined data assets.

    import rivers as rs

    @rs.Asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    @rs.Asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    rs.CodeRepository(assets=[numbers, total]).materialize()

Public names are imported on first use (PEP 562), so ``import rivers`` stays
cheap: command-line tools and worker processes only pay for what they touch.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

from rivers import _registry
from rivers._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # assets
    "Asset": "rivers.definitions.assets",
    "SingleAsset": "rivers.definitions.assets",
    "MultiAsset": "rivers.definitions.assets",
    "GraphAsset": "rivers.definitions.assets",
    "ExternalAsset": "rivers.definitions.assets",
    "AssetDef": "rivers.definitions.asset_def",
    "DepDef": "rivers.definitions.asset_def",
    "SelfDependency": "rivers.definitions.self_dependency",
    "Output": "rivers.definitions.results",
    "Observation": "rivers.definitions.results",
    "Materialization": "rivers.definitions.results",
    "DynamicOutput": "rivers.definitions.results",
    "Task": "rivers.definitions.tasks",
    "BashTask": "rivers.definitions.tasks",
    "InvokedNodeOutput": "rivers.definitions.composition",
    "Hook": "rivers.definitions.hooks",
    # contexts and metadata
    "AssetExecutionContext": "rivers.context",
    "TaskExecutionContext": "rivers.context",
    "InputContext": "rivers.context",
    "OutputContext": "rivers.context",
    "HookContext": "rivers.context",
    "MetadataValue": "rivers.metadata",
    "Schema": "rivers.metadata",
    # repository and runs
    "CodeRepository": "rivers.repository",
    "Job": "rivers.jobs",
    "RunResult": "rivers.execution.result",
    "RunHandle": "rivers.runs",
    "RunLauncher": "rivers.runs",
    "RunQueueConfig": "rivers.runs",
    "TagConcurrencyLimit": "rivers.runs",
    "RunInterrupted": "rivers.runs",
    "RunTerminated": "rivers.runs",
    "Executor": "rivers.execution.executors",
    "RetryPolicy": "rivers.definitions.retry",
    "Backoff": "rivers.definitions.retry",
    "RetryOn": "rivers.definitions.retry",
    "FailureReason": "rivers.definitions.failures",
    "Compute": "rivers.definitions.compute",
    "ComputeEscalation": "rivers.definitions.compute",
    "Resource": "rivers.resources",
    "AssetSelection": "rivers.selection",
    "load_assets_from_modules": "rivers.loading",
    "load_assets_from_package_module": "rivers.loading",
    # io
    "BaseIOHandler": "rivers.io_handlers.base",
    "InMemoryIOHandler": "rivers.io_handlers.memory",
    "PickleIOHandler": "rivers.io_handlers.pickle",
    # partitions
    "PartitionsDefinition": "rivers.partitions.base",
    "PartitionKey": "rivers.partitions.keys",
    "PartitionKeyRange": "rivers.partitions.ranges",
    "PartitionContext": "rivers.partitions.context",
    "PartitionMapping": "rivers.partitions.mappings",
    "BackfillStrategy": "rivers.partitions.strategy",
    "BackfillResult": "rivers.backfills.results",
    "BackfillHandle": "rivers.backfills.handle",
    "BackfillStatus": "rivers.backfills.results",
    # storage
    "Storage": "rivers.storage",
    "StorageType": "rivers.storage",
    "StoredEvent": "rivers.storage",
    "StoredLog": "rivers.storage",
    "AssetRecord": "rivers.storage",
    "RunRecord": "rivers.storage",
    "StaleCause": "rivers.storage",
    "LaunchedBy": "rivers.storage",
    "StoredTick": "rivers.storage.control_records",
    # automation
    "AutomationCondition": "rivers.automation.conditions",
    "Schedule": "rivers.automation.schedules",
    "ScheduleEvaluationContext": "rivers.automation.schedules",
    "ScheduleStatus": "rivers.automation.schedules",
    "ScheduleTickResult": "rivers.automation.schedules",
    "Sensor": "rivers.automation.sensors",
    "SensorEvaluationContext": "rivers.automation.sensors",
    "SensorStatus": "rivers.automation.sensors",
    "SensorTickResult": "rivers.automation.sensors",
    "RunRequest": "rivers.automation.requests",
    "BackfillRequest": "rivers.automation.requests",
    "SkipReason": "rivers.automation.requests",
    "SensorResult": "rivers.automation.requests",
    "EvalMode": "rivers.automation.requests",
    # plugins
    "hookimpl": "rivers.plugins",
}

_MODULES = ("exceptions", "plugins", "testing", "io_handlers", "hookspecs", "config", "selection")

__all__ = sorted([*_EXPORTS, "exceptions", "io_handler", "plugins"])


def io_handler(name: str, **config: Any) -> Any:
    """The IO handler a plugin registered under ``name``, configured with ``config``.

    ``rs.io_handler("fs", base_dir="data")`` needs the ``rivers-io-fs`` plugin;
    ``rs.io_handler("memory")`` is built in.
    """
    from rivers.plugins import create_io_handler

    return create_io_handler(name, **config)


@functools.cache  # imported on first use, then kept: an import statement costs ~0.5 us per lookup
def _plugin_registry() -> _registry.Registry:
    from rivers import plugins

    return plugins


# the composition root: the layers below the plugin registry reach it through this port
_registry.install(_plugin_registry)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(module_name), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f"rivers.{name}")
    raise AttributeError(f"module 'rivers' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_MODULES})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from rivers import exceptions, plugins
    from rivers.context import AssetExecutionContext, HookContext, InputContext, OutputContext, TaskExecutionContext
    from rivers.definitions.asset_def import AssetDef, DepDef
    from rivers.definitions.assets import Asset, ExternalAsset, GraphAsset, MultiAsset, SingleAsset
    from rivers.definitions.composition import InvokedNodeOutput
    from rivers.definitions.compute import Compute, ComputeEscalation
    from rivers.definitions.hooks import Hook
    from rivers.definitions.results import DynamicOutput, Materialization, Observation, Output
    from rivers.definitions.self_dependency import SelfDependency
    from rivers.definitions.tasks import BashTask, Task
    from rivers.execution.executors import Executor
    from rivers.execution.result import RunResult
    from rivers.definitions.failures import FailureReason
    from rivers.definitions.retry import Backoff, RetryOn, RetryPolicy
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.io_handlers.memory import InMemoryIOHandler
    from rivers.io_handlers.pickle import PickleIOHandler
    from rivers.jobs import Job
    from rivers.loading import load_assets_from_modules, load_assets_from_package_module
    from rivers.metadata import MetadataValue, Schema
    from rivers.backfills.handle import BackfillHandle
    from rivers.backfills.results import BackfillResult, BackfillStatus
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.context import PartitionContext
    from rivers.partitions.keys import PartitionKey
    from rivers.partitions.mappings.base import PartitionMapping
    from rivers.partitions.ranges import PartitionKeyRange
    from rivers.partitions.strategy import BackfillStrategy
    from rivers.automation.conditions import AutomationCondition
    from rivers.automation.requests import BackfillRequest, EvalMode, RunRequest, SensorResult, SkipReason
    from rivers.automation.schedules import Schedule, ScheduleEvaluationContext, ScheduleStatus, ScheduleTickResult
    from rivers.automation.sensors import Sensor, SensorEvaluationContext, SensorStatus, SensorTickResult
    from rivers.plugins import hookimpl
    from rivers.storage.control_records import StoredTick
    from rivers.repository import CodeRepository
    from rivers.resources import Resource
    from rivers.runs import (
        RunHandle,
        RunInterrupted,
        RunLauncher,
        RunQueueConfig,
        RunTerminated,
        TagConcurrencyLimit,
    )
    from rivers.selection import AssetSelection
    from rivers.storage import AssetRecord, LaunchedBy, RunRecord, StaleCause, Storage, StorageType, StoredEvent, StoredLog
