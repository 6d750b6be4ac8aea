"""The S3 handler's own behaviour: layout, metadata, formats, streaming, concurrency, processes."""

from __future__ import annotations

import multiprocessing
import os
import pickle

import pytest

import rivers as rs
from rivers.io_handlers.escaping import escape_component
from rivers.testing.io_handlers import StubMultiKey, input_context, load_value, partition, write_value

from rivers_io_s3 import S3IOHandler, S3Store, S3ValueNotFoundError
from rivers_io_s3.testing import FaultProxy
from rivers_io_s3.transfer import SINGLE_PUT_LIMIT
from s3_support import BUCKET, prefix_for


def _keys(moto_server, prefix):
    listing = moto_server.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")
    return sorted(item["Key"][len(prefix) + 1:] for item in listing.get("Contents", []))


def test_layout_uses_the_shared_escaping(handler, moto_server):
    write_value(handler, "orders", 1)
    write_value(handler, "g/t", 2)  # a graph-internal node
    write_value(handler, "g", 3, partition("t"))
    write_value(handler, "daily", 4, partition("2024-01-01T00:00"))
    write_value(handler, "sales", 5, partition(StubMultiKey(date="2024-01-02", region="us")))
    assert _keys(moto_server, handler.prefix.strip("/")) == [
        "daily/2024-01-01T00%3A00.pkl",
        "g%2Ft.pkl",
        "g/t.pkl",
        "orders.pkl",
        "sales/date=2024-01-02/region=us.pkl",
    ]
    assert escape_component("g/t") == "g%2Ft"


def test_prefix_slashes_are_ignored(endpoint, moto_server, tmp_path):
    prefix = prefix_for(tmp_path)
    handler = S3IOHandler(bucket=BUCKET, prefix=f"/{prefix}/", endpoint_url=endpoint)
    write_value(handler, "a", 1)
    assert _keys(moto_server, prefix) == ["a.pkl"]


def test_output_metadata(handler, moto_server):
    context = write_value(handler, "described", {"x": 1}, partition("p"))
    metadata = {key: value.value for key, value in context.output_metadata.items()}
    key = f"{handler.prefix}/described/p.pkl"
    head = moto_server.client().head_object(Bucket=BUCKET, Key=key)
    assert metadata["uri"] == f"s3://{BUCKET}/{key}"
    assert metadata["size_bytes"] == head["ContentLength"] == len(pickle.dumps({"x": 1}, protocol=5))
    assert metadata["etag"] == head["ETag"].strip('"')
    assert metadata["format"] == "pickle"
    assert isinstance(metadata["write_duration_s"], float) and metadata["write_duration_s"] > 0


def test_json_format_and_per_asset_override(endpoint, moto_server, tmp_path):
    handler = S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=endpoint, format="json")
    write_value(handler, "doc", {"a": [1, 2]})
    write_value(handler, "blob", b"\x00raw", metadata={"s3/format": "pickle"})
    assert _keys(moto_server, prefix_for(tmp_path)) == ["blob.pkl", "doc.json"]
    assert load_value(handler, "doc") == {"a": [1, 2]}
    assert load_value(handler, "blob", metadata={"s3/format": "pickle"}) == b"\x00raw"


def test_parquet_format_round_trips_a_dataframe(endpoint, tmp_path):
    pandas = pytest.importorskip("pandas")
    handler = S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=endpoint, format="parquet")
    frame = pandas.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    context = write_value(handler, "table", frame)
    assert context.output_metadata["uri"].value.endswith("/table.parquet")
    pandas.testing.assert_frame_equal(load_value(handler, "table"), frame)


def test_large_values_stream_as_multipart_uploads(endpoint, moto_server, tmp_path):
    with FaultProxy(endpoint) as proxy:
        handler = S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=proxy.endpoint_url)
        value = os.urandom(3 * SINGLE_PUT_LIMIT + 12345)
        context = write_value(handler, "big", value)
        uploads = [path for method, path in proxy.requests if "uploadId=" in path and method == "PUT"]
        assert len(uploads) >= 3, proxy.requests  # parts, not one PUT of the whole value
        assert load_value(handler, "big") == value  # streamed back through readinto
    head = moto_server.client().head_object(Bucket=BUCKET, Key=f"{handler.prefix}/big.pkl")
    assert context.output_metadata["etag"].value == head["ETag"].strip('"')
    assert context.output_metadata["size_bytes"].value == head["ContentLength"]
    assert not moto_server.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads")


