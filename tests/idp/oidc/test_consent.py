"""Consent (conformance: oidcc-prompt-none-logged-in with consent needed, prompt=consent): third-party clients ask
once per scope, first-party clients never; the screen is French and CSRF-protected."""

from __future__ import annotations

from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from tests.helpers import csrf_of
from tests.oidc_helpers import RP_REDIRECT, make_client, query_of

pytest_plugins = ["tests.oidc_fixtures"]


def third_party(app):
    return make_client(app, first_party=False, client_name="Application partenaire")


def reach_consent(flow, rp, voter, **extra):
    response, params, verifier = flow.start(rp, **extra)
    page = flow.follow_to_client(response, voter, consent=False)
    return page, params, verifier


def test_third_party_client_gets_a_french_consent_screen(app, flow, voters):
    rp = third_party(app)
    page, _, _ = reach_consent(flow, rp, voters.create(), scope="openid email")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Application partenaire" in html and "votre adresse de messagerie académique" in html
    assert "Autoriser" in html and "Refuser" in html
    assert "vos nom, prénoms" not in html  # profile was not asked for
    assert "form-action 'self' https://rp.example.fr" in page.headers["Content-Security-Policy"]


def test_consent_is_remembered_per_scope(app, flow, voters):
    rp = third_party(app)
    voter = voters.create()
    flow.authorize(rp, voter, scope="openid email")  # consents on the way
    response, _, _ = flow.start(rp, scope="openid email")
    assert response.headers["Location"].startswith(RP_REDIRECT), "asked again for the same scopes"
    response, _, _ = flow.start(rp, scope="openid email profile")
    assert response.headers["Location"].startswith("/authorize/consent"), "a new scope needs consent"


def test_first_party_client_never_asks(flow, rp, voters):
    response, _, _ = flow.start(rp)
    final = flow.follow_to_client(response, voters.create(), consent=False)
    assert final.headers["Location"].startswith(RP_REDIRECT)


def test_prompt_consent_asks_again(app, flow, voters):
    rp = third_party(app)
    voter = voters.create()
    flow.authorize(rp, voter)
    response, _, _ = flow.start(rp, prompt="consent")
    assert response.headers["Location"].startswith("/authorize/consent")
    assert "code" in flow.authorize(rp, voter, prompt="consent").params


def test_prompt_none_when_consent_is_needed(app, flow, voters):
    rp = third_party(app)
    flow.auth.login(voters.create().identifier)
    response, params, _ = flow.start(rp, prompt="none")
    query = query_of(response.headers["Location"])
    assert query["error"] == "consent_required" and query["state"] == params["state"]


def test_refusing_answers_access_denied(app, flow, voters):
    rp = third_party(app)
    page, params, _ = reach_consent(flow, rp, voters.create())
    location = page.request.url
    response = flow.consent(location, page, "deny")
    query = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(RP_REDIRECT)
    assert query["error"] == "access_denied" and query["state"] == params["state"]
    assert "iss" in query


def test_consent_form_needs_its_csrf_token(app, flow, voters):
    rp = third_party(app)
    page, _, _ = reach_consent(flow, rp, voters.create())
    response = flow.client.post(page.request.url, data={"decision": "allow"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_consent_is_audited(app, flow, voters):
    rp = third_party(app)
    voter = voters.create()
    flow.authorize(rp, voter, scope="openid email")
    with app.app_context(), get_db(app).transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.type == "consent.granted")).scalar_one()
    assert event.subject == voter.subject and event.client_id == rp.client_id
    assert '"scope":"openid email"' in event.data


def test_consent_page_of_an_unknown_transaction(flow):
    page = flow.client.get("/authorize/consent?tx=unknown")
    assert page.status_code == 400 and "Demande expirée" in page.get_data(as_text=True)


def test_consent_post_with_csrf_reaches_the_client(app, flow, voters):
    rp = third_party(app)
    page, _, _ = reach_consent(flow, rp, voters.create())
    response = flow.client.post(page.request.url, data={"csrf_token": csrf_of(page), "decision": "allow"})
    assert response.status_code == 303
    final = flow.follow_to_client(response)
    assert "code" in query_of(final.headers["Location"])
