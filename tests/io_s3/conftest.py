"""A moto S3 server for the rivers-io-s3 tests: one subprocess on 127.0.0.1 per session, over HTTP."""

from __future__ import annotations

import os

import pytest

from rivers_io_s3.testing import MOTO_CREDENTIALS, MotoServer
from s3_support import BUCKET, prefix_for


@pytest.fixture(scope="session")
def aws_environment():
    """moto's credentials in the environment (inherited by worker processes), restored afterwards."""
    saved = {name: os.environ.get(name) for name in MOTO_CREDENTIALS}
    os.environ.update(MOTO_CREDENTIALS)
    yield dict(MOTO_CREDENTIALS)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def moto_server(aws_environment):
    """The session's moto server, with the bucket ``rivers-tests``."""
    with MotoServer() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture
def endpoint(moto_server):
    return moto_server.endpoint_url


@pytest.fixture
def handler(endpoint, tmp_path):
    from rivers_io_s3 import S3IOHandler

    return S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=endpoint)
