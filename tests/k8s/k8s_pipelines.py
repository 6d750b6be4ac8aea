"""Importable assets for the Kubernetes executor tests: pods re-import them by name.

Values go through the fs handler under ``$RIVERS_K8S_TEST_VALUES``: the
tests' autouse fixture (``conftest.py``) points it at the test's tmp dir and
reloads this module, so every test has its own values and nothing is left in
the working directory; the pods inherit the variable and import the same.
"""

from __future__ import annotations

import os
import time

import rivers as rs

#: where the values of these assets live (set per test by the conftest fixture)
VALUES_ENVIRONMENT = "RIVERS_K8S_TEST_VALUES"
FS = rs.io_handler("fs", base_dir=os.environ.get(VALUES_ENVIRONMENT, "k8s-test-values"))


@rs.Asset(io_handler=FS)
def raw() -> list[int]:
    print("raw ran in pid", os.getpid())
    return [1, 2, 3]


@rs.Asset(io_handler=FS)
def doubled(raw: list[int]) -> list[int]:
    return [2 * x for x in raw]


@rs.Asset(io_handler=FS)
def tripled(raw: list[int]) -> list[int]:
    return [3 * x for x in raw]


@rs.Asset(io_handler=FS)
def total(doubled: list[int], tripled: list[int]) -> int:
    return sum(doubled) + sum(tripled)


DIAMOND = [raw, doubled, tripled, total]


@rs.Asset(io_handler=FS)
def broken() -> int:
    raise ValueError("broken on purpose")


@rs.Asset(io_handler=FS, retry=rs.RetryPolicy(max_retries=1))
def flaky_infra() -> int:
    return 7


@rs.Asset(io_handler=FS, compute=rs.Compute(cpu="250m", memory="1Gi"),
          retry=rs.RetryPolicy(max_retries=2, escalate=rs.ComputeEscalation(max_memory="4Gi", factor=2)))
def hungry() -> int:
    return 42


@rs.Asset(io_handler=FS)
def sleepy() -> int:
    time.sleep(float(os.environ.get("SLEEPY_SECONDS", "5")))
    return 1


@rs.Asset()
def in_memory() -> int:
    return 1
