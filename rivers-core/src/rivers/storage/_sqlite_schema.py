"""Schema of the embedded SQLite store and the conversions between rows and records.

Column lists here fix the order of every row the backend writes or reads;
:mod:`rivers.storage.sqlite` only runs statements. List-valued fields are
JSON text. Derived state of events (asset ``last_*`` fields, latest
materialization per asset and partition, the number of materialized
partitions) is maintained by triggers, so it is always written in the
transaction that inserts the event, whoever inserts it. The DDL of later
schema versions is in :mod:`rivers.storage._sqlite_migrations`.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Sequence
from typing import Any, Final

from rivers.storage.records import (
    AssetRecord,
    LaunchedBy,
    RunRecord,
    StoredEvent,
    StoredLog,
    partition_from_stored,
    partition_to_stored,
)

EVENT_COLUMNS: Final = "id, event_type, asset_key, run_id, timestamp, body"
RUN_COLUMNS: Final = (
    "run_id, job_name, status, start_time, end_time, tags, node_names, priority, partition_key, "
    "block_reason, launched_kind, launched_ref"
)
ASSET_COLUMNS: Final = (
    "asset_key, tags, kinds, asset_group, code_version, last_event_id, last_run_id, last_timestamp, "
    "last_data_version, last_materialization_code_version, last_input_data_versions, pool"
)
LOG_COLUMNS: Final = "id, run_id, step_key, timestamp, stdout, stderr, logs"

#: The schema of version 1 (rivers-core up to the storage contract): a new file gets it, then every
#: migration of :mod:`rivers.storage._sqlite_migrations`, so new and migrated files are alike.
V1_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS runs (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        job_name TEXT,
        status TEXT NOT NULL,
        start_time INTEGER NOT NULL,
        end_time INTEGER,
        tags TEXT NOT NULL,
        node_names TEXT NOT NULL,
        priority INTEGER NOT NULL,
        partition_key TEXT,
        block_reason TEXT,
        launched_kind TEXT NOT NULL,
        launched_ref TEXT)""",
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs (start_time, seq)",
    "CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, start_time, seq)",
    # ``seq`` orders events (insertion order, across processes). ``body`` holds
    # the optional fields as JSON ``[partition_key, metadata, data_version,
    # code_version, input_data_versions]``, or '' when all are empty: binding
    # NULLs is slow in Python's sqlite3 and most step events have none.
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        asset_key TEXT,
        run_id TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id)",
    "CREATE INDEX IF NOT EXISTS events_by_asset ON events (asset_key)",
    """CREATE TABLE IF NOT EXISTS logs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        step_key TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        stdout TEXT,
        stderr TEXT,
        logs TEXT)""",
    "CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id)",
    # ``seq`` keeps first-registration order.
    """CREATE TABLE IF NOT EXISTS asset_records (
        seq INTEGER PRIMARY KEY,
        asset_key TEXT NOT NULL UNIQUE,
        tags TEXT NOT NULL DEFAULT '[]',
        kinds TEXT NOT NULL DEFAULT '[]',
        asset_group TEXT,
        code_version TEXT,
        last_event_id TEXT,
        last_run_id TEXT,
        last_timestamp INTEGER,
        last_data_version TEXT,
        last_materialization_code_version TEXT,
        last_input_data_versions TEXT NOT NULL DEFAULT '[]',
        pool TEXT NOT NULL DEFAULT '[]')""",
    "CREATE INDEX IF NOT EXISTS asset_records_by_group ON asset_records (asset_group)",
    # Latest Materialization event per (asset, partition); ``partition`` is ''
    # for an unpartitioned materialization (a primary key cannot hold NULL).
    # ``first_event_seq`` keeps first-materialization order.
    """CREATE TABLE IF NOT EXISTS latest_materializations (
        asset_key TEXT NOT NULL,
        partition TEXT NOT NULL,
        event_seq INTEGER NOT NULL,
        first_event_seq INTEGER NOT NULL,
        PRIMARY KEY (asset_key, partition)) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS events_materialization AFTER INSERT ON events
    WHEN NEW.event_type = 'Materialization' AND NEW.asset_key IS NOT NULL
    BEGIN
        INSERT INTO latest_materializations (asset_key, partition, event_seq, first_event_seq)
        VALUES (NEW.asset_key, COALESCE(json_extract(NULLIF(NEW.body, ''), '$[0]'), ''), NEW.seq, NEW.seq)
        ON CONFLICT (asset_key, partition) DO UPDATE SET event_seq = excluded.event_seq;
        INSERT INTO asset_records (asset_key, last_event_id, last_run_id, last_timestamp, last_data_version,
                                   last_materialization_code_version, last_input_data_versions)
        VALUES (NEW.asset_key, NEW.id, NEW.run_id, NEW.timestamp,
                json_extract(NULLIF(NEW.body, ''), '$[2]'),
                json_extract(NULLIF(NEW.body, ''), '$[3]'),
                COALESCE(json_extract(NULLIF(NEW.body, ''), '$[4]'), '[]'))
        ON CONFLICT (asset_key) DO UPDATE SET
            last_event_id = excluded.last_event_id,
            last_run_id = excluded.last_run_id,
            last_timestamp = excluded.last_timestamp,
            last_data_version = excluded.last_data_version,
            last_materialization_code_version = excluded.last_materialization_code_version,
            last_input_data_versions = excluded.last_input_data_versions;
    END""",
    """CREATE TRIGGER IF NOT EXISTS events_observation AFTER INSERT ON events
    WHEN NEW.event_type = 'Observation' AND NEW.asset_key IS NOT NULL
    BEGIN
        INSERT INTO asset_records (asset_key, last_event_id, last_run_id, last_timestamp, last_data_version)
        VALUES (NEW.asset_key, NEW.id, NEW.run_id, NEW.timestamp, json_extract(NULLIF(NEW.body, ''), '$[2]'))
        ON CONFLICT (asset_key) DO UPDATE SET
            last_event_id = excluded.last_event_id,
            last_run_id = excluded.last_run_id,
            last_timestamp = excluded.last_timestamp,
            last_data_version = excluded.last_data_version;
    END""",
    "CREATE TABLE IF NOT EXISTS topology (node TEXT PRIMARY KEY, upstream TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS dynamic_partition_namespaces (name TEXT PRIMARY KEY) WITHOUT ROWID",
    # ``seq`` keeps insertion order of the keys of a namespace.
    """CREATE TABLE IF NOT EXISTS dynamic_partitions (
        seq INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        UNIQUE (name, key))""",
    "CREATE TABLE IF NOT EXISTS cancellations (run_id TEXT PRIMARY KEY) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS run_progress (
        run_id TEXT PRIMARY KEY,
        completed_steps INTEGER NOT NULL,
        total_steps INTEGER NOT NULL,
        message TEXT) WITHOUT ROWID""",
)


# -- JSON ------------------------------------------------------------------


def _make_json_encoder() -> Callable[[Any], str]:
    """Return a compact JSON encoder, using the C encoder directly when available.

    ``json.dumps`` builds a new C encoder per call; reusing one roughly halves
    the cost, which matters on the per-step path.
    """
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_c_encoder is None:
        return encoder.encode
    c_encoder = make_c_encoder(
        None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    join = "".join
    return lambda value: join(c_encoder(value, 0))


def _make_json_decoder() -> Callable[[str], Any]:
    """Return a JSON decoder for the compact text :data:`encode_json` writes, calling the C scanner directly.

    ``json.loads`` goes through three Python layers and a whitespace regex
    per call; the catalogue and run pages decode thousands of short texts.
    """
    decoder = json.JSONDecoder()
    make_scanner = getattr(json.scanner, "c_make_scanner", None)
    if make_scanner is None:
        return decoder.decode
    scan_once = make_scanner(decoder)

    def decode(text: str) -> Any:
        try:
            value, end = scan_once(text, 0)
        except StopIteration:
            return decoder.decode(text)  # raises the usual JSONDecodeError
        if end != len(text):
            return decoder.decode(text)
        return value

    return decode


encode_json: Final = _make_json_encoder()
decode_json: Final = _make_json_decoder()


def pairs_to_db(pairs: Sequence[Sequence[Any]]) -> str:
    """Encode a list of pairs (``[]`` without calling the encoder)."""
    return encode_json(pairs) if pairs else "[]"


def pairs_from_db(text: str) -> list[tuple[Any, ...]]:
    """Decode a list of pairs into a list of tuples."""
    return [tuple(pair) for pair in decode_json(text)] if text != "[]" else []


# -- rows <-> records ------------------------------------------------------------


def event_to_row(event: StoredEvent) -> tuple[Any, ...]:
    """Row of ``events`` in :data:`EVENT_COLUMNS` order."""
    partition = partition_to_stored(event.partition_key)
    metadata = event.metadata
    data_version = event.data_version
    code_version = event.code_version
    input_data_versions = event.input_data_versions
    if partition is None and not metadata and data_version is None and code_version is None and not input_data_versions:
        body = ""
    else:
        body = encode_json((partition, metadata, data_version, code_version, input_data_versions))
    return (event.id, event.event_type, event.asset_key, event.run_id, event.timestamp, body)


def event_from_row(row: Sequence[Any]) -> StoredEvent:
    """Inverse of :func:`event_to_row`."""
    if not row[5]:
        return StoredEvent(row[0], row[1], row[2], row[3], None, row[4])
    partition, metadata, data_version, code_version, input_data_versions = decode_json(row[5])
    return StoredEvent(
        row[0],
        row[1],
        row[2],
        row[3],
        partition_from_stored(partition),
        row[4],
        [tuple(pair) for pair in metadata],
        data_version,
        code_version,
        [tuple(pair) for pair in input_data_versions],
    )


def log_to_row(log: StoredLog) -> tuple[Any, ...]:
    """Row of ``logs`` in :data:`LOG_COLUMNS` order."""
    return (log.id, log.run_id, log.step_key, log.timestamp, log.stdout, log.stderr, log.logs)


def log_from_row(row: Sequence[Any]) -> StoredLog:
    """Inverse of :func:`log_to_row`."""
    return StoredLog(*row)


def run_to_row(record: RunRecord) -> tuple[Any, ...]:
    """Row of ``runs`` in :data:`RUN_COLUMNS` order."""
    return (
        record.run_id,
        record.job_name,
        record.status,
        record.start_time,
        record.end_time,
        pairs_to_db(record.tags),
        encode_json(list(record.node_names)),
        record.priority,
        partition_to_stored(record.partition_key),
        record.block_reason,
        *record.launched_by.to_stored(),
    )


def run_from_row(row: Sequence[Any]) -> RunRecord:
    """Inverse of :func:`run_to_row`."""
    return RunRecord(
        run_id=row[0],
        job_name=row[1],
        status=row[2],
        start_time=row[3],
        end_time=row[4],
        tags=pairs_from_db(row[5]),
        node_names=decode_json(row[6]),
        priority=row[7],
        partition_key=partition_from_stored(row[8]),
        block_reason=row[9],
        launched_by=LaunchedBy.from_stored(row[10], row[11]),
    )


def asset_to_row(record: AssetRecord) -> tuple[Any, ...]:
    """Row of ``asset_records`` in :data:`ASSET_COLUMNS` order."""
    return (
        record.asset_key,
        encode_json(list(record.tags)) if record.tags else "[]",
        encode_json(list(record.kinds)) if record.kinds else "[]",
        record.group,
        record.code_version,
        record.last_event_id,
        record.last_run_id,
        record.last_timestamp,
        record.last_data_version,
        record.last_materialization_code_version,
        pairs_to_db(record.last_input_data_versions),
        pairs_to_db(record.pool),
    )


def _list_from_db(text: str) -> list[Any]:
    """Decode a JSON list (``[]`` without calling the decoder)."""
    return decode_json(text) if text != "[]" else []


def asset_from_row(row: Sequence[Any]) -> AssetRecord:
    """Inverse of :func:`asset_to_row`."""
    return AssetRecord.from_fields(
        row[0],
        _list_from_db(row[1]),
        _list_from_db(row[2]),
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        pairs_from_db(row[10]),
        pairs_from_db(row[11]),
    )
