"""The filesystem handler (every format and option) and PickleIOHandler + LocalStore pass the conformance kit."""

from __future__ import annotations

from rivers.io_handlers.pickle import PickleIOHandler
from rivers.testing.io_handlers import IOHandlerConformance

from rivers_io_fs import FilesystemIOHandler, LocalStore, ObjectNotFoundError, ValueNotFoundError

FS_METADATA = {"path", "size_bytes", "format", "write_duration_s"}


class TestFilesystemPickleConformance(IOHandlerConformance):
    missing_value_error = ValueNotFoundError
    expected_metadata_keys = FS_METADATA

    def make_handler(self, tmp_path):
        return FilesystemIOHandler(base_dir=str(tmp_path / "data"))


class TestFilesystemNoFsyncConformance(IOHandlerConformance):
    missing_value_error = ValueNotFoundError
    expected_metadata_keys = FS_METADATA

    def make_handler(self, tmp_path):
        return FilesystemIOHandler(base_dir=tmp_path / "data", fsync=False)


class TestFilesystemJsonConformance(IOHandlerConformance):
    supports_arbitrary_objects = False
    missing_value_error = ValueNotFoundError
    expected_metadata_keys = FS_METADATA

    def make_handler(self, tmp_path):
        return FilesystemIOHandler(base_dir=str(tmp_path / "data"), format="json")


class TestPickleIOHandlerLocalStoreConformance(IOHandlerConformance):
    # Object keys follow spec/io.md §3 verbatim ("<asset>/<suffix>/data.pkl",
    # batch values under "<asset>/__batch__/<id>/data.pkl"), so keys must be valid object-key segments.
    arbitrary_partition_keys = False
    missing_value_error = ObjectNotFoundError
    expected_metadata_keys = {"path", "serializer", "size_bytes", "write_duration_s"}

    def make_handler(self, tmp_path):
        return PickleIOHandler(store=LocalStore(prefix=str(tmp_path / "objects")), prefix="v1")
