"""The S3 handler (pickle and json) and PickleIOHandler on S3 stores pass the conformance kit against moto."""

from __future__ import annotations

import pytest

from rivers.io_handlers.pickle import PickleIOHandler
from rivers.testing.io_handlers import IOHandlerConformance

from rivers_io_s3 import S3IOHandler, S3Store, S3ValueNotFoundError

from s3_support import BUCKET, prefix_for

S3_METADATA = {"uri", "size_bytes", "etag", "format", "write_duration_s"}


@pytest.fixture(autouse=True)
def _server(moto_server, request):
    request.cls.endpoint_url = moto_server.endpoint_url


class TestS3PickleConformance(IOHandlerConformance):
    missing_value_error = S3ValueNotFoundError
    expected_metadata_keys = S3_METADATA
    endpoint_url = ""

    def make_handler(self, tmp_path):
        return S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=self.endpoint_url)


class TestS3JsonConformance(IOHandlerConformance):
    supports_arbitrary_objects = False
    missing_value_error = S3ValueNotFoundError
    expected_metadata_keys = S3_METADATA
    endpoint_url = ""

    def make_handler(self, tmp_path):
        return S3IOHandler(bucket=BUCKET, prefix=prefix_for(tmp_path), endpoint_url=self.endpoint_url, format="json")


class TestPickleIOHandlerS3StoreConformance(IOHandlerConformance):
    # PickleIOHandler's keys are the published package's (not escaped): keys must be key segments
    arbitrary_partition_keys = False
    missing_value_error = S3ValueNotFoundError
    expected_metadata_keys = {"path", "serializer", "size_bytes", "write_duration_s"}
    endpoint_url = ""

    def make_handler(self, tmp_path):
        store = S3Store(BUCKET, prefix=prefix_for(tmp_path), endpoint=self.endpoint_url)
        return PickleIOHandler(store=store, prefix="v1")


class TestPickleIOHandlerObstoreS3StoreConformance(IOHandlerConformance):
    # the published package's spelling: an obstore S3Store (its credentials are the user's to place)
    arbitrary_partition_keys = False
    missing_value_error = FileNotFoundError
    expected_metadata_keys = {"path", "serializer", "size_bytes", "write_duration_s"}
    endpoint_url = ""

    def make_handler(self, tmp_path):
        from obstore.store import S3Store as ObstoreS3Store

        store = ObstoreS3Store(
            BUCKET, prefix=prefix_for(tmp_path), endpoint=self.endpoint_url, region="us-east-1",
            client_options={"allow_http": True},
        )
        return PickleIOHandler(store=store, prefix="v1")
