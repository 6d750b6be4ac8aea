"""Exceptions raised by rivers.

Every user mistake raises one of these classes with a message that names the
asset, parameter, key or plugin at fault and says how to fix it. The sixteen
classes of the published ``rivers`` package keep their names and hierarchy so
that code written against it keeps catching them; the plugin errors are
additions of this project and subclass :class:`ConfigurationError`;
:class:`BatchValueError` (a :class:`PartitionValidationError`), :class:`RunStartTimeoutError` and
:class:`BackfillTimeoutError` (both :class:`ExecutionError`) are additions too.
"""

from __future__ import annotations

__all__ = [
    "AssetDefinitionError",
    "AssetNotFoundError",
    "AssetOutputValidationError",
    "BackfillTimeoutError",
    "BackfillUnattendedError",
    "BatchValueError",
    "ConfigurationError",
    "ExecutionError",
    "GraphValidationError",
    "IOHandlerError",
    "InvalidMetadataError",
    "NodeNotFoundError",
    "PartitionDefinitionError",
    "PartitionValidationError",
    "ResultDefinitionError",
    "RunStartTimeoutError",
    "ScheduleDefinitionError",
    "SchemaMigrationNeededError",
    "StorageCapabilityError",
    "StorageContractError",
    "SensorDefinitionError",
    "StorageError",
    "TaskDefinitionError",
    "PluginError",
    "PluginNotFoundError",
    "PluginConflictError",
    "ProjectConfigError",
]


class AssetDefinitionError(Exception):
    """An asset, hook, pool or handler definition is malformed."""


class AssetNotFoundError(Exception):
    """A selection names an asset the repository does not have."""


class AssetOutputValidationError(Exception):
    """A step returned a value that does not match its return annotation."""


class ConfigurationError(Exception):
    """Resources, config, retry policies, executors or plugins are misconfigured."""


class ExecutionError(Exception):
    """A run could not be submitted or a step could not be executed."""


class RunStartTimeoutError(ExecutionError):
    """A run admitted by the run queue did not start within ``RunQueueConfig.start_timeout``."""


class BackfillTimeoutError(ExecutionError, TimeoutError):
    """``BackfillHandle.wait(timeout)`` gave up: the backfill (named in the message) had not finished.

    Also a :class:`TimeoutError`, as ``RunHandle.wait`` raises. The backfill
    goes on; ``wait()`` again, or ``cancel()`` it.
    """


class BackfillUnattendedError(BackfillTimeoutError):
    """``BackfillHandle.wait()`` found nothing executing a requested backfill (no daemon leads, this process does not run it)."""


class GraphValidationError(Exception):
    """The asset graph is invalid: cycles, unresolved inputs, bad jobs."""


class IOHandlerError(Exception):
    """An IO handler could not write or load a value (the store refused, is unreachable, or holds none).

    Handlers raise subclasses that name the asset, the partition and where the
    value lives (file, bucket and key), and say what to check.
    """


class InvalidMetadataError(Exception):
    """A metadata value is invalid (for example a malformed URL)."""


class NodeNotFoundError(Exception):
    """A lookup named an unknown node, job, schedule or sensor."""


class PartitionDefinitionError(Exception):
    """A partition definition, key, range or strategy is invalid."""


class PartitionValidationError(Exception):
    """A partition key or mapping does not fit a definition."""


class BatchValueError(PartitionValidationError, LookupError):
    """A partition's value was stored as one value for a whole batch of partitions.

    Raised by IO handlers when a load meets a member of a batch value
    (see :mod:`rivers.io_handlers.partition_keys`) other than through a step
    over that same batch. ``asset``, ``partition`` (the key) and ``batch``
    (a :class:`~rivers.io_handlers.partition_keys.BatchRef`) name it.
    """

    def __init__(self, message: str, *, asset: str = "", partition: object = None, batch: object = None) -> None:
        super().__init__(message)
        self.asset = asset
        self.partition = partition
        self.batch = batch

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_batch_error, (str(self), self.asset, self.partition, self.batch))


def _rebuild_batch_error(message: str, asset: str, partition: object, batch: object) -> BatchValueError:
    return BatchValueError(message, asset=asset, partition=partition, batch=batch)


class ResultDefinitionError(Exception):
    """A sensor or schedule result is contradictory."""


class ScheduleDefinitionError(Exception):
    """A schedule definition is invalid."""


class SensorDefinitionError(Exception):
    """A sensor definition is invalid."""


class StorageError(Exception):
    """A storage operation failed or was given invalid input."""


class SchemaMigrationNeededError(StorageError):
    """A persistent store was written by an incompatible version."""


class StorageContractError(StorageError):
    """A storage backend does not fulfil the storage contract (its version or capabilities)."""


class StorageCapabilityError(StorageError):
    """A storage method was called on a backend that lacks its capability."""


class TaskDefinitionError(Exception):
    """A task definition is invalid (for example an empty command)."""


class PluginError(ConfigurationError):
    """Base class of the plugin-system errors."""


class PluginNotFoundError(PluginError):
    """No installed plugin provides the requested component name."""


class PluginConflictError(PluginError):
    """Two plugins claim the same component name."""


class ProjectConfigError(ConfigurationError):
    """The project file ``rivers.toml`` is malformed."""
