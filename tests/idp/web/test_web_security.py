"""Sessions, cookies and headers: a new session id at sign-in, real sign-out, security headers everywhere."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from idp.store import get_store
from infra import sessions
from tests.helpers import DEFAULT_PASSWORD


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("idp_session")
    return cookie.value if cookie else None


def test_sign_in_issues_a_new_session_id(app, client, voters, auth):
    voter = voters.create()
    auth.submit_identifier(voter.identifier)
    before = session_cookie(client)
    assert before
    auth.submit_password(DEFAULT_PASSWORD)
    after = session_cookie(client)
    assert after and after != before
    # The pre-login session is not signed in and never becomes so (no fixation): its entry is kept as it was, for a
    # twin POST of the password form (a double click), REPLACED_GRACE seconds at most.
    key = "session:" + hashlib.sha256(before.encode()).hexdigest()
    assert "auth" not in json.loads(get_store(app).get(key) or "{}")["data"]
    assert (get_store(app).ttl(key) or 0) <= sessions.REPLACED_GRACE
    old = app.test_client()
    old.set_cookie("idp_session", before, domain="localhost")
    assert old.get("/").headers["Location"].endswith("/login"), "the old cookie is not signed in"
    assert client.get("/").status_code == 200


def test_the_replaced_entry_expires(app, client, voters, auth, monkeypatch):
    monkeypatch.setattr(sessions, "REPLACED_GRACE", 1)
    voter = voters.create()
    auth.submit_identifier(voter.identifier)
    before = session_cookie(client)
    assert before
    auth.submit_password(DEFAULT_PASSWORD)
    key = "session:" + hashlib.sha256(before.encode()).hexdigest()
    assert get_store(app).get(key) is not None
    time.sleep(1.1)
    assert get_store(app).get(key) is None


def test_sign_out_ends_the_session_server_side(app, client, voters, auth):
    voter = voters.create()
    auth.login(voter.identifier)
    sid = session_cookie(client)
    assert sid
    page = client.get("/logout")
    from tests.helpers import csrf_of

    response = client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    assert get_store(app).get("session:" + hashlib.sha256(sid.encode()).hexdigest()) is None
    assert client.get("/").headers["Location"].endswith("/login")


def test_cookie_flags_in_testing(client, voters, auth):
    voter = voters.create()
    response = auth.login(voter.identifier)
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # plain HTTP in development and tests


def test_cookie_is_secure_and_hsts_sent_in_production(make_app):
    production = make_app(ENV="production", CAPTCHA_BACKEND="image", KEY_ENCRYPTION_KEY="k" * 40)
    client = production.test_client()
    response = client.get("/login")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_unknown_page_gets_a_french_404(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_tampered_session_cookie_is_a_fresh_session(client):
    client.set_cookie("idp_session", "x" * 43)
    response = client.get("/")
    assert response.status_code == 302


def test_production_refuses_to_start_without_a_key_encryption_key(app_config):
    from idp import create_app

    with pytest.raises(ValueError, match="IDP_KEY_ENCRYPTION_KEY is required"):
        create_app({**app_config, "ENV": "production", "CAPTCHA_BACKEND": "image", "KEY_ENCRYPTION_KEY": None})
