"""HTTP-level tests of the UI pages: statuses, selections, asset pages, runs, backfills, automation, plugins."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest


def wait_until(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def node_class(page: str, name: str) -> str:
    match = re.search(rf'<g class="([^"]+)" data-name="{name}"', page)
    assert match, f"no node {name} in the graph"
    return match.group(1)


def post(client: Any, path: str, **fields: Any) -> Any:
    return client.post(path, data={"csrf": client.csrf, **fields}, follow_redirects=False)


def test_graph_shows_each_assets_status(client, repo):
    page = client.get("/").text
    assert all(node_class(page, name).endswith("s-missing") for name in repo.assets)
    repo.materialize(["orders", "cleaned"])
    repo.materialize(["broken"], raise_on_error=False)
    page = client.get("/").text
    assert node_class(page, "orders") == "node s-fresh"
    assert node_class(page, "broken") == "node s-failed"
    assert node_class(page, "revenue") == "node s-missing"
    repo.materialize(["orders"])  # cleaned now lags behind its parent
    statuses = client.get("/graph/status.json").json()
    assert statuses["cleaned"]["status"] == "stale"
    assert statuses["daily"]["partitions"] == {"total": 100, "materialized": 0, "failed": 0, "in_progress": 0,
                                               "missing": 100}
    assert "<i></i>fresh 2<" in page and "<i></i>failed 1<" in page


def test_selection_expressions_mark_the_selected_assets(client):
    page = client.get("/", params={"select": "group:raw"}).text
    selected = {name for name in ("orders", "broken", "daily", "cleaned", "revenue", "slow")
                if node_class(page, name).endswith(" sel")}
    assert selected == {"orders", "broken", "daily"}
    assert "3 selected" in page
    upstream = client.get("/", params={"select": "+revenue"}).text
    assert node_class(upstream, "cleaned").endswith(" sel") and not node_class(upstream, "orders").endswith(" sel")
    bad = client.get("/", params={"select": "nosuch"})
    assert bad.status_code == 400 and "nosuch" in bad.text and "Traceback" not in bad.text


def test_materialize_goes_through_the_launcher_and_lands_on_the_run_page(client, repo):
    response = post(client, "/materialize", asset=["orders", "cleaned"])
    assert response.status_code == 303
    run_id = response.headers["location"].rsplit("/", 1)[1]
    record = wait_until(lambda: (r := repo.storage.get_run(run_id)) is not None and r.status == "Success" and r)
    assert sorted(record.node_names) == ["cleaned", "orders"]
    assert ("rivers/launched_from", "ui") in list(record.tags)
    page = client.get(f"/runs/{run_id}").text
    assert f'data-run="{run_id}"' in page and 'data-status="Success"' in page


def test_materialize_needs_a_partition_key_for_partitioned_assets(client):
    missing = post(client, "/materialize", asset="daily")
    assert missing.status_code == 400 and "give a partition key" in missing.text
    bad = post(client, "/materialize", asset="daily", partition="2021-13-01")
    assert bad.status_code == 400 and "&#x27;2021-13-01&#x27; is not a partition key of asset &#x27;daily&#x27;" in bad.text
    unknown = post(client, "/materialize", asset="nope")
    assert unknown.status_code == 404 and "no asset named &#x27;nope&#x27;" in unknown.text


def test_asset_page_plots_numeric_metadata_and_lists_lineage(client, repo):
    for _ in range(3):
        repo.materialize(["orders"])
    page = client.get("/assets/orders").text
    assert '<figcaption>rows</figcaption><svg class="spark"' in page
    rows = re.search(r"<figcaption>rows</figcaption>.*?</figure>", page).group(0)
    assert rows.count("<circle") == 3 and "3 points" in rows
    assert "note" not in re.findall(r"<figcaption>(\w+)</figcaption>", page)  # text metadata is not plotted
    assert '<b>Downstream:</b> <a href="/assets/cleaned">cleaned</a>' in page
    revenue = client.get("/assets/revenue").text
    assert "Automation condition" in revenue and "Last evaluation" in revenue


def test_bad_input_gets_a_clear_page_and_status(client):
    for path, status, text in [("/assets/nope", 404, "no asset named &#x27;nope&#x27;"),
                               ("/runs/0000", 404, "no run with id &#x27;0000&#x27;"),
                               ("/backfills/zzz", 404, "no backfill with id &#x27;zzz&#x27;"),
                               ("/assets/daily?partition=bad", 400, "&#x27;bad&#x27; is not a partition key"),
                               ("/assets/orders?partition=x", 400, "is not partitioned"),
                               ("/runs?status=Nope", 400, "unknown run status &#x27;Nope&#x27;"),
                               ("/runs?tag=novalue", 400, "a tag filter is key=value"),
                               ("/no/such/page", 404, "page not found")]:
        response = client.get(path)
        assert response.status_code == status, path
        assert text in response.text, (path, response.text[-400:])
        assert "Traceback" not in response.text and 'File "' not in response.text


def test_partitions_are_sent_as_ranges(client, repo):
    for key in ("2020-01-01", "2020-01-02", "2020-01-03", "2020-02-10"):
        repo.materialize(["daily"], partition_key=key)
    page = client.get("/assets/daily").text
    assert "100 keys: 96 missing, 4 materialized" in page
    bar = re.search(r'<svg class="pbar".*?</svg>', page).group(0)
    assert bar.count("<rect") == 4  # ok 01-01..01-03, missing, ok 02-10, missing
    assert "2020-01-01 \u2013 2020-01-03: materialized (3)" in bar
    looked_up = client.get("/assets/daily", params={"partition": "2020-02-10"}).text
    assert "Partition <b>2020-02-10</b>: <span class=\"badge b-materialized\">" in looked_up


def test_runs_list_filters_and_pages_with_a_cursor(client, repo):
    repo.materialize(["broken"], raise_on_error=False)
    for _ in range(52):
        repo.materialize(["slow"])
    failed = client.get("/runs", params={"status": "Failure"}).text
    assert failed.count('<span class="badge b-failure">') == 1 and "b-success" not in failed
    first = client.get("/runs").text
    assert first.count("<tr>") == 51  # the header and 50 runs
    next_link = re.search(r'href="(/runs\?cursor=[^"]+)"', first).group(1)
    second = client.get(next_link.replace("&amp;", "&")).text
    assert second.count("<tr>") == 4 and "Next page" not in second
    ids = set(re.findall(r'href="/runs/([0-9a-f-]{36})"', first)) | set(re.findall(r'href="/runs/([0-9a-f-]{36})"',
                                                                                     second))
    assert len(ids) == 53
    tagged = client.get("/runs", params={"tag": "rivers/launched_from=ui"}).text
    assert "no runs match" in tagged


def test_run_logs_hold_the_failed_steps_traceback(client, repo):
    result = repo.materialize(["broken"], raise_on_error=False)
    logs = client.get(f"/runs/{result.run_id}/logs.json", params={"step": "broken"}).json()
    text = "\n".join(entry["stderr"] or "" for entry in logs)
    assert "Traceback" in text and "ValueError: the export is corrupt: row 7 has no amount" in text
    page = client.get(f"/runs/{result.run_id}").text
    assert "Re-execute from failure" in page and "Cancel run" not in page


def test_cancel_and_reexecute_refuse_the_wrong_state(client, repo):
    good = repo.materialize(["orders"])
    assert post(client, f"/runs/{good.run_id}/cancel").status_code == 409
    assert post(client, f"/runs/{good.run_id}/reexecute").status_code == 409
    failed = repo.materialize(["orders", "broken"], raise_on_error=False)
    response = post(client, f"/runs/{failed.run_id}/reexecute")
    assert response.status_code == 303 and response.headers["location"] == f"/runs/{failed.run_id}"
    wait_until(lambda: repo.storage.get_run(failed.run_id).status == "Failure"
               and len([e for e in repo.storage.get_events_after(0, run_id=failed.run_id, limit=1000).events
                        if e.event_type == "StepFailure"]) == 2)


def test_backfill_over_a_range_from_the_ui(client, repo):
    response = post(client, "/backfills", asset="daily", **{"from": "2020-01-05", "to": "2020-01-09"})
    assert response.status_code == 303
    backfill_id = response.headers["location"].rsplit("/", 1)[1]
    status = wait_until(lambda: (s := repo.get_backfill(backfill_id)) is not None and s.status == "CompletedSuccess" and s)
    assert status.completed_partitions == 5
    page = client.get(f"/backfills/{backfill_id}").text
    assert "5 completed, 0 failed" in page and 'data-status="CompletedSuccess"' in page
    assert backfill_id[:8] in client.get("/backfills").text
    empty = post(client, "/backfills", asset="daily", missing="1", **{"from": "2020-01-05", "to": "2020-01-09"})
    assert empty.status_code == 400 and "every key of 2020-01-05..2020-01-09" in empty.text
    reversed_range = post(client, "/backfills", asset="daily", **{"from": "2020-01-09", "to": "2020-01-05"})
    assert reversed_range.status_code == 400 and "the first key comes after the last" in reversed_range.text


def test_automation_page_starts_and_stops_a_schedule(client):
    page = client.get("/automation").text
    assert 'data-name="nightly"' in page and "b-stopped" in page and "0 2 * * *" in page
    assert page.count("02:00:00 UTC") == 3  # the next three ticks
    assert post(client, "/automation/schedules/nightly/running", running="1").status_code == 303
    assert "b-running" in client.get("/automation").text
    assert post(client, "/automation/schedules/nope/running", running="1").status_code == 404
    assert "no queued runs" in page and "no pools configured" in page


def test_plugins_page_lists_what_rivers_plugins_shows(client):
    import rivers.plugins

    page = client.get("/plugins").text
    for plugin in rivers.plugins.list_plugins():
        assert f"<td>{plugin.name}" in page
