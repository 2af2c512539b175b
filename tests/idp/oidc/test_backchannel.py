"""Back-channel logout (conformance back-channel plan: oidcc-backchannel-rp-initiated-logout): a signed logout
token POSTed to each client of the ended session, queued durably, sent by a worker, retried on failure."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.backchannel import LogoutNotifier
from idp.oidc.jwt_signing import BACKCHANNEL_LOGOUT_EVENT
from idp.oidc.models import OidcLogoutNotice
from tests.oidc_helpers import ISSUER, LogoutReceiver, header_of, make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def logout(flow, id_token):
    response = flow.client.get("/logout/end", query_string={"id_token_hint": id_token})
    assert response.status_code == 200


def test_logout_tokens_reach_every_client_of_the_session(app, flow, voters, logout_receiver):
    voter = voters.create()
    first = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    second = make_client(
        app, first_party=False, backchannel_logout_uri=logout_receiver.uri, id_token_signed_response_alg="RS256"
    )
    silent = make_client(app)  # no back-channel URI: nothing to send
    first_tokens = flow.tokens(first, voter)
    second_tokens = flow.tokens(second, voter)
    flow.tokens(silent, voter)
    logout(flow, first_tokens["id_token"])
    assert logout_receiver.received == [], "the logout request does not wait for the clients"
    assert LogoutNotifier(app).drain() == 2
    assert len(logout_receiver.received) == 2
    by_audience = {}
    for request in logout_receiver.received:
        assert request["_content_type"] == ["application/x-www-form-urlencoded"]
        token = request["logout_token"][0]
        assert header_of(token)["typ"] == "logout+jwt"
        claims = verify(flow.client, token)
        by_audience[claims["aud"]] = claims
        assert claims["iss"] == ISSUER
        assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
        assert claims["jti"] and claims["iat"] and "nonce" not in claims
    for rp, tokens in ((first, first_tokens), (second, second_tokens)):
        id_claims = verify(flow.client, tokens["id_token"])
        assert by_audience[rp.client_id]["sub"] == id_claims["sub"]
        assert by_audience[rp.client_id]["sid"] == id_claims["sid"]
    assert header_of(logout_receiver.received[0]["logout_token"][0])["alg"] in ("ES256", "RS256")
    assert LogoutNotifier(app).drain() == 0, "each notice is sent once"
    with app.app_context(), get_db(app).transaction() as session:
        types = list(session.execute(select(AuditEvent.type)).scalars())
    assert types.count("logout.backchannel_queued") == 2 and types.count("logout.backchannel_sent") == 2


def test_sessions_of_other_browsers_are_not_logged_out(app, flow, voters, logout_receiver):
    from tests.helpers import AuthActions
    from tests.oidc_helpers import Flow

    rp = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    voter = voters.create()
    other_client = app.test_client()
    other_browser = Flow(app, other_client, AuthActions(other_client))
    other_tokens = other_browser.tokens(rp, voter)
    tokens = flow.tokens(rp, voter)
    logout(flow, tokens["id_token"])
    LogoutNotifier(app).drain()
    sids = [verify(flow.client, r["logout_token"][0])["sid"] for r in logout_receiver.received]
    assert sids == [verify(flow.client, tokens["id_token"])["sid"]]
    assert verify(flow.client, other_tokens["id_token"])["sid"] not in sids
    userinfo = other_browser.client.get(
        "/userinfo", headers={"Authorization": f"Bearer {other_tokens['access_token']}"}
    )
    assert userinfo.status_code == 200


def test_failed_delivery_is_retried_then_abandoned(app, flow, voters):
    app.config["BACKCHANNEL_MAX_ATTEMPTS"] = 6
    receiver = LogoutReceiver(status=500)
    try:
        rp = make_client(app, backchannel_logout_uri=receiver.uri)
        tokens = flow.tokens(rp, voters.create())
        logout(flow, tokens["id_token"])
        notifier = LogoutNotifier(app)
        assert notifier.drain() == 1
        with app.app_context(), get_db(app).transaction() as session:
            notice = session.execute(select(OidcLogoutNotice)).scalar_one()
            assert notice.status == "pending" and notice.attempts == 1 and notice.last_error == "HTTP 500"
            assert notice.next_attempt_at > dt.datetime.now(dt.UTC)
        assert notifier.drain() == 0, "not due yet"
        for _ in range(app.config["BACKCHANNEL_MAX_ATTEMPTS"] - 1):
            with app.app_context(), get_db(app).transaction() as session:
                session.execute(
                    update(OidcLogoutNotice).values(next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
                )
            notifier.drain()
        with app.app_context(), get_db(app).transaction() as session:
            notice = session.execute(select(OidcLogoutNotice)).scalar_one()
            assert notice.status == "failed"
            types = set(session.execute(select(AuditEvent.type)).scalars())
        assert "logout.backchannel_failed" in types
        assert len(receiver.received) == app.config["BACKCHANNEL_MAX_ATTEMPTS"]
    finally:
        receiver.close()


def test_unreachable_client_is_retried(app, flow, voters):
    rp = make_client(app, backchannel_logout_uri="http://127.0.0.1:9/backchannel")
    tokens = flow.tokens(rp, voters.create())
    logout(flow, tokens["id_token"])
    LogoutNotifier(app).drain()
    with app.app_context(), get_db(app).transaction() as session:
        notice = session.execute(select(OidcLogoutNotice)).scalar_one()
    assert notice.status == "pending" and notice.last_error == "ConnectionError"


def test_the_worker_command(app, flow, voters, logout_receiver):
    from idp.oidc.cli import oidc

    rp = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    tokens = flow.tokens(rp, voters.create())
    logout(flow, tokens["id_token"])
    result = app.test_cli_runner().invoke(oidc, ["deliver-logouts", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 notice(s) handled" in result.output
    assert len(logout_receiver.received) == 1


def test_signing_out_on_the_idp_screen_ends_the_clients_sessions(app, flow, voters, logout_receiver):
    """« Se déconnecter » on the IdP itself is a logout like /logout/end: tokens revoked, clients notified."""
    from tests.helpers import csrf_of

    voter = voters.create()
    rp = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    tokens = flow.tokens(rp, voter)
    page = flow.client.get("/logout")
    assert flow.client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert LogoutNotifier(app).drain() == 1
    claims = verify(flow.client, logout_receiver.received[0]["logout_token"][0])
    assert claims["sid"] == verify(flow.client, tokens["id_token"])["sid"]
    userinfo = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
