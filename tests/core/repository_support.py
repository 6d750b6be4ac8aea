"""Helpers shared by the tests split out of ``test_repository.py``."""

from __future__ import annotations

import rivers as rs


def run_events(repo, run_id, asset=None):
    return [e for e in repo.storage.get_events_for_run(run_id) if asset is None or e.asset_key == asset]


def kinds(repo, run_id, asset):
    return [e.event_type for e in run_events(repo, run_id, asset)]


def diamond():
    """raw (group raw) -> a, b -> c; plus independent x."""

    @rs.Asset(group="raw", tags=["etl"])
    def raw() -> int:
        return 1

    @rs.Asset(group="mid")
    def a(raw: int) -> int:
        return raw + 1

    @rs.Asset(group="mid", kinds="table")
    def b(raw: int) -> int:
        return raw + 2

    @rs.Asset
    def c(a: int, b: int) -> int:
        return a + b

    @rs.Asset(group="raw")
    def x() -> int:
        return 100

    return raw, a, b, c, x
