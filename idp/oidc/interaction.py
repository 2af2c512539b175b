"""What an authorization request needs before a code can be issued, checked in order (the "interaction policy"
of node-oidc-provider): request parameters the provider does not support, then sign-in, then the authentication
level (step-up), then consent. Each check either passes, asks for a screen, or fails with the OAuth/OIDC error
that ``prompt=none`` and the specifications call for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
    RegistrationNotSupportedError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from flask import Flask
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.auth.state import ACR_LEVELS
from idp.oidc.context import SignedIn, acr_satisfies
from idp.oidc.models import OidcClient, OidcConsent
from idp.oidc.provider import Provider
from idp.oidc.subjects import subject_for
from idp.oidc.transactions import Transaction
from idp.web import keyed_hasher

PROMPT_VALUES = {"none", "login", "consent", "select_account"}
ID_TOKEN_ALGS = ["ES256", "RS256"]


class UnmetAuthenticationRequirementsError(OAuth2Error):  # type: ignore[misc]
    """OpenID Connect Unmet Authentication Requirements 1.0: the requested ``acr`` cannot be obtained."""

    error = "unmet_authentication_requirements"


@dataclass(frozen=True)
class Decision:
    """``issue``: a code can be issued; ``login``, ``step_up``, ``consent``: that screen first."""

    kind: str
    endpoint: str | None = None
    login_hint: str | None = None


ISSUE = Decision("issue")
CONSENT = Decision("consent")


def _max_age(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("max_age must be a non-negative integer.")
    return int(value)


def id_token_hint_subject(provider: Provider, session: Session, client: OidcClient, hint: str) -> str:
    """The ``sub`` of an ID token this provider issued to ``client`` (an expired one is acceptable)."""
    try:
        token = jwt.decode(hint, provider.keys.verification_keys(session), algorithms=ID_TOKEN_ALGS)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidRequestError("id_token_hint is not an ID token issued by this provider.") from exc
    claims = token.claims
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if claims.get("iss") != provider.issuer or client.client_id not in audiences:
        raise InvalidRequestError("id_token_hint was not issued by this provider to this client.")
    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise InvalidRequestError("id_token_hint has no subject.")
    return sub


def remembered_scopes(session: Session, client: OidcClient, voter_id: int) -> set[str]:
    row = session.execute(
        select(OidcConsent).where(OidcConsent.client_id == client.client_id, OidcConsent.voter_id == voter_id)
    ).scalar_one_or_none()
    return set(row.scope.split()) if row else set()


@dataclass(frozen=True)
class Parameters:
    """The OIDC parameters of an authorization request, checked."""

    prompts: frozenset[str]
    max_age: int | None
    hinted_sub: str | None
    login_hint: str | None
    acr_values: tuple[str, ...]


def check_parameters(provider: Provider, session: Session, client: OidcClient, request: Any) -> Parameters:
    """Refuse what the provider does not support or cannot parse (before any other check, Authlib's included)."""
    data = request.payload.data
    if "request" in data:
        raise RequestNotSupportedError("Request objects are not supported.")
    if "request_uri" in data:
        raise RequestURINotSupportedError("request_uri is not supported.")
    if "registration" in data:
        raise RegistrationNotSupportedError("The registration parameter is not supported.")
    prompts = frozenset((data.get("prompt") or "").split())
    if prompts - PROMPT_VALUES:
        raise InvalidRequestError("Unsupported prompt value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    max_age = _max_age(data.get("max_age"))
    hint = data.get("id_token_hint")
    hinted_sub = id_token_hint_subject(provider, session, client, hint) if hint else None
    acr_values = tuple((data.get("acr_values") or "").split())
    return Parameters(prompts, max_age, hinted_sub, data.get("login_hint"), acr_values)


def decide(
    provider: Provider,
    app: Flask,
    session: Session,
    client: OidcClient,
    request: Any,
    params: Parameters,
    user: SignedIn | None,
    tx: Transaction | None,
) -> Decision:
    """Raise the OAuth2Error to return to the client, or say what comes next. ``request`` was validated by
    Authlib (client, redirect URI, response type, scope, PKCE, nonce) and :func:`check_parameters`."""
    prompts, max_age, hinted_sub = params.prompts, params.max_age, params.hinted_sub

    # 1. Sign-in: nobody, someone else than the hint names, or prompt=login not yet honoured in this request.
    now = time.time()
    # Signed in (again) after this request arrived: prompt=login and max_age are satisfied by that sign-in.
    fresh = user is not None and tx is not None and user.auth.auth_time >= int(tx.created)
    other_voter = (
        user is not None
        and hinted_sub is not None
        and hinted_sub != subject_for(client, user.voter.subject, keyed_hasher(app))
    )
    if user is None or other_voter or (not fresh and "login" in prompts):
        if "none" in prompts or (other_voter and fresh):
            raise LoginRequiredError()
        return Decision("login", login_hint=params.login_hint)

    # 2. Authentication level and age. acr_values are voluntary (OIDC Core 3.1.2.1): values the provider does not
    # know are ignored; a known level the session does not reach is obtained from its step-up screen. A step-up
    # screen authenticates again (fresh auth_time), so it also answers max_age for a session at that level: the
    # voter asked for a fresh vote-code step types the vote code, not the password then the vote code.
    requested = [acr for acr in params.acr_values if acr in ACR_LEVELS]
    unmet = bool(requested) and not any(acr_satisfies(user.auth.acr, acr) for acr in requested)
    too_old = not fresh and max_age is not None and now - user.auth.auth_time > max_age
    if unmet or too_old:
        if "none" in prompts:
            if unmet:
                raise InteractionRequiredError("The requested authentication level needs an interaction.")
            raise LoginRequiredError()
        for acr in requested if unmet else [a for a in requested if a == user.auth.acr]:
            endpoint = provider.step_up_endpoint(acr, app)
            if endpoint:
                return Decision("step_up", endpoint=endpoint)
        if unmet:
            raise UnmetAuthenticationRequirementsError("The requested authentication level cannot be obtained.")
        return Decision("login", login_hint=params.login_hint)

    # 3. Consent: third-party clients, once per scope; prompt=consent asks again (once per request).
    asked_again = "consent" in prompts and not (tx is not None and tx.consent_given)
    if asked_again or (
        not client.first_party
        and not set((request.scope or "").split()) <= remembered_scopes(session, client, user.voter.id)
    ):
        if "none" in prompts:
            raise ConsentRequiredError()
        return CONSENT
    return ISSUE
