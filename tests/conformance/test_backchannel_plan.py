"""oidcc-backchannel-rp-initiated-logout-certification-test-plan ("Back-Channel OP"): its two modules.

The logout token reaches a real HTTP server on loopback standing for the client's backchannel_logout_uri,
sent by the provider's delivery worker (:class:`idp.oidc.backchannel.LogoutNotifier`), which runs outside
web requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.oidc.backchannel import LogoutNotifier
from tests.conformance.support import HTTPS_ISSUER, SKEW, Suite, https_url, random_state
from tests.helpers import VoterFactory
from tests.oidc_helpers import (
    ISSUER,
    RP_LOGOUT_REDIRECT,
    Flow,
    LogoutReceiver,
    header_of,
    make_client,
    query_of,
)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def test_oidcc_backchannel_logout_discovery_endpoint_verification(make_app: Callable[..., Flask], flow: Flow) -> None:
    doc = make_app(PUBLIC_URL=HTTPS_ISSUER).test_client().get("/.well-known/openid-configuration").get_json()
    assert all(https_url(v) for k, v in doc.items() if k.endswith(("_endpoint", "_uri")))
    assert doc["backchannel_logout_supported"] is True  # CheckDiscEndpointBackchannelLogoutSupported
    # CheckDiscEndpointBackchannelLogoutSessionSupported: required for certification (sid in both tokens).
    assert doc["backchannel_logout_session_supported"] is True
    assert https_url(doc["end_session_endpoint"])  # CheckDiscEndSessionEndpoint
    assert urlsplit(doc["end_session_endpoint"]).path == "/logout/end"


def test_oidcc_backchannel_rp_initiated_logout(
    app: Flask, suite: Suite, voters: VoterFactory, logout_receiver: LogoutReceiver
) -> None:
    rp = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    tokens = suite.tokens(rp, voters.create(), state=random_state(128))
    state = random_state(128)
    response = suite.client.get(
        "/logout/end",
        query_string={
            "id_token_hint": tokens.id_token,
            "post_logout_redirect_uri": RP_LOGOUT_REDIRECT,
            "state": state,
        },
    )
    # Front channel: CheckPostLogoutState, CheckForUnexpectedParametersInPostLogoutRedirect.
    assert response.status_code == 302 and response.headers["Location"].split("?")[0] == RP_LOGOUT_REDIRECT
    assert query_of(response.headers["Location"]) == {"state": state}

    # Back channel: the worker delivers the queued notice to the client's backchannel_logout_uri.
    assert LogoutNotifier(app).drain() == 1
    assert len(logout_receiver.received) == 1
    request = logout_receiver.received[0]
    assert request["_content_type"] == ["application/x-www-form-urlencoded"]
    # ExtractLogoutTokenFromBackchannelLogoutRequest, CheckForUnexpectedParametersInBackchannelLogoutRequest.
    assert set(request) == {"logout_token", "_content_type"} and len(request["logout_token"]) == 1
    token = request["logout_token"][0]

    # ValidateLogoutTokenSignature: signed by a key of the provider's JWKS, named by its kid.
    header = header_of(token)
    assert header["alg"] in ("ES256", "RS256") and header["typ"] == "logout+jwt"
    named = [k for k in suite.jwks()["keys"] if k["kid"] == header["kid"]]
    claims = dict(jwt.decode(token, KeySet.import_key_set({"keys": named}), algorithms=[header["alg"]]).claims)

    # ValidateLogoutTokenClaims (Back-Channel Logout 2.4).
    assert claims["iss"] == ISSUER
    assert claims["aud"] == rp.client_id or rp.client_id in claims["aud"]
    assert claims["iat"] <= time.time() + SKEW
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    # CheckIdTokenSubMatchesLogoutToken, CheckIdTokenSidMatchesLogoutToken, CheckLogoutTokenNoNonce,
    # CheckLogoutTokenHasSubOrSid.
    assert claims["sub"] == tokens.id_claims["sub"]
    assert claims["sid"] == tokens.id_claims["sid"]
    assert "nonce" not in claims

    # The voter is logged out: prompt=none now needs an interaction.
    suite.prompt_none(rp)
