"""Failures against the real moto server (and a fault-injecting proxy in front of it, a real network path).

Each ends in a specific error naming the bucket and key and what to check,
and nothing already stored is damaged.
"""

from __future__ import annotations

import pickle
import time
import traceback

import pytest

from rivers.exceptions import ConfigurationError, IOHandlerError
from rivers.testing.io_handlers import load_value, partition, write_value

from rivers_io_s3 import (
    S3AccessDeniedError,
    S3BucketNotFoundError,
    S3ConnectionError,
    S3DeserializationError,
    S3IOHandler,
    S3SerializationError,
    S3TimeoutError,
    S3ValueNotFoundError,
)
from rivers_io_s3.testing import FaultProxy, MotoServer
from s3_support import BUCKET, prefix_for


@pytest.fixture
def proxy(moto_server):
    with FaultProxy(moto_server.endpoint_url) as fault_proxy:
        yield fault_proxy


def _through(proxy, tmp_path, **settings):
    """A handler talking to moto through the proxy (fast retries: tests wait for no backoff)."""
    options = {"retries": 2, "backoff_s": 0.01, **settings}
    return S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=proxy.endpoint_url, **options)


def _assert_names(error, bucket, key):
    message = str(error)
    assert f"s3://{bucket}/{key}" in message or (bucket in message and key in message), message
    assert (error.bucket, error.key) == (bucket, key)
    assert isinstance(error, IOHandlerError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == message and copy.key == key


def _multipart_uploads(moto_server):
    return moto_server.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_missing_object_names_bucket_key_and_cause(handler):
    write_value(handler, "daily", 1, partition("2024-01-01"))
    with pytest.raises(S3ValueNotFoundError) as info:
        load_value(handler, "daily", partition("2024-01-02"))
    key = f"{handler.prefix}/daily/2024-01-02.pkl"
    _assert_names(info.value, BUCKET, key)
    assert "asset 'daily' partition '2024-01-02'" in str(info.value)
    assert "has not been materialised" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_missing_bucket_on_write_and_read(endpoint):
    handler = S3IOHandler(bucket="no-such-bucket", prefix="p", endpoint_url=endpoint, retries=0)
    with pytest.raises(S3BucketNotFoundError) as info:
        write_value(handler, "orders", [1])
    _assert_names(info.value, "no-such-bucket", "p/orders.pkl")
    assert "does not exist" in str(info.value) and "bucket=" in str(info.value)
    assert isinstance(info.value, ConfigurationError)
    with pytest.raises(S3BucketNotFoundError):
        load_value(handler, "orders")


def test_unreachable_server(aws_environment, tmp_path):
    server = MotoServer().start()
    try:
        server.create_bucket("short-lived")
        handler = S3IOHandler(bucket="short-lived", endpoint_url=server.endpoint_url, retries=1, backoff_s=0.01)
        write_value(handler, "kept", "stored before the outage")
    finally:
        server.stop()
    with pytest.raises(S3ConnectionError) as info:
        load_value(handler, "kept")
    _assert_names(info.value, "short-lived", "kept.pkl")
    assert "cannot connect to " + server.endpoint_url in str(info.value)
    assert "after 2 attempts" in str(info.value) and "endpoint_url=" in str(info.value)
    with pytest.raises(S3ConnectionError, match="cannot write asset 'new'"):
        write_value(handler, "new", 1)


def test_access_denied_by_the_server(monkeypatch):
    # moto's server enforces IAM once INITIAL_NO_AUTH_ACTION_COUNT requests have been made:
    # the first four set up a bucket and a user allowed to read it, not to write it
    with MotoServer(env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"}) as server:
        server.create_bucket("locked")
        import boto3

        iam = boto3.client("iam", endpoint_url=server.endpoint_url, aws_access_key_id="x", aws_secret_access_key="x",
                           region_name="us-east-1")
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], '
            '"Resource": "arn:aws:s3:::locked/*"}]}'
        ))
        keys = iam.create_access_key(UserName="reader")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["SecretAccessKey"])
        handler = S3IOHandler(bucket="locked", prefix="p", endpoint_url=server.endpoint_url, retries=0)
        with pytest.raises(S3AccessDeniedError) as info:
            write_value(handler, "orders", [1])
        _assert_names(info.value, "locked", "p/orders.pkl")
        message = str(info.value)
        assert "access denied (AccessDenied)" in message and "s3:PutObject" in message
        assert keys["SecretAccessKey"] not in message + info.value.detail
        with pytest.raises(S3ValueNotFoundError):  # reading is allowed: the object is just not there
            load_value(handler, "orders")

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unknown-key")
        stranger = S3IOHandler(bucket="locked", prefix="p", endpoint_url=server.endpoint_url, retries=0)
        with pytest.raises(S3AccessDeniedError, match=r"InvalidAccessKeyId.*s3:GetObject"):
            load_value(stranger, "orders")


def test_5xx_answers_are_retried_with_backoff(proxy, tmp_path):
    handler = _through(proxy, tmp_path, retries=3)
    proxy.fail_next(2, status=503)
    write_value(handler, "flaky", {"v": 1})  # two 503s, then the PUT goes through
    assert [method for method, path in proxy.requests if path.endswith("/flaky.pkl")] == ["PUT"] * 3
    proxy.fail_next(3, status=500)
    assert load_value(handler, "flaky") == {"v": 1}


