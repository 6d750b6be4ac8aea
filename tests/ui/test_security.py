"""Safety of the UI: CSRF token and Origin on POSTs, the access token, no secrets in pages, local binding."""

from __future__ import annotations

import pytest


def test_posts_need_the_csrf_token(client, repo):
    without = client.post("/materialize", data={"asset": "orders"}, follow_redirects=False)
    assert without.status_code == 403 and "CSRF token is missing or stale" in without.text
    wrong = client.post("/materialize", data={"asset": "orders", "csrf": "x" * 43}, follow_redirects=False)
    assert wrong.status_code == 403
    assert repo.storage.query_runs(limit=10).runs == []
    by_header = client.post("/materialize", data={"asset": "orders"}, headers={"X-CSRF-Token": client.csrf},
                            follow_redirects=False)
    assert by_header.status_code == 303


def test_cross_site_posts_are_refused_by_origin(client, repo):
    response = client.post("/materialize", data={"asset": "orders", "csrf": client.csrf},
                           headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert response.status_code == 403 and "cross-site request refused" in response.text
    same = client.post("/materialize", data={"asset": "orders", "csrf": client.csrf},
                       headers={"Origin": "http://127.0.0.1:3000"}, follow_redirects=False)
    assert same.status_code == 303


def test_the_access_token_guards_every_page(repo):
    from starlette.testclient import TestClient

    from rivers_ui import UiSettings, create_app

    token = "t0ken-" + "a" * 20
    app = create_app(repo, settings=UiSettings(access_token=token))
    with TestClient(app, base_url="http://127.0.0.1:3000") as client:
        assert client.get("/").status_code == 401
        assert client.get("/static/ui.js").status_code == 401
        assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        login = client.get(f"/runs?token={token}", follow_redirects=False)
        assert login.status_code == 303 and "HttpOnly" in login.headers["set-cookie"]
        assert login.headers["location"] == "/runs"  # the token leaves the address bar
        assert client.get("/runs").status_code == 200  # the cookie carries it now
        page = client.get("/").text
        assert token not in page


def test_pages_never_show_credentials(repo):
    from starlette.testclient import TestClient

    from rivers_ui import UiSettings, create_app
    from rivers_ui.security import redact_url

    url = "postgresql://rivers:s3cr3t-pw@db.internal:5432/rivers?sslmode=require&password=other-s3cr3t"
    assert redact_url(url) == ("postgresql://rivers:***@db.internal:5432/rivers?sslmode=require&password=***")
    with TestClient(create_app(repo, settings=UiSettings(storage_url=url))) as client:
        page = client.get("/").text
    assert "s3cr3t" not in page and "rivers:***@db.internal" in page


@pytest.mark.parametrize(("host", "allow", "token", "message"), [
    ("0.0.0.0", False, None, "add --allow-remote"),
    ("192.168.1.4", True, "short", "needs at least 16 characters"),
])
def test_listening_beyond_this_machine_needs_a_flag_and_a_token(host, allow, token, message):
    from rivers.exceptions import ConfigurationError
    from rivers_ui.server import access_token_for

    with pytest.raises(ConfigurationError, match=message):
        access_token_for(host, allow, token)
    assert access_token_for("127.0.0.1", False, None) is None
    assert access_token_for("::1", False, None) is None
    assert access_token_for("0.0.0.0", True, "x" * 16) == "x" * 16
    assert len(access_token_for("0.0.0.0", True, None)) >= 32  # generated, printed once by `rivers ui`
