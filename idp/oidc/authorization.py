"""The authorization endpoint's procedure, shared by ``/authorize``, its resumption after the sign-in screens and
the consent screen.

Order matters: the client and the exact redirect URI are checked first, because until then nothing may be sent
to the redirect URI (an error is a French page instead). After that every error goes back to the client, in its
response mode, with ``state`` and ``iss`` (RFC 9207).

Nothing here commits: the views run these inside :func:`idp.oidc.boundary.one_transaction`, which commits once the
answer is built (a code and its client session, a consent and its audit event) and rolls back an error page. The
only write of :func:`run` (the code) asks for its session (:func:`~idp.oidc.boundary.writing_session`): the GET views
read outside any transaction until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError, InvalidScopeError, OAuth2Error
from flask import current_app, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp.audit import record
from idp.auth import screens
from idp.db import get_session
from idp.models import utcnow
from idp.oidc import clients, csp, sessions, transactions
from idp.oidc.boundary import writing_session
from idp.oidc.context import SignedIn, current_sign_in
from idp.oidc.errors import error_page
from idp.oidc.interaction import check_parameters, decide
from idp.oidc.models import OidcClient, OidcConsent
from idp.oidc.provider import get_provider
from idp.oidc.responses import RESPONSE_MODES, deliver
from idp.oidc.subjects import subject_for
from idp.oidc.transactions import StoredRequest, Transaction
from idp.web import keyed_hasher
from infra.observability import note

AUTHORIZE = "authorize"

Outcome = Response | tuple[str, int]


@dataclass(frozen=True)
class ConsentNeeded:
    """The consent screen is what the request waits for (answered to the consent view only)."""

    client: OidcClient
    scope: str
    user: SignedIn
    tx: Transaction
    redirect_uri: str
    mode: str
    state: str | None


def precheck(session: Session, params: dict[str, list[str]]) -> tuple[OidcClient, str] | tuple[None, str]:
    """The client and its redirect URI, or (None, what is wrong) — checked before anything else."""
    client_ids = params.get("client_id") or []
    if len(client_ids) != 1:
        return None, "unknown_client"
    client = clients.find_active(session, client_ids[0])
    if client is None:
        return None, "unknown_client"
    note(client_id=client.client_id)  # a registered client only: the request's log line
    redirect_uris = params.get("redirect_uri") or []
    if len(redirect_uris) != 1 or not client.check_redirect_uri(redirect_uris[0]):
        return None, "invalid_redirect_uri"
    return client, redirect_uris[0]


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def to_client(error: OAuth2Error, redirect_uri: str, mode: str, state: str | None) -> Response:
    """An error response delivered to the (already validated) redirect URI."""
    if state and not error.state:
        error.state = state
    error.redirect_uri = None
    body = [(k, str(v)) for k, v in error.get_body()]
    body.append(("iss", get_provider().issuer))
    return deliver(redirect_uri, body, mode)


def start(params: dict[str, list[str]]) -> Outcome:
    """A POSTed authorization request: checked, kept, then continued as a GET of the resume URL.

    The session cookie is ``SameSite=Lax``: a cross-site POST does not carry it, the top-level GET it is redirected
    to does. So ``prompt=none`` works for POSTed requests too.
    """
    client, problem = precheck(get_session(), params)
    if client is None:
        return error_page(problem)
    tx = transactions.save(Transaction(AUTHORIZE, params), _ttl())
    return redirect(url_for("oidc.resume", tx=tx.id), 303)


def _ttl() -> int:
    return int(current_app.config["AUTHORIZATION_REQUEST_TTL"])


def run(
    params: dict[str, list[str]],
    tx: Transaction | None,
    *,
    consent_stage: bool = False,
    uri: str | None = None,
    screen_in_place: bool = False,
) -> Outcome | ConsentNeeded:
    """Continue the authorization request ``params`` (kept in ``tx`` once it waited for a screen) as far as it can go.

    ``uri``: the request's address as the protocol sees it, when the request is answered from another endpoint than
    its own (a sign-in screen resuming it in place, :func:`idp.oidc.views.authorize.resume_in_place`).
    ``screen_in_place``: a GET may answer with the sign-in screen the request needs (the identifier page, the
    vote-code step: :mod:`idp.auth.screens`) instead of a redirect to it; a POST's answer stays a redirect.
    """
    session = get_session()
    provider = get_provider()
    client, checked = precheck(session, params)
    if client is None:
        return error_page(checked)
    redirect_uri = checked
    state = _first(params, "state")
    mode = _first(params, "response_mode") or "query"
    if mode not in RESPONSE_MODES or len(params.get("response_mode", [])) > 1:
        return to_client(InvalidRequestError("Unsupported response_mode."), redirect_uri, "query", state)
    if mode == "form_post" and csp.origin_of(redirect_uri) is None:
        return to_client(InvalidRequestError("form_post needs an http(s) redirect URI."), redirect_uri, "query", state)
    oauth_request = StoredRequest("GET", uri or request.url, params)
    user = current_sign_in()
    try:
        checked_params = check_parameters(provider, session, client, oauth_request)
        grant = provider.server.get_consent_grant(oauth_request, end_user=user)
        if "openid" not in (oauth_request.scope or "").split():
            raise InvalidScopeError("The openid scope is required.")
        decision = decide(
            provider,
            current_app._get_current_object(),  # type: ignore[attr-defined]
            session,
            client,
            oauth_request,
            checked_params,
            user,
            tx,
        )
    except OAuth2Error as error:
        if tx is not None:
            transactions.take(AUTHORIZE, tx.id)
        csp.forget()
        return to_client(error, redirect_uri, mode, state)

    if decision.kind == "issue":
        assert user is not None
        if tx is not None and not transactions.complete(tx):
            return error_page("expired")
        session = writing_session()  # the code and its client session: written in one transaction
        sid = sessions.client_session(
            session, client, user.voter.id, subject_for(client, user.voter.subject, keyed_hasher())
        )
        response_params = grant.issue_code(redirect_uri, SignedIn(user.voter, user.auth, sid))
        response_params.append(("iss", provider.issuer))
        csp.forget()
        return deliver(redirect_uri, response_params, mode)

    if tx is None:
        tx = transactions.save(Transaction(AUTHORIZE, params), _ttl())
    csp.allow_form_action_to(redirect_uri)
    resume = url_for("oidc.resume", tx=tx.id)
    if decision.kind == "login":
        hint = (decision.login_hint or "")[:254] or None
        page = screens.show("login.identifier", resume, hint) if screen_in_place else None
        return page if page is not None else redirect(url_for("login.identifier", next=resume, login_hint=hint))
    if decision.kind == "step_up":
        assert decision.endpoint is not None
        page = screens.show(decision.endpoint, resume) if screen_in_place else None
        return page if page is not None else redirect(url_for(decision.endpoint, next=resume))
    assert user is not None
    if consent_stage:
        return ConsentNeeded(client, oauth_request.scope or "", user, tx, redirect_uri, mode, state)
    return redirect(url_for("oidc_ui.consent", tx=tx.id))


def grant_consent(session: Session, needed: ConsentNeeded) -> None:
    """Remember the voter's consent for these scopes (added to those already given), audited (not committed; the
    view commits, then :func:`resume_after_consent`)."""
    voter = needed.user.voter
    row = session.execute(
        select(OidcConsent).where(OidcConsent.client_id == needed.client.client_id, OidcConsent.voter_id == voter.id)
    ).scalar_one_or_none()
    scopes = needed.scope.split()
    if row is None:
        row = OidcConsent(client_id=needed.client.client_id, voter_id=voter.id, scope=" ".join(scopes))
        session.add(row)
    else:
        merged = list(dict.fromkeys([*row.scope.split(), *scopes]))
        row.scope = " ".join(merged)
        row.updated_at = utcnow()
    record(session, "consent.granted", subject=voter.subject, client_id=needed.client.client_id, scope=needed.scope)


def resume_after_consent(needed: ConsentNeeded) -> Response:
    """Once the consent is committed: mark the request as consented to (``prompt=consent`` is then satisfied) and
    resume it."""
    needed.tx.consent_given = True
    transactions.update(needed.tx, _ttl())
    return redirect(url_for("oidc.resume", tx=needed.tx.id), 303)


def deny_consent(session: Session, needed: ConsentNeeded) -> Outcome:
    """Record the refusal (not committed) and tell the client (``access_denied``)."""
    record(
        session,
        "consent.denied",
        subject=needed.user.voter.subject,
        client_id=needed.client.client_id,
        scope=needed.scope,
    )
    if not transactions.take(AUTHORIZE, needed.tx.id):
        return error_page("expired")
    csp.forget()
    return to_client(AccessDeniedError("The voter refused."), needed.redirect_uri, needed.mode, needed.state)
