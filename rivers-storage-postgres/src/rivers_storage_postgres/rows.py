"""Rows of the PostgreSQL tables and the records they hold.

The column lists fix the order of every row written or read. Partition keys
are stored as their stored text (``PartitionKey.stored_text()``); records
built from text turn it back into a ``PartitionKey``. An event's list
fields travel as one JSON text ``[metadata, input_data_versions]`` (``''``
when both are empty, as for most step events); its partition, data and
code versions are columns, so the derived tables are computed in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from rivers.storage.records import AssetRecord, LaunchedBy, RunRecord, StoredEvent, StoredLog, partition_to_stored

__all__ = [
    "ASSET_COLUMNS",
    "ASSET_SELECT",
    "EVENT_COLUMNS",
    "LOG_COLUMNS",
    "RUN_COLUMNS",
    "RUN_SELECT",
    "asset_from_row",
    "asset_to_row",
    "encode_json",
    "event_from_row",
    "event_to_row",
    "log_from_row",
    "run_from_row",
    "run_to_row",
]

EVENT_COLUMNS: Final = "id, event_type, asset_key, run_id, timestamp, partition, data_version, code_version, body"
LOG_COLUMNS: Final = "id, run_id, step_key, timestamp, stdout, stderr, logs"
RUN_COLUMNS: Final = (
    "run_id, job_name, status, start_time, end_time, tags, node_names, priority, partition_key, "
    "block_reason, launched_kind, launched_ref"
)
ASSET_COLUMNS: Final = (
    "asset_key, tags, kinds, asset_group, code_version, last_event_id, last_run_id, last_timestamp, "
    "last_data_version, last_materialization_code_version, last_input_data_versions, pool"
)

#: Compact JSON (the server parses jsonb columns itself).
encode_json: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: The columns of :data:`ASSET_COLUMNS` and :data:`RUN_COLUMNS` as a SELECT reads them (``a.`` / ``r.``
#: aliases): JSON columns as text, decoded by :func:`_decode` (most are ``[]``; psycopg's jsonb loader
#: would call the JSON decoder on bytes for each).
ASSET_SELECT: Final = (
    "a.asset_key, a.tags::text, a.kinds::text, a.asset_group, a.code_version, a.last_event_id, a.last_run_id, "
    "a.last_timestamp, a.last_data_version, a.last_materialization_code_version, "
    "a.last_input_data_versions::text, a.pool::text"
)
RUN_SELECT: Final = (
    "r.run_id, r.job_name, r.status, r.start_time, r.end_time, r.tags::text, r.node_names::text, r.priority, "
    "r.partition_key, r.block_reason, r.launched_kind, r.launched_ref"
)


def _decode(text: str) -> Any:
    """A JSON column read as text (``[]`` without the decoder)."""
    return [] if text == "[]" else json.loads(text)


def _pairs(values: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(pair) for pair in values]


def event_to_row(event: StoredEvent) -> tuple[Any, ...]:
    """Row of ``events`` in :data:`EVENT_COLUMNS` order (``body``: JSON ``[metadata, input_data_versions]`` or '')."""
    body = encode_json((event.metadata, event.input_data_versions)) if event.metadata or event.input_data_versions \
        else ""
    return (event.id, event.event_type, event.asset_key, event.run_id, event.timestamp,
            partition_to_stored(event.partition_key), event.data_version, event.code_version, body)


def event_from_row(row: Sequence[Any]) -> StoredEvent:
    """Inverse of :func:`event_to_row`."""
    if not row[8]:
        return StoredEvent(row[0], row[1], row[2], row[3], row[5], row[4], None, row[6], row[7])
    metadata, inputs = json.loads(row[8])
    return StoredEvent(row[0], row[1], row[2], row[3], row[5], row[4], _pairs(metadata), row[6], row[7], _pairs(inputs))


def log_from_row(row: Sequence[Any]) -> StoredLog:
    """A ``StoredLog`` from a row in :data:`LOG_COLUMNS` order."""
    return StoredLog(*row)


def run_to_row(record: RunRecord) -> tuple[Any, ...]:
    """Row of ``runs`` in :data:`RUN_COLUMNS` order (JSON columns as text)."""
    return (
        record.run_id,
        record.job_name,
        record.status,
        record.start_time,
        record.end_time,
        encode_json(record.tags),
        encode_json(list(record.node_names)),
        record.priority,
        partition_to_stored(record.partition_key),
        record.block_reason,
        *record.launched_by.to_stored(),
    )


def run_from_row(row: Sequence[Any]) -> RunRecord:
    """Inverse of :func:`run_to_row` (a row of :data:`RUN_SELECT`)."""
    return RunRecord(
        run_id=row[0],
        job_name=row[1],
        status=row[2],
        start_time=row[3],
        end_time=row[4],
        tags=_pairs(_decode(row[5])),
        node_names=_decode(row[6]),
        priority=row[7],
        partition_key=row[8],
        block_reason=row[9],
        launched_by=LaunchedBy.from_stored(row[10], row[11]),
    )


def asset_to_row(record: AssetRecord) -> tuple[Any, ...]:
    """Row of ``asset_records`` in :data:`ASSET_COLUMNS` order (JSON columns as lists: the row is sent as JSON)."""
    return (
        record.asset_key,
        record.tags,
        record.kinds,
        record.group,
        record.code_version,
        record.last_event_id,
        record.last_run_id,
        record.last_timestamp,
        record.last_data_version,
        record.last_materialization_code_version,
        record.last_input_data_versions,
        record.pool,
    )


def asset_from_row(row: Sequence[Any]) -> AssetRecord:
    """Inverse of :func:`asset_to_row` (a row of :data:`ASSET_SELECT`)."""
    return AssetRecord(
        asset_key=row[0],
        tags=_decode(row[1]),
        kinds=_decode(row[2]),
        group=row[3],
        code_version=row[4],
        last_event_id=row[5],
        last_run_id=row[6],
        last_timestamp=row[7],
        last_data_version=row[8],
        last_materialization_code_version=row[9],
        last_input_data_versions=_pairs(_decode(row[10])),
        pool=_pairs(_decode(row[11])),
    )
