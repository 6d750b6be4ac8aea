"""Shared fixtures of the whole test tree."""

from __future__ import annotations

import signal

import pytest

# Several tests press Ctrl-C (send SIGINT) to a child process. A shell without job control starts a
# background command with SIGINT ignored, and an ignored signal stays ignored in every child (rivers
# then rightly leaves it alone), so those tests would fail only because of how the suite was started.
# Children inherit a handled signal as the default: give this process the interpreter's usual handler.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path, monkeypatch):
    """Run every test inside its own ``tmp_path``.

    The default storage is SQLite under ``.rivers/`` of the working directory
    (``rivers.toml`` is read from there too): a test must never share it with
    another test or leave it in the checkout.
    """
    monkeypatch.chdir(tmp_path)
    return tmp_path
