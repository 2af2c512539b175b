"""oidcc-basic-certification-test-plan ("Basic OP"): one test per module, in the plan's order, named after it.

Variant of the plan: response_type ``code``, client_secret_basic (client_secret_post for
``oidcc-server-client-secret-post``), default response mode, a static client (first party, as the
ministry's own applications are registered) unless the module needs dynamic registration. Each test checks
what the module's conditions check; where the suite only warns, the test still asserts what this provider
does (revocation on code reuse, say). Modules for features the provider does not offer by design assert
that it says so truthfully.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.oidc.models import OidcAuthorizationCode
from tests.conformance.support import (
    INTERACTION_ERRORS,
    RecordingServer,
    Suite,
    age_sign_in,
    random_state,
    register,
    registered_rp,
    suite_registration,
    unsigned_jwt,
    wait_for_next_second,
)
from tests.helpers import VoterFactory
from tests.oidc_helpers import ISSUER, RP, RP_REDIRECT, header_of, make_client, shows_identifier_page

PROFILE_CLAIMS = {"name", "given_name", "family_name", "gender", "birthdate"}
EMAIL_CLAIMS = {"email", "email_verified"}


def discovery(suite: Suite) -> dict[str, Any]:
    doc: dict[str, Any] = suite.client.get("/.well-known/openid-configuration").get_json()
    return doc


def assert_error_page(response: TestResponse, *, title: str | None = None) -> None:
    """An error shown to the voter: a French page, no redirect (the suite's placeholder screenshots)."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers, "never a redirect"
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page
    if title:
        assert title in page


# --- OP-Response-code ... OP-UserInfo-Body ------------------------------------------------------------------


def test_oidcc_server(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    doc = discovery(suite)
    # CheckServerConfiguration, CheckForKeyIdInServerJWKs.
    assert doc["issuer"] == ISSUER and doc["authorization_endpoint"] and doc["token_endpoint"]
    assert all(key.get("kid") for key in suite.jwks()["keys"])
    voter = voters.create()
    tokens = suite.tokens(rp, voter)
    # CheckForRefreshTokenValue, the ID token of the token endpoint (ValidateIdToken & co. ran in
    # tokens()), and ExtractAtHash / ValidateAtHash: optional here, present and right.
    assert tokens.body["refresh_token"]
    assert tokens.id_claims["sub"] == voter.subject
    assert "at_hash" in tokens.id_claims
    # EnsureIdTokenDoesNotContainName: no profile data in the ID token (userinfo releases it).
    assert "name" not in tokens.id_claims
    # CallProtectedResourceWithBearerToken.
    assert suite.userinfo(tokens.access_token).status_code == 200


def test_oidcc_response_type_missing(suite: Suite, rp: RP) -> None:
    params, _ = suite.request(rp, response_type=None)
    error = suite.authorization_error(suite.send(params), rp, params)
    # CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrUnsupportedResponseType (RFC 6749 3.1.1).
    assert error["error"] in ("invalid_request", "unsupported_response_type")


def test_oidcc_idtoken_signature(suite: Suite, voters: VoterFactory) -> None:
    """A dynamic client registered as the suite registers it, without id_token_signed_response_alg: its ID
    tokens are RS256 (OIDC Registration 2), with a kid."""
    client = registered_rp(suite.client, suite_registration("oidcc-idtoken-signature", RP_REDIRECT))
    tokens = suite.tokens(client, voters.create())
    header = header_of(tokens.id_token)
    assert header["alg"] == "RS256"  # EnsureIdTokenSignatureIsRS256
    assert header["kid"]  # EnsureIdTokenContainsKid


def test_oidcc_idtoken_unsigned(suite: Suite) -> None:
    """Not supported by design: unsigned ID tokens. The suite skips the module when discovery does not list
    ``none``; registering a client that asks for it is refused rather than silently signed."""
    assert "none" not in discovery(suite)["id_token_signing_alg_values_supported"]
    metadata = suite_registration("oidcc-idtoken-unsigned", RP_REDIRECT, id_token_signed_response_alg="none")
    response = register(suite.client, metadata)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_client_metadata"
    assert "id_token_signed_response_alg" in body["error_description"]


def test_oidcc_userinfo_get(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    claims = suite.userinfo_claims(suite.tokens(rp, voters.create()), "get")
    assert claims["sub"]


def test_oidcc_userinfo_post_header(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    claims = suite.userinfo_claims(suite.tokens(rp, voters.create()), "post-header")
    assert claims["sub"]


def test_oidcc_userinfo_post_body(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    # Optional in the standards (the suite only warns); this provider accepts it (RFC 6750 2.2).
    claims = suite.userinfo_claims(suite.tokens(rp, voters.create()), "post-body")
    assert claims["sub"]


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    callback = suite.authorize(rp, voters.create(), nonce=None)
    assert "nonce" not in callback.sent
    tokens = suite.token_response(rp, suite.exchange(rp, callback), nonce=None)
    assert "nonce" not in tokens.id_claims


# --- OP-scope-* ---------------------------------------------------------------------------------------------


def test_oidcc_scope_profile(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    assert "profile" in discovery(suite)["scopes_supported"]
    claims = suite.userinfo_claims(suite.tokens(rp, voters.create(), scope="openid profile"))
    assert set(claims) >= PROFILE_CLAIMS  # VerifyScopesReturnedInUserInfoClaims
    assert not EMAIL_CLAIMS & set(claims), "only what the scopes ask for"


def test_oidcc_scope_email(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    assert "email" in discovery(suite)["scopes_supported"]
    voter = voters.create()
    claims = suite.userinfo_claims(suite.tokens(rp, voter, scope="openid email"))
    assert claims["email"] == voter.identifier and claims["email_verified"] is True
    assert not PROFILE_CLAIMS & set(claims)


def test_oidcc_scope_address(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    """Not supported by design (the ministry's directory holds no postal address): discovery does not list the
    scope, so the suite skips the module; a request for it still succeeds, the unknown scope ignored."""
    assert "address" not in discovery(suite)["scopes_supported"]
    tokens = suite.tokens(rp, voters.create(), scope="openid address")
    assert tokens.body["scope"].split() == ["openid"]
    assert "address" not in suite.userinfo_claims(tokens)


def test_oidcc_scope_phone(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    """Not supported by design (no telephone number is collected for the election): as for address."""
    assert "phone" not in discovery(suite)["scopes_supported"]
    tokens = suite.tokens(rp, voters.create(), scope="openid phone")
    assert tokens.body["scope"].split() == ["openid"]
    claims = suite.userinfo_claims(tokens)
    assert "phone_number" not in claims and "phone_number_verified" not in claims


def test_oidcc_scope_all(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    """address and phone are not supported (the suite skips the module); the supported scopes of the request
    are granted and their claims released, the others ignored."""
    tokens = suite.tokens(rp, voters.create(), scope="openid address email phone profile")
    assert set(tokens.body["scope"].split()) == {"openid", "email", "profile"}
    claims = suite.userinfo_claims(tokens)
    assert set(claims) >= PROFILE_CLAIMS | EMAIL_CLAIMS
    assert not {"address", "phone_number"} & set(claims)


def test_oidcc_ensure_other_scope_order_succeeds(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    # RFC 6749 3.3: the order of scope values does not matter.
    claims = suite.userinfo_claims(suite.tokens(rp, voters.create(), scope="email openid"))
    assert set(claims) >= EMAIL_CLAIMS


# --- OP-display-*, OP-prompt-*, OP-Req-* --------------------------------------------------------------------


def test_oidcc_display_page(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    params, _ = suite.request(rp, display="page")
    response = suite.send(params)
    assert shows_identifier_page(response), "a normal sign-in page"
    suite.callback(suite.flow.follow_to_client(response, voters.create()), rp, params)


def test_oidcc_display_popup(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    # OIDC Core 15.1: display must not cause an error; the provider has one layout, which suits a popup too.
    callback = suite.authorize(rp, voters.create(), display="popup")
    assert callback.params["code"]


def test_oidcc_prompt_login(app: Flask, suite: Suite, rp: RP, voters: VoterFactory) -> None:
    voter = voters.create()
    suite.flow.auth.login(voter.identifier)
    age_sign_in(app, suite.client, 5)  # the voter signed in a few seconds before the client's request
    first = suite.tokens(rp, voter)
    params, _ = suite.request(rp, prompt="login")
    response = suite.send(params)
    # ExpectSecondLoginPage: the sign-in screen again, although the voter is signed in.
    assert shows_identifier_page(response)
    callback = suite.callback(suite.flow.follow_to_client(response, voter), rp, params)
    second = suite.token_response(rp, suite.exchange(rp, callback), params["nonce"])
    # CheckIdTokenAuthTimeClaimsDifferIfPresent.
    assert second.id_claims["auth_time"] > first.id_claims["auth_time"]
    assert second.id_claims["sub"] == first.id_claims["sub"]


def test_oidcc_prompt_none_not_logged_in(suite: Suite, rp: RP) -> None:
    params, _ = suite.request(rp, prompt="none", state=random_state(128))
    error = suite.authorization_error(suite.send(params), rp, params)
    assert len(error["state"]) == 128, "the long state comes back uncorrupted"
    # CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface.
    assert error["error"] in INTERACTION_ERRORS


def test_oidcc_prompt_none_logged_in(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    first = suite.tokens(rp, voters.create())
    params, _ = suite.request(rp, prompt="none")
    response = suite.send(params)
    # No screen at all: the code comes back directly.
    callback = suite.callback(response, rp, params)
    second = suite.token_response(rp, suite.exchange(rp, callback), params["nonce"])
    # CheckIdTokenAuthTimeClaimsSameIfPresent, CheckIdTokenSubConsistentForSecondAuthorization.
    assert second.id_claims["auth_time"] == first.id_claims["auth_time"]
    assert second.id_claims["sub"] == first.id_claims["sub"]


def test_oidcc_max_age_1(app: Flask, suite: Suite, rp: RP, voters: VoterFactory) -> None:
    voter = voters.create()
    suite.flow.auth.login(voter.identifier)
    age_sign_in(app, suite.client, 3)  # the suite waits 2 seconds before its max_age=1 request
    first = suite.tokens(rp, voter)
    params, _ = suite.request(rp, max_age="1")
    response = suite.send(params)
    # ExpectSecondLoginPage.
    assert shows_identifier_page(response)
    callback = suite.callback(suite.flow.follow_to_client(response, voter), rp, params)
    second = suite.token_response(rp, suite.exchange(rp, callback), params["nonce"])
    # CheckIdTokenAuthTimeClaimPresentDueToMaxAge, CheckSecondIdTokenAuthTimeIsLaterIfPresent,
    # CheckIdTokenAuthTimeIsRecentIfPresent.
    assert second.id_claims["auth_time"] > first.id_claims["auth_time"]
    assert abs(second.id_claims["iat"] - second.id_claims["auth_time"]) <= 5


def test_oidcc_max_age_10000(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    first = suite.tokens(rp, voters.create(), max_age="15000")
    assert "auth_time" in first.id_claims  # CheckIdTokenAuthTimeClaimPresentDueToMaxAge
    params, _ = suite.request(rp, max_age="10000")
    callback = suite.callback(suite.send(params), rp, params)  # no sign-in asked
    second = suite.token_response(rp, suite.exchange(rp, callback), params["nonce"])
    assert second.id_claims["auth_time"] == first.id_claims["auth_time"]
    assert second.id_claims["sub"] == first.id_claims["sub"]


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    # RFC 6749 3.1: unrecognised request parameters are ignored.
    callback = suite.authorize(rp, voters.create(), extra="foobar")
    assert "extra" not in callback.params


def test_oidcc_id_token_hint(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    first = suite.tokens(rp, voters.create())
    params, _ = suite.request(rp, prompt="none", id_token_hint=first.id_token)
    callback = suite.callback(suite.send(params), rp, params)
    second = suite.token_response(rp, suite.exchange(rp, callback), params["nonce"])
    assert second.id_claims["sub"] == first.id_claims["sub"]
    assert second.id_claims["auth_time"] == first.id_claims["auth_time"]


def test_oidcc_login_hint(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    voter = voters.create()
    params, _ = suite.request(rp, login_hint=voter.identifier)
    response = suite.send(params)
    assert shows_identifier_page(response)
    assert f'value="{voter.identifier}"' in response.get_data(as_text=True), "the hint pre-fills the identifier"
    suite.callback(suite.flow.follow_to_client(response, voter), rp, params)


def test_oidcc_ui_locales(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    # The suite's default value is "se"; the provider speaks French only (ui_locales_supported: ["fr"]) and
    # falls back to it without error (OIDC Core 3.1.2.1: "not an error if none of the locales are supported").
    assert discovery(suite)["ui_locales_supported"] == ["fr"]
    params, _ = suite.request(rp, ui_locales="se")
    response = suite.send(params)
    assert shows_identifier_page(response) and '<html lang="fr">' in response.get_data(as_text=True)
    suite.callback(suite.flow.follow_to_client(response, voters.create()), rp, params)


def test_oidcc_claims_locales(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = suite.tokens(rp, voters.create(), claims_locales="se")
    assert suite.userinfo(tokens.access_token).status_code == 200


def test_oidcc_ensure_request_with_acr_values_succeeds(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    supported = discovery(suite)["acr_values_supported"]
    assert isinstance(supported, list) and supported
    requested = " ".join(supported)
    tokens = suite.tokens(rp, voters.create(), acr_values=requested)
    # ValidateIdTokenACRClaimAgainstAcrValuesRequest: one of the requested values.
    assert tokens.id_claims["acr"] in supported


# --- OP-OAuth-2nd*, OP-redirect_uri-NotReg, POST ------------------------------------------------------------


def test_oidcc_codereuse(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = suite.tokens(rp, voters.create())
    assert tokens.callback is not None
    suite.token_error(suite.exchange(rp, tokens.callback), "invalid_grant")
    # RFC 6749 4.1.2: the tokens issued from the code are revoked.
    assert suite.userinfo(tokens.access_token).status_code == 401
    suite.token_error(suite.flow.refresh(rp, tokens.body["refresh_token"]), "invalid_grant")


def test_oidcc_codereuse_30seconds(app: Flask, suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = suite.tokens(rp, voters.create())
    assert tokens.callback is not None
    # WaitFor30Seconds: the code's times moved 30 seconds back (its use included), as if the suite had waited.
    back = dt.timedelta(seconds=30)
    with app.app_context(), get_db(app).transaction() as session:
        code = session.execute(
            select(OidcAuthorizationCode).where(OidcAuthorizationCode.client_id == rp.client_id)
        ).scalar_one()
        assert code.used_at is not None
        code.created_at -= back
        code.expires_at -= back
        code.used_at -= back
    suite.token_error(suite.exchange(rp, tokens.callback), "invalid_grant")
    # CallProtectedResourceWithBearerTokenExpectingError (RFC 6750 3.1: 401, invalid_token, WWW-Authenticate).
    response = suite.userinfo(tokens.access_token)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_oidcc_ensure_registered_redirect_uri(suite: Suite, rp: RP) -> None:
    # CreateBadRedirectUri: a redirect URI that was never registered.
    params, _ = suite.request(rp, redirect_uri=f"{RP_REDIRECT}/{secrets.token_hex(4)}")
    assert_error_page(suite.send(params), title="Adresse de retour non reconnue")


def test_oidcc_ensure_post_request_succeeds(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    callback = suite.authorize(rp, voters.create(), method="POST")
    assert callback.params["code"]


def test_oidcc_server_client_secret_post(app: Flask, suite: Suite, voters: VoterFactory) -> None:
    client = make_client(app, token_endpoint_auth_method="client_secret_post")
    tokens = suite.tokens(client, voters.create())
    assert suite.userinfo(tokens.access_token).status_code == 200


# --- request objects, claims, refresh, PKCE -----------------------------------------------------------------


def test_oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(
    suite: Suite, rp: RP, voters: VoterFactory
) -> None:
    """Not supported by design (request_uri): declared false, and refused with request_uri_not_supported
    at the redirect URI (OIDC Core 6.2, 3.1.2.6), without fetching the URI."""
    assert discovery(suite)["request_uri_parameter_supported"] is False
    voters.create()
    full, _ = suite.request(rp)
    host = RecordingServer(unsigned_jwt({**full, "iss": rp.client_id, "aud": ISSUER}))
    try:
        # BuildRequestObjectByReferenceRedirectToAuthorizationEndpoint: the OAuth parameters are repeated.
        outside = {k: full[k] for k in ("client_id", "redirect_uri", "response_type", "scope")}
        response = suite.send({**outside, "request_uri": host.uri})
        error = suite.authorization_error(response, rp, outside)
        assert error["error"] == "request_uri_not_supported"
        assert host.requests == [], "the provider did not fetch the request_uri"
    finally:
        host.close()


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(suite: Suite, rp: RP) -> None:
    """Not supported by design (request objects): declared false, and refused with request_not_supported."""
    assert discovery(suite)["request_parameter_supported"] is False
    full, _ = suite.request(rp)
    outside = {k: full[k] for k in ("client_id", "redirect_uri", "response_type", "scope")}
    request_object = unsigned_jwt({**full, "iss": rp.client_id, "aud": ISSUER})
    error = suite.authorization_error(suite.send({**outside, "request": request_object}), rp, outside)
    assert error["error"] == "request_not_supported"


def test_oidcc_claims_essential(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    """The claims parameter is not supported (claims_parameter_supported: false): the request succeeds
    with the parameter ignored (RFC 6749 3.1), which is what the module requires; the suite then warns that
    ``name`` was not returned. Claims are released by scope only, never into the ID token."""
    assert discovery(suite)["claims_parameter_supported"] is False
    claims_request = json.dumps({"userinfo": {"name": {"essential": True}}})
    tokens = suite.tokens(rp, voters.create(), claims=claims_request)
    assert "name" not in tokens.id_claims  # EnsureIdTokenDoesNotContainName
    assert suite.userinfo_claims(tokens) == {"sub": tokens.id_claims["sub"]}


def test_oidcc_ensure_request_object_with_redirect_uri(suite: Suite, rp: RP) -> None:
    """Request objects are not supported: their redirect_uri is never read. The only redirect URI the provider
    sees is the unregistered one of the query (AddInvalidRedirectUriToAuthorizationRequest), so it shows
    an error page and redirects nowhere, as OIDC Core 3.1.2.6 and RFC 6749 4.1.2.1 require."""
    full, _ = suite.request(rp)
    request_object = unsigned_jwt({**full, "iss": rp.client_id, "aud": ISSUER})
    outside = {
        "client_id": rp.client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": RP_REDIRECT + "/invalid",
        "request": request_object,
    }
    assert_error_page(suite.send(outside), title="Adresse de retour non reconnue")


def test_oidcc_refresh_token(app: Flask, suite: Suite, rp: RP, voters: VoterFactory) -> None:
    assert "refresh_token" in discovery(suite)["grant_types_supported"]
    voter = voters.create()
    first = suite.tokens(rp, voter, scope="openid email")
    wait_for_next_second()  # WaitForOneSecond: a new ID token must have a new iat
    # RefreshTokenRequestSteps: refresh with the original scope (RFC 6749 6).
    response = suite.flow.refresh(rp, first.body["refresh_token"], scope="openid email")
    second = suite.token_response(rp, response, nonce=None)
    assert second.access_token != first.access_token  # EnsureAccessTokenValuesAreDifferent
    # CompareIdTokenClaims (OIDC Core 12.2).
    for name in ("iss", "sub", "aud", "auth_time"):
        assert second.id_claims[name] == first.id_claims[name], name
    assert second.id_claims["iat"] != first.id_claims["iat"]
    assert ("azp" in second.id_claims) == ("azp" in first.id_claims)
    assert suite.userinfo(second.access_token).status_code == 200
    # Second client: its refresh token is bound to it (RefreshTokenRequestExpectingErrorSteps).
    other = make_client(app)
    theirs = suite.tokens(other, voter)
    suite.token_error(suite.flow.refresh(rp, theirs.body["refresh_token"]), "invalid_grant")
    assert suite.flow.refresh(other, theirs.body["refresh_token"]).status_code == 200, "still valid for its owner"


def test_oidcc_ensure_request_with_valid_pkce_succeeds(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    callback = suite.authorize(rp, voters.create(), pkce=True)
    assert callback.verifier is not None
    tokens = suite.token_response(rp, suite.exchange(rp, callback), callback.sent["nonce"])
    assert tokens.access_token


# --- from the other plans, for completeness -----------------------------------------------------------------


def test_oidcc_ensure_redirect_uri_in_authorization_request(suite: Suite, rp: RP) -> None:
    """(oidcc-dynamic-certification-test-plan) redirect_uri is required by OpenID Connect: without it, an
    error page (ExpectRedirectUriMissingErrorPage), never a redirect to a URI chosen for the client."""
    params, _ = suite.request(rp, redirect_uri=None)
    assert "redirect_uri" not in params
    assert_error_page(suite.send(params))
