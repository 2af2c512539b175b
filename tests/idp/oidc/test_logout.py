"""RP-initiated logout (conformance RP-initiated logout plan: oidcc-rp-initiated-logout,
oidcc-rp-initiated-logout-bad-post-logout-redirect-uri, oidcc-rp-initiated-logout-modified-id-token-hint,
oidcc-rp-initiated-logout-no-id-token-hint, oidcc-rp-initiated-logout-no-params,
oidcc-rp-initiated-logout-only-state, oidcc-rp-initiated-logout-no-post-logout-redirect-uri,
oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc import jwt_signing
from idp.oidc.provider import get_provider
from tests.helpers import csrf_of
from tests.oidc_helpers import ISSUER, RP_LOGOUT_REDIRECT, make_client, query_of

pytest_plugins = ["tests.oidc_fixtures"]


def signed_in(flow):
    return flow.client.get("/").status_code == 200


def userinfo_status(flow, token):
    return flow.client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def end_session(flow, **params):
    return flow.client.get("/logout/end?" + urlencode(params))


def test_logout_with_id_token_hint_redirects_with_state(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    assert signed_in(flow)
    response = end_session(
        flow, id_token_hint=tokens["id_token"], post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state="au-revoir-42"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == RP_LOGOUT_REDIRECT + "?state=au-revoir-42"
    assert not signed_in(flow)
    assert userinfo_status(flow, tokens["access_token"]) == 401, "the session's tokens are revoked"
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_logout_keeps_the_query_of_the_registered_uri(app, flow, voters):
    rp = make_client(app, post_logout_redirect_uris=["https://rp.example.fr/bye?lang=fr"])
    tokens = flow.tokens(rp, voters.create())
    response = end_session(
        flow, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://rp.example.fr/bye?lang=fr", state="s"
    )
    assert query_of(response.headers["Location"]) == {"lang": "fr", "state": "s"}


def test_logout_with_hint_and_no_redirect_uri_shows_the_logged_out_page(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = end_session(flow, id_token_hint=tokens["id_token"])
    assert response.status_code == 200 and "Vous êtes déconnecté(e)" in response.get_data(as_text=True)
    assert not signed_in(flow)


def test_logout_without_hint_asks_for_confirmation(flow, rp, voters):
    flow.tokens(rp, voters.create())
    page = end_session(flow, client_id=rp.client_id, post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state="x")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Voulez-vous vous déconnecter" in html and "Application de test" in html
    assert signed_in(flow), "nothing happens before the voter confirms"
    action = html.split('action="')[1].split('"')[0].replace("&amp;", "&")
    refused = flow.client.post(action, data={})
    assert refused.status_code == 400 and signed_in(flow), "the confirmation needs its CSRF token"
    page = end_session(flow, client_id=rp.client_id, post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state="x")
    action = page.get_data(as_text=True).split('action="')[1].split('"')[0].replace("&amp;", "&")
    response = flow.client.post(action, data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302 and response.headers["Location"] == RP_LOGOUT_REDIRECT + "?state=x"
    assert not signed_in(flow)


def test_logout_without_any_parameter(flow, rp, voters):
    flow.tokens(rp, voters.create())
    page = end_session(flow)
    assert page.status_code == 200 and "Voulez-vous vous déconnecter" in page.get_data(as_text=True)
    action = page.get_data(as_text=True).split('action="')[1].split('"')[0].replace("&amp;", "&")
    response = flow.client.post(action, data={"csrf_token": csrf_of(page)})
    assert response.status_code == 200 and "Vous êtes déconnecté(e)" in response.get_data(as_text=True)
    assert not signed_in(flow)


def test_unregistered_post_logout_redirect_uri_is_an_error_page(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = end_session(
        flow, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://evil.example/bye", state="x"
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Demande de déconnexion invalide" in response.get_data(as_text=True)
    assert signed_in(flow), "an invalid logout request ends nothing"


def test_modified_id_token_hint_is_an_error_page(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    header, payload, signature = tokens["id_token"].split(".")
    tampered = ".".join([header, payload, signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")])
    response = end_session(flow, id_token_hint=tampered, post_logout_redirect_uri=RP_LOGOUT_REDIRECT)
    assert response.status_code == 400 and "Location" not in response.headers
    assert signed_in(flow)


def test_client_id_must_match_the_hint(app, flow, rp, voters):
    other = make_client(app)
    tokens = flow.tokens(rp, voters.create())
    response = end_session(
        flow, id_token_hint=tokens["id_token"], client_id=other.client_id, post_logout_redirect_uri=RP_LOGOUT_REDIRECT
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_redirect_uri_of_another_client_is_refused(app, flow, rp, voters):
    make_client(app, post_logout_redirect_uris=["https://autre.example.fr/bye"])
    tokens = flow.tokens(rp, voters.create())
    response = end_session(
        flow, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://autre.example.fr/bye"
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_expired_id_token_hint_is_accepted(app, flow, rp, voters):
    voter = voters.create()
    flow.tokens(rp, voter)
    with app.app_context(), get_db(app).transaction() as session:
        from idp.oidc import clients

        client = clients.find(session, rp.client_id)
        now = int(time.time())
        hint = jwt_signing.sign(
            get_provider(app),
            session,
            "ES256",
            {"iss": ISSUER, "sub": voter.subject, "aud": rp.client_id, "iat": now - 7200, "exp": now - 3600},
        )
        assert client is not None
    response = end_session(flow, id_token_hint=hint, post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state="s")
    assert response.status_code == 200


def test_hint_of_another_session_asks_for_confirmation(flow, rp, voters):
    alice, bob = voters.create(), voters.create()
    hint = flow.tokens(rp, alice)["id_token"]
    flow.auth.login(bob.identifier)
    flow.authorize(rp, bob)
    page = end_session(flow, id_token_hint=hint, post_logout_redirect_uri=RP_LOGOUT_REDIRECT)
    assert page.status_code == 200 and "Voulez-vous vous déconnecter" in page.get_data(as_text=True)
    assert signed_in(flow)


def test_logout_by_post(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.post(
        "/logout/end",
        data={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": RP_LOGOUT_REDIRECT, "state": "p"},
    )
    assert response.status_code == 303
    final = flow.client.get(response.headers["Location"])
    assert final.headers["Location"] == RP_LOGOUT_REDIRECT + "?state=p"
    assert not signed_in(flow)


def test_logout_when_already_signed_out_still_redirects(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    end_session(flow, id_token_hint=tokens["id_token"])
    response = end_session(
        flow, id_token_hint=tokens["id_token"], post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state="again"
    )
    assert response.headers["Location"] == RP_LOGOUT_REDIRECT + "?state=again"


def test_logout_is_audited(app, flow, rp, voters):
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    end_session(flow, id_token_hint=tokens["id_token"])
    with app.app_context(), get_db(app).transaction() as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.type == "logout")).scalars().all()
    assert [e.subject for e in events] == [voter.subject]
    assert '"via":"end_session"' in events[0].data
