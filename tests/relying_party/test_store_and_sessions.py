"""The portal's ephemeral store (its tags for back-channel logout) and its server-side sessions."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from relying_party.store import get_store
from tests.relying_party.helpers import sign_in, text_of


def test_store_tags_end_sessions_of_an_idp_session(app: Flask) -> None:
    """The portal's store (its migrated table, or Redis) keeps the tags a back-channel logout looks for; the rest
    of the store's contract is tested once for every implementation (tests/infra/test_store_contract.py)."""
    store = get_store(app)
    store.set("s1", "a", 60, sid="sid-1", sub="sub-1")
    store.set("s2", "b", 60, sid="sid-2", sub="sub-1")
    store.set("s3", "c", 60, sid="sid-3", sub="sub-2")
    assert store.delete_tagged(sid="sid-1") == 1
    assert (store.get("s1"), store.get("s2"), store.get("s3")) == (None, "b", "c")
    assert store.delete_tagged(sub="sub-1") == 1
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
    assert unverifiable.status_code == 503