def test_backoff_is_configurable(proxy, tmp_path):
    # the first wait is backoff_s, later ones at least that (exponential, with jitter): a lower bound only
    handler = _through(proxy, tmp_path, retries=2, backoff_s=0.3)
    write_value(handler, "slowly", 1)
    proxy.fail_next(2, status=503)
    started = time.monotonic()
    assert load_value(handler, "slowly") == 1
    assert time.monotonic() - started >= 0.55


def test_5xx_past_the_retries_fails_and_keeps_the_value(proxy, tmp_path):
    handler = _through(proxy, tmp_path, retries=2)
    write_value(handler, "flaky", "old")
    proxy.requests.clear()
    proxy.fail_next(10, status=503)
    with pytest.raises(S3ConnectionError) as info:
        write_value(handler, "flaky", "new")
    assert len(proxy.requests) == 3  # one attempt and the two configured retries
    _assert_names(info.value, BUCKET, f"{handler.prefix}/flaky.pkl")
    assert "kept answering 503" in str(info.value) and "after 3 attempts" in str(info.value)
    assert "retries=" in str(info.value)
    proxy.clear()
    assert load_value(handler, "flaky") == "old"


def test_slow_server_past_the_timeout(proxy, tmp_path):
    handler = _through(proxy, tmp_path, retries=0, timeout_s=0.5)
    write_value(handler, "slow", "old")
    proxy.delay(2.0)
    with pytest.raises(S3TimeoutError) as info:
        load_value(handler, "slow")
    _assert_names(info.value, BUCKET, f"{handler.prefix}/slow.pkl")
    assert "did not answer within timeout_s=0.5 s" in str(info.value)
    with pytest.raises(S3TimeoutError):
        write_value(handler, "slow", "new")
    proxy.clear()
    assert isinstance(info.value, TimeoutError)


def test_connection_dropped_mid_upload_stores_nothing(proxy, tmp_path, moto_server):
    handler = _through(proxy, tmp_path, retries=1)
    write_value(handler, "big", b"old")
    proxy.drop_uploads(after_bytes=64 * 1024)
    with pytest.raises(S3ConnectionError) as info:
        write_value(handler, "big", b"x" * 2**20)  # one PUT, cut after 64 KiB
    _assert_names(info.value, BUCKET, f"{handler.prefix}/big.pkl")
    assert "was dropped" in str(info.value) and "previous value is intact" in str(info.value)
    with pytest.raises(S3ConnectionError):
        write_value(handler, "big", b"y" * 24 * 2**20)  # a multipart upload whose parts are cut
    proxy.clear()
    assert load_value(handler, "big") == b"old"
    assert not _multipart_uploads(moto_server), "an interrupted multipart upload was left behind"


def test_a_value_the_format_cannot_store_leaves_nothing(handler, moto_server):
    write_value(handler, "fn", "old")
    with pytest.raises(S3SerializationError, match="the 'pickle' format cannot store") as info:
        write_value(handler, "fn", lambda: 1)
    _assert_names(info.value, BUCKET, f"{handler.prefix}/fn.pkl")
    big_then_bad = [b"x" * 24 * 2**20, lambda: 1]  # fails after the multipart upload started
    with pytest.raises(S3SerializationError):
        write_value(handler, "fn", big_then_bad)
    assert load_value(handler, "fn") == "old"
    assert not _multipart_uploads(moto_server)


def test_an_object_that_does_not_decode(handler, moto_server):
    moto_server.client().put_object(Bucket=BUCKET, Key=f"{handler.prefix}/garbage.pkl", Body=b"not a pickle")
    with pytest.raises(S3DeserializationError, match="with the 'pickle' format") as info:
        load_value(handler, "garbage")
    _assert_names(info.value, BUCKET, f"{handler.prefix}/garbage.pkl")


def test_credentials_never_appear(monkeypatch, proxy, tmp_path):
    secret, key_id = "S3CR3T-value-for-the-test", "AKIA-RIVERS-TEST-ID"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    handler = _through(proxy, tmp_path, retries=0, timeout_s=0.5)
    context = write_value(handler, "v", 1)
    seen = [repr(handler), str(pickle.dumps(handler)), repr(context.output_metadata)]
    errors = []
    for fault in ("missing", "503", "slow", "drop"):
        proxy.clear()
        try:
            if fault == "missing":
                load_value(handler, "absent")
            elif fault == "503":
                proxy.fail_next(5, status=503)
                load_value(handler, "v")
            elif fault == "slow":
                proxy.delay(2.0)
                load_value(handler, "v")
            else:
                proxy.drop_uploads(after_bytes=10)
                write_value(handler, "v", b"x" * 1000)
        except IOHandlerError as exc:
            errors.append(exc)
    assert len(errors) == 4
    for error in errors:
        seen += [str(error), error.detail, "".join(traceback.format_exception(error)), str(pickle.dumps(error))]
    for text in seen:
        assert secret not in text and key_id not in text
