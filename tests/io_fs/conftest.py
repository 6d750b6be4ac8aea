"""Fixtures shared by the rivers-io-fs tests: a base directory and a handler writing below it."""

from __future__ import annotations

import pytest

from rivers_io_fs import FilesystemIOHandler


@pytest.fixture
def base(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def handler(base):
    return FilesystemIOHandler(base_dir=str(base))
