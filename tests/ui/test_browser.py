"""End to end in a real browser: Debian's headless Chromium driven by Playwright, against a real
``rivers ui`` process on 127.0.0.1 and a real SQLite file.

Set ``RIVERS_UI_SCREENSHOTS=DIR`` to save screenshots of the main pages there (docs/ui/ holds the README's).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from ui_process import UiProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.environ.get("RIVERS_UI_SCREENSHOTS")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="the platform has no chromium binary")


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Any:
    process = UiProcess(tmp_path_factory.mktemp("ui-browser"), slow_s=1.5)
    yield process
    assert process.stop() == 0, "".join(process.output)  # SIGTERM stops it cleanly
    assert "rivers ui: stopped" in "".join(process.output)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: Any) -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1280, "height": 800})
        yield context
        context.close()


@pytest.fixture
def page(browser_context: Any) -> Any:
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda dialog: dialog.accept())
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_open_graph_click_an_asset_materialize_it_and_watch_the_run_turn_green(server, page):
    page.goto(server.url + "/")
    page.locator("#live.on").wait_for()
    page.locator('g.node[data-name="slow"]').click()
    assert page.locator("#selected-count").inner_text() == "1 selected"
    page.locator("#open-asset").click()
    page.wait_for_url(re.compile(r"/assets/slow$"))
    page.get_by_role("button", name="Materialize").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    run_url = page.url
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#run").get_attribute("data-status") != "Success"  # still going when the page opened
    page.locator('#run[data-status="Success"]').wait_for(timeout=30_000)
    page.locator('tr[data-step="slow"] .badge.b-success').wait_for()
    assert page.evaluate("window.__sameDocument") is True and page.url == run_url  # live, no reload
    assert page.locator("#gantt .bar.st-success").count() == 1
    assert page.locator("#live").get_attribute("class") == "live on"
    shot(page, "run")
    page.goto(server.url + "/")
    page.locator('g.node.s-fresh[data-name="slow"]').wait_for()
    shot(page, "graph")


def test_materialize_selected_then_open_the_failed_steps_traceback(server, page):
    page.goto(server.url + "/?select=broken")
    assert page.locator("#selected-count").inner_text() == "1 selected"
    page.get_by_role("button", name="Materialize selected").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    page.locator('#run[data-status="Failure"]').wait_for()
    row = page.locator('tr[data-step="broken"]')
    row.locator(".badge.b-failure").wait_for()
    row.get_by_role("button", name="Logs").click()
    log = row.locator("pre.log")
    log.wait_for()
    assert "Traceback" in log.inner_text()
    assert "ValueError: the export is corrupt: row 7 has no amount" in log.inner_text()
    page.get_by_role("button", name="Re-execute from failure").wait_for()


def test_start_and_cancel_a_backfill(server, page):
    page.goto(server.url + "/assets/daily")
    page.locator('input[name="from"]').fill("2020-01-01")
    page.locator('input[name="to"]').fill("2020-04-09")
    page.get_by_role("button", name="Backfill range").click()
    page.wait_for_url(re.compile(r"/backfills/[0-9a-f-]{36}$"))
    page.locator('#backfill[data-status="InProgress"]').wait_for()
    page.locator("svg.pbar rect.p-completed").first.wait_for()  # progress shows up live
    shot(page, "backfill")
    page.get_by_role("button", name="Cancel backfill").click()
    page.locator('#backfill[data-status="Canceled"]').wait_for()
    facts = page.locator("dl.facts").inner_text()
    completed, canceled = (int(n) for n in re.search(r"(\d+) completed, \d+ failed, (\d+) canceled", facts).groups())
    assert 0 < completed < 100 and canceled > 0
    page.goto(server.url + "/assets/daily")
    shot(page, "asset")


def test_event_stream_resumes_after_the_last_event_id(server):
    import rivers as rs

    storage = rs.Storage.embedded(str(server.database))
    run = next(r for r in storage.query_runs(limit=50).runs if r.status == "Success")
    total = len(storage.get_events_after(0, run_id=run.run_id, limit=10_000).events)
    first = storage.get_events_after(0, run_id=run.run_id, limit=1).cursor

    def first_batch(headers: dict[str, str]) -> tuple[int, list[Any]]:
        import json

        with httpx.stream("GET", f"{server.url}/runs/{run.run_id}/events", headers=headers, timeout=10) as stream:
            event_id = None
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: ") and event_id is not None:
                    return event_id, json.loads(line[6:])
        raise AssertionError("no events")

    cursor, everything = first_batch({})
    assert len(everything) == total > 1
    resumed_cursor, rest = first_batch({"Last-Event-ID": str(first)})
    assert rest == everything[1:] and resumed_cursor == cursor
