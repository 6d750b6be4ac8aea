"""``rivers dev``: the automation daemon and the UI in one process; ``rivers ui``/``dev`` without rivers-ui."""

from __future__ import annotations

import time

import httpx

from ui_process import UiProcess


def test_rivers_dev_serves_the_ui_runs_the_daemon_and_stops_on_sigterm(tmp_path, repo):
    repo.materialize(["orders", "cleaned"])  # revenue (eager) is now due: the daemon of `rivers dev` launches it
    server = UiProcess(tmp_path, command="dev", extra_args=("--condition-eval-interval", "1s"))
    try:
        assert "automation daemon" in "".join(server.output)
        assert httpx.get(server.url + "/").status_code == 200
        deadline = time.monotonic() + 60
        while (record := repo.storage.get_asset_record("revenue")) is None or record.last_run_id is None:
            assert time.monotonic() < deadline, "the daemon did not materialize the eager asset"
            time.sleep(0.2)
        assert 's-fresh" data-name="revenue"' in httpx.get(server.url + "/").text
    finally:
        code = server.stop()
    output = "".join(server.output)
    assert code == 0, output
    assert "rivers dev: stopped" in output and "Traceback" not in output


def test_ui_and_dev_name_rivers_ui_when_it_is_not_installed(monkeypatch, capsys):
    import rivers.plugins
    from rivers.cli import app

    monkeypatch.setattr(rivers.plugins, "cli_commands", lambda: {})
    for command in ("ui", "dev"):
        code = app.run([command, "pipeline.py", "--port", "0"])
        assert code != 0
        assert (f"`rivers {command}` comes with rivers-ui, which is not installed: pip install rivers-ui"
                in capsys.readouterr().err)
