"""Shared fixtures of the whole test tree."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path, monkeypatch):
    """Run every test inside its own ``tmp_path``.

    The default storage is SQLite under ``.rivers/`` of the working directory
    (``rivers.toml`` is read from there too): a test must never share it with
    another test or leave it in the checkout.
    """
    monkeypatch.chdir(tmp_path)
    return tmp_path