def test_multi_partition_loads_are_concurrent(endpoint, tmp_path):
    with FaultProxy(endpoint) as proxy:
        handler = S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=proxy.endpoint_url,
                              max_concurrency=8)
        keys = [f"k{i}" for i in range(16)]
        for key in keys:
            write_value(handler, "parts", key, partition(key))
        proxy.delay(0.2)  # requests overlap only if they are sent concurrently
        proxy.max_in_flight = 0
        loaded = handler.load_input(input_context("parts", partition(*keys)))
        assert loaded == {key: key for key in keys} and list(loaded) == keys
        assert 4 <= proxy.max_in_flight <= 8  # concurrent, and never more than max_concurrency


def test_multi_partition_load_with_a_missing_key_names_it(handler):
    write_value(handler, "parts", 1, partition("a"))
    with pytest.raises(S3ValueNotFoundError, match="partition 'b'"):
        load_value(handler, "parts", partition("a", "b"))


def test_pickle_holds_only_settings(handler):
    write_value(handler, "v", 1)  # builds the client
    state = handler.__getstate__()
    assert state == handler.settings()
    copy = pickle.loads(pickle.dumps(handler))
    assert repr(copy) == repr(handler)
    assert load_value(copy, "v") == 1


def _child_load(handler, results):
    try:
        results.put(("ok", load_value(handler, "forked")))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(exc)))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_works_in_forked_and_spawned_children(handler, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    write_value(handler, "forked", {"from": "parent"})  # the parent's client exists before the fork
    ctx = multiprocessing.get_context(method)
    results = ctx.Queue()
    process = ctx.Process(target=_child_load, args=(handler, results))
    process.start()
    outcome = results.get(timeout=60)
    process.join(timeout=30)
    assert outcome == ("ok", {"from": "parent"})


def test_s3_store_with_pickle_io_handler(endpoint, moto_server, tmp_path):
    store = S3Store(BUCKET, prefix=prefix_for(tmp_path), endpoint=endpoint)
    assert repr(store) == f"S3Store({BUCKET!r}, prefix={prefix_for(tmp_path)!r}, endpoint_url={endpoint!r})"
    handler = rs.PickleIOHandler(store=store, prefix="v1")
    write_value(handler, "numbers", [1, 2])
    write_value(handler, "daily", "d", partition("2024-01-01"))
    assert _keys(moto_server, prefix_for(tmp_path)) == ["v1/daily/2024-01-01/data.pkl", "v1/numbers.pkl"]
    assert pickle.loads(pickle.dumps(handler)).load_input(input_context("numbers")) == [1, 2]
    with pytest.raises(S3ValueNotFoundError) as info:
        load_value(handler, "absent")
    assert info.value.key == f"{prefix_for(tmp_path)}/v1/absent.pkl"


def test_s3_store_delete(endpoint, tmp_path):
    store = S3Store(BUCKET, prefix=prefix_for(tmp_path), endpoint_url=endpoint)
    store.put("a/b.bin", b"data")
    assert bytes(store.get("a/b.bin")) == b"data"
    store.delete("a/b.bin")
    store.delete("a/b.bin")  # idempotent
    with pytest.raises(S3ValueNotFoundError, match="object 'a/b.bin'"):
        store.get("a/b.bin")
    assert pickle.loads(pickle.dumps(store)) == store


def test_batch_value_layout(handler, moto_server):
    # a batched step's one value: stored once with a manifest; the members' own objects are removed
    from rivers.io_handlers.partition_keys import batch_id

    write_value(handler, "daily", "old k1", partition("k1"))
    context = write_value(handler, "daily", {"rows": 2}, partition("k1", "k2"))
    ident = batch_id(["k1", "k2"])
    assert _keys(moto_server, handler.prefix) == [f"daily/__batch__/{ident}.keys", f"daily/__batch__/{ident}.pkl"]
    assert context.output_metadata["uri"].value == f"s3://{BUCKET}/{handler.prefix}/daily/__batch__/{ident}.pkl"
    assert load_value(handler, "daily", partition("k2", "k1")) == {"rows": 2}
