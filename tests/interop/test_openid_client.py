"""The IdP against panva's openid-client (v6, certified OpenID Connect relying party), over real HTTP.

Each case runs the whole journey of interop/rp_flow.mjs (discovery, authorization code with PKCE S256, state
and nonce, sign-in, code exchange with the ID token signature verified against the JWKS, userinfo, refresh,
introspection, revocation, RP-initiated logout) and checks its report. The library does the protocol checks
(issuer, audience, nonce, state, ``iss`` of the authorization response, PKCE, signatures, userinfo ``sub``);
the assertions here check that it did them on what the IdP is meant to issue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from idp.auth.state import ACR_PASSWORD
from idp.db import get_db
from idp.oidc import clients
from idp.oidc.subjects import subject_for
from idp.web import keyed_hasher
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, VoterFactory
from tests.interop.conftest import FlowRun, RegisteredClient

SCOPE = "openid profile email"


@dataclass(frozen=True)
class Case:
    """Between them the four cases cover both client kinds, both algorithms, both secret transports, and both
    first-party (no consent, public ``sub``) and third-party (consent screen, pairwise ``sub``) clients."""

    auth_method: str
    alg: str
    first_party: bool

    @property
    def confidential(self) -> bool:
        return self.auth_method != "none"


CASES = {
    "confidential-basic-ES256-third-party": Case("client_secret_basic", "ES256", first_party=False),
    "confidential-post-RS256-first-party": Case("client_secret_post", "RS256", first_party=True),
    "public-ES256-first-party": Case("none", "ES256", first_party=True),
    "public-RS256-third-party": Case("none", "RS256", first_party=False),
}


def expected_sub(app: Flask, client_id: str, voter_subject: str) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        client = clients.find(session, client_id)
        assert client is not None
        return subject_for(client, voter_subject, keyed_hasher(app))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_full_flow(
    case: Case,
    app: Flask,
    live_idp: str,
    voters: VoterFactory,
    register_client: Callable[..., RegisteredClient],
    run_rp_flow: Callable[[dict[str, Any]], FlowRun],
) -> None:
    voter = voters.create()
    rp = register_client(auth_method=case.auth_method, alg=case.alg, first_party=case.first_party)
    run = run_rp_flow(
        {
            "issuer": live_idp,
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
            "auth_method": rp.auth_method,
            "redirect_uri": rp.redirect_uri,
            "post_logout_redirect_uri": rp.post_logout_redirect_uri,
            "scope": SCOPE,
            "expected_alg": case.alg,
            "identifier": voter.identifier,
            "password": DEFAULT_PASSWORD,
            "captcha": TEST_CAPTCHA,
        }
    )
    assert run.report.get("ok") is True and run.returncode == 0, run.explain()
    steps = run.steps
    sub = expected_sub(app, rp.client_id, voter.subject)

    discovery = steps["discovery"]
    assert discovery["issuer"] == live_idp
    assert discovery["code_challenge_methods_supported"] == ["S256"]

    assert {"code_challenge", "code_challenge_method", "state", "nonce"} <= set(
        steps["authorization_request"]["parameters"]
    )
    sign_in = steps["sign_in"]
    assert sign_in["screens"] == ["identifier", "password"] + ([] if case.first_party else ["consent"])
    assert sign_in["iss_in_response"] == live_idp  # RFC 9207, checked by the library too

    exchange = steps["code_exchange"]
    assert exchange["token_type"].lower() == "bearer"
    assert exchange["has_refresh_token"] is True
    assert exchange["id_token_header"]["alg"] == case.alg
    assert exchange["id_token_header"]["kid"]
    claims = exchange["id_token_claims"]
    assert claims["iss"] == live_idp
    assert claims["aud"] == rp.client_id or claims["aud"] == [rp.client_id]
    assert claims["sub"] == sub
    assert (claims["sub"] == voter.subject) is case.first_party  # public for first-party, pairwise otherwise
    assert claims["acr"] == ACR_PASSWORD
    assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= claims["iat"]
    assert isinstance(claims["nonce"], str) and claims["nonce"]  # equal to the one sent: the library checks

    userinfo = steps["userinfo"]["claims"]
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["family_name"] == "TESTEUR"
    assert userinfo["email"] == voter.identifier

    refresh = steps["refresh"]
    assert refresh["new_access_token"] is True
    assert refresh["new_refresh_token"] is True
    if refresh["id_token_claims"] is not None:
        assert refresh["id_token_claims"]["sub"] == claims["sub"]
        assert refresh["id_token_header"]["alg"] == case.alg

    introspection = steps["introspection"]
    revocation = steps["revocation"]
    if case.confidential:
        access = introspection["access_token"]
        assert access["active"] is True
        assert access["client_id"] == rp.client_id
        assert access["sub"] == claims["sub"]
        assert access["token_type"] == "Bearer"
        assert introspection["refresh_token"]["active"] is True
        assert introspection["old_refresh_token"] == {"active": False}  # rotated on use
        assert revocation["access_token_after"] == {"active": False}
        assert revocation["refresh_token_after"] == {"active": False}
    else:
        # A public client cannot authenticate to introspection (RFC 7662 2.1); the discovery document says so.
        assert introspection["refused"]["error"] == "invalid_client"
    assert revocation["userinfo_after"]["status"] == 401
    assert revocation["userinfo_after"]["error"] == "invalid_token"
    assert revocation["refresh_after"]["error"] == "invalid_grant"

    end_session = steps["end_session"]
    assert end_session["returned_to"] == rp.post_logout_redirect_uri
    assert end_session["state_matches"] is True
    assert end_session["confirmation_shown"] is False  # the ID token hint names this browser's session
    assert steps["after_logout"]["prompt_none"]["error"] == "login_required"

    token_responses = [h for h in run.report["http"] if h["request"] == "POST /token"]
    assert token_responses and all("no-store" in (h["cache_control"] or "") for h in token_responses)
