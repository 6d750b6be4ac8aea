"""``rivers._core``: names user code imports from the published package's implementation namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import rivers as rs


def test_public_names_are_reachable_through_rivers_core() -> None:
    import rivers._core as core

    assert core.Asset is rs.Asset and core.PartitionKey is rs.PartitionKey and core.Compute is rs.Compute
    assert "Asset" in dir(core) and "storage" in dir(core)
    with pytest.raises(AttributeError, match="no attribute 'NotAThing'"):
        core.NotAThing  # noqa: B018
    # the daemon and MappedOutput are imported from rivers._core (spec), not from the top level
    from rivers.automation.daemon import AutomationDaemon
    from rivers.definitions.composition import MappedOutput

    assert core.AutomationDaemon is AutomationDaemon and "AutomationDaemon" not in rs.__all__
    assert core.MappedOutput is MappedOutput and "MappedOutput" not in rs.__all__


def test_rivers_core_storage_holds_the_record_types() -> None:
    from rivers._core.storage import (
        BlockReason,
        ConcurrencyClaimStatus,
        PoolBlockDetail,
        PoolInfo,
        PoolLimit,
        SlotHolder,
        StoredEvent,
        StoredLog,
        UserRef,
    )
    from rivers.storage.pools import PoolLimit as pool_limit

    assert PoolLimit is pool_limit and StoredLog is rs.StoredLog and StoredEvent is rs.StoredEvent
    assert {PoolInfo, SlotHolder, PoolBlockDetail, BlockReason, ConcurrencyClaimStatus}
    storage = rs.Storage.memory()
    storage.set_pool_limit("warehouse", 3)
    assert [type(limit) for limit in storage.get_pool_limits()] == [PoolLimit]
    assert UserRef("sub-1").display == "sub-1"
    assert UserRef("sub-1", email="a@b.c").display == "a@b.c"
    assert UserRef("sub-1", email="a@b.c", name="Ann").display == "Ann"


def test_runtime_info_reports_worker_counts() -> None:
    from rivers._core import runtime_info
    from rivers.execution.executors import available_cpus

    info = runtime_info()
    assert info == {"main_workers": available_cpus(), "io_workers": 1}


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == expected, (line, process.stderr.read() if process.stderr else "")


def test_wait_for_exit_returns_when_sigterm_arrives() -> None:
    process = _python(
        "from rivers._core import wait_for_exit\n"
        "print('ready', flush=True)\n"
        "print('woke', wait_for_exit(timeout=30), flush=True)\n"
    )
    _wait_for_line(process, "ready")
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out.strip() == "woke True"


def test_wait_for_exit_times_out_and_the_handler_installs_only_in_the_main_thread() -> None:
    import threading

    from rivers._core import install_signal_handler, wait_for_exit

    started = time.monotonic()
    assert wait_for_exit(timeout=0.2) is False
    assert time.monotonic() - started >= 0.2
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(install_signal_handler()))
    thread.start()
    thread.join()
    assert results == [False]


def test_sigterm_after_install_signal_handler_stops_like_ctrl_c() -> None:
    process = _python(
        "import time\n"
        "from rivers._core import install_signal_handler\n"
        "install_signal_handler()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "except KeyboardInterrupt as exc:\n"
        "    print('interrupted', exc, flush=True)\n"
    )
    _wait_for_line(process, "ready")
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out.strip() == "interrupted received SIGTERM"
