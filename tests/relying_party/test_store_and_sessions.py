"""The portal's ephemeral store (SQL and Redis implementations, one contract) and its server-side sessions."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from relying_party.store import get_store
from tests.relying_party.helpers import sign_in, text_of


def test_store_contract(app: Flask) -> None:
    store = get_store(app)
    assert store.get("absent") is None
    store.set("k", "v1", 60)
    store.set("k", "v2", 60)
    assert store.get("k") == "v2"
    assert store.add("once", "1", 60) is True
    assert store.add("once", "2", 60) is False
    assert store.get("once") == "1"
    store.delete("k")
    assert store.get("k") is None
    store.set("short", "x", 1)
    time.sleep(1.1)
    assert store.get("short") is None
    assert store.add("short", "again", 60) is True, "an expired entry counts as absent"


def test_store_tags_end_sessions_of_an_idp_session(app: Flask) -> None:
    store = get_store(app)
    store.set("s1", "a", 60, idp_sid="sid-1", idp_sub="sub-1")
    store.set("s2", "b", 60, idp_sid="sid-2", idp_sub="sub-1")
    store.set("s3", "c", 60, idp_sid="sid-3", idp_sub="sub-2")
    assert store.delete_tagged(idp_sid="sid-1") == 1
    assert (store.get("s1"), store.get("s2"), store.get("s3")) == (None, "b", "c")
    assert store.delete_tagged(idp_sub="sub-1") == 1
    assert (store.get("s2"), store.get("s3")) == (None, "c")
    assert store.delete_tagged() == 0


def test_sign_out_ends_the_session_server_side(app: Flask, client: FlaskClient) -> None:
    sid = sign_in(client, app)
    page = client.get("/mon-compte")
    assert page.status_code == 200
    from tests.relying_party.helpers import csrf_of

    response = client.post("/deconnexion", data={"csrf_token": csrf_of(page)})
    # The stored ID token is not a real one and the IdP is not reachable: local sign-out with a message.
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Vous êtes déconnecté du portail Élections." in text_of(client.get("/"))
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], sid, domain="localhost")
    assert replay.get("/mon-compte").status_code == 302


def test_idle_timeout(app: Flask, make_portal) -> None:
    short = make_portal(SESSION_IDLE_TIMEOUT=1)
    client = short.test_client()
    sign_in(client, short)
    assert client.get("/mon-compte").status_code == 200
    time.sleep(2.1)
    assert client.get("/mon-compte").status_code == 302


def test_backchannel_logout_refuses_what_is_not_a_logout_token(client: FlaskClient) -> None:
    missing = client.post("/backchannel-logout", data={})
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"
    assert missing.headers["Cache-Control"] == "no-store"
    # The IdP of these tests is unreachable: a token that cannot be checked is not accepted either.
    unverifiable = client.post("/backchannel-logout", data={"logout_token": "a.b.c"})
    assert unverifiable.status_code in (400, 503)
