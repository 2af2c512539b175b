"""Sign-in through the development provider: the identifier page's button, the round trip, the match, then the
election password (default) or a session of the federation's own level (IDP_FC_SIGN_IN_ENOUGH)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient

from idp.auth.state import ACR_PASSWORD, ACR_VOTE_CODE
from idp.federation import ACR_FRANCECONNECT
from tests.helpers import DEFAULT_PASSWORD, AuthActions, VoterFactory, csrf_of
from tests.idp.federation.conftest import FcServer
from tests.idp.federation.helpers import CALLBACK, FC_CLIENT_ID, LOGIN_PATH, FederationActions, claire, events, query_of
from tests.oidc_helpers import Flow, install_keys, make_client, shows_vote_code_page


def test_identifier_page_offers_franceconnect(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "S'identifier avec FranceConnect" in page
    assert f'href="{LOGIN_PATH}"' in page


def test_button_absent_when_disabled(make_app: Callable[..., Flask]) -> None:
    app = make_app(FC_ENABLED=False)
    client = app.test_client()
    assert "FranceConnect" not in client.get("/login").get_data(as_text=True)
    assert client.get(LOGIN_PATH).status_code == 404
    assert client.get("/federation/franceconnect/callback?state=x&code=y").status_code == 404


def test_authorization_request_is_franceconnects(fc: FederationActions, fc_server: FcServer) -> None:
    started = fc.start()
    assert started.status_code == 302
    location = started.headers["Location"]
    assert location.startswith(fc_server.issuer + "/authorize?")
    params = query_of(location)
    assert params["response_type"] == "code"
    assert params["client_id"] == FC_CLIENT_ID
    assert params["redirect_uri"] == CALLBACK
    assert params["acr_values"] == "eidas1"
    assert params["scope"].split() == [
        "openid",
        "given_name",
        "family_name",
        "birthdate",
        "gender",
        "birthplace",
        "birthcountry",
    ]
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["state"] != params["nonce"]
    assert "code_challenge" not in params  # the development provider, like FranceConnect, announces no PKCE


def test_match_then_election_password(
    app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient
) -> None:
    client.get("/login?next=/apres-connexion")
    voter = claire(voters)
    answer = fc.identify("claire-jullien")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/login/password"
    page = client.get("/login/password")
    assert voter.identifier in page.get_data(as_text=True)
    signed = client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/apres-connexion"
    matched = [e for e in events(app) if e["type"] == "federation.matched"]
    assert len(matched) == 1
    assert matched[0]["subject"] == voter.subject
    assert matched[0]["purpose"] == "login"
    assert len(matched[0]["provider_ref"]) == 32
    with client.session_transaction() as session:
        assert session["auth"]["acr"] == ACR_PASSWORD


def test_match_without_the_password_is_no_session(
    fc: FederationActions, voters: VoterFactory, client: FlaskClient
) -> None:
    claire(voters)
    fc.identify("claire-jullien")
    assert client.get("/").headers["Location"].endswith("/login")
    page = client.get("/login/password")
    wrong = client.post("/login/password", data={"csrf_token": csrf_of(page), "password": "pas le bon mot de passe"})
    assert wrong.status_code == 401


def test_sign_in_enough(make_app: Callable[..., Flask], voters: VoterFactory, browser: requests.Session) -> None:
    app = make_app(FC_SIGN_IN_ENOUGH=True)
    client = app.test_client()
    voter = claire(voters)
    client.get("/login?next=/ailleurs")
    answer = FederationActions(client, browser).identify("claire-jullien")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/ailleurs"
    with client.session_transaction() as session:
        auth = session["auth"]
    assert auth["acr"] == ACR_FRANCECONNECT
    assert auth["amr"] == ["fed"]
    assert auth["subject"] == voter.subject
    signed_in = [e for e in events(app) if e["type"] == "federation.signed_in"]
    assert signed_in and signed_in[0]["subject"] == voter.subject


def test_sign_in_enough_never_reaches_the_vote_code_level(
    make_app: Callable[..., Flask], voters: VoterFactory, browser: requests.Session
) -> None:
    """A client asking for the vote-code level gets the vote-code step, not a code; one asking for the password
    level is told it cannot be met."""
    app = make_app(FC_SIGN_IN_ENOUGH=True)
    install_keys(app)
    client = app.test_client()
    claire(voters)
    FederationActions(client, browser).identify("claire-jullien")
    rp = make_client(app)
    flow = Flow(app, client, AuthActions(client))
    stepped, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_vote_code_page(stepped)  # the authorization request's own answer
    refused, params, _ = flow.start(rp, acr_values=ACR_PASSWORD)
    assert refused.status_code == 302
    answer = query_of(refused.headers["Location"])
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == params["state"]
    plain, _, _ = flow.start(rp)
    issued = query_of(plain.headers["Location"])
    assert "code" in issued
