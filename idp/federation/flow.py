"""The federated route from start to match: the redirect to the provider, then the callback's steps in order
(state, error answer, code exchange, ID token, userinfo, identity, matching). Each step either passes or raises a
:class:`FederationError`, which ends the route on a French page and an audit event — never a 500."""

from __future__ import annotations

import re

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from idp.auth.state import current_authentication
from idp.db import get_session
from idp.federation import journal, logout, protocol, signin, transactions
from idp.federation.errors import FederationError
from idp.federation.extension import get_federation
from idp.federation.identity import pivot_identity
from idp.federation.matching import MatchResult, match_voter
from idp.federation.transactions import PendingLogin
from infra.redirects import safe_local_path

#: The purpose of the IdP's own sign-in (the identifier page's button).
LOGIN = "login"
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_OAUTH_ERROR = re.compile(r"^[a-z_]{1,64}$")


def failure_page(error: FederationError, *, purpose: str, back_url: str) -> tuple[str, int]:
    fault = error.fault
    return render_template(
        "idp/federation/error.html", fault=fault, back_url=back_url, sign_in=purpose == LOGIN
    ), fault.status


def _current_subject() -> str | None:
    """The signed-in voter, if any (a vote-code réassort starts from a session): named in the audit events."""
    auth = current_authentication()
    return auth.subject if auth else None


def _callback_url() -> str:
    return get_federation().settings.public(url_for("federation.callback"))


def start(next_url: str, purpose: str, *, back_url: str | None = None) -> Response | tuple[str, int]:
    nxt = safe_local_path(next_url)
    back = safe_local_path(back_url) if back_url is not None else nxt
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"purpose must be 1 to 32 lower-case letters, digits or _, got {purpose!r}")
    if nxt is None or back is None:
        raise ValueError("next_url and back_url must be paths of this site")
    subject = _current_subject()
    federation = get_federation()
    if not federation.settings.enabled:
        return failure_page(FederationError("disabled", "start"), purpose=purpose, back_url=back)
    try:
        federation.directory.check_reachable()  # a provider down or too slow: our page now, not its page never
        authorization = protocol.authorization_request(federation.directory, _callback_url())
    except FederationError as error:
        journal.failed(error, purpose=purpose, subject=subject)
        return failure_page(error, purpose=purpose, back_url=back)
    transactions.save_pending(
        state=authorization.state,
        nonce=authorization.nonce,
        code_verifier=authorization.code_verifier,
        purpose=purpose,
        next_url=nxt,
        back_url=back,
    )
    journal.log("federation.started", subject=subject, purpose=purpose)
    return redirect(authorization.url)


def _answer_error() -> FederationError | None:
    """The provider's error answer (RFC 6749 4.1.2.1) instead of a code, if that is what came back."""
    error = request.args.get("error")
    if error is None:
        return None
    code = error if _OAUTH_ERROR.fullmatch(error) else "malformed"
    return FederationError("cancelled" if code == "access_denied" else "provider_error", "callback", f"oauth:{code}")


def callback() -> Response | tuple[str, int]:
    pending = transactions.take_pending(request.args.get("state"))
    if pending is None:
        error = FederationError("expired", "callback", "unknown_state")
        journal.failed(error, purpose="unknown", subject=_current_subject())
        return failure_page(error, purpose=LOGIN, back_url=url_for("login.identifier"))
    provider_sub: str | None = None
    try:
        answer_error = _answer_error()
        if answer_error is not None:
            raise answer_error
        code = request.args.get("code")
        if not code or len(code) > 2000:
            raise FederationError("invalid_response", "callback", "no_code")
        federation = get_federation()
        directory = federation.directory
        issuer = request.args.get("iss")
        if issuer is not None and issuer != federation.settings.issuer:
            # RFC 9207: an answer that names another issuer comes from a mix-up (or an attack); never redeem it.
            raise FederationError("invalid_response", "callback", "issuer_mismatch")
        tokens = protocol.exchange_code(directory, code, _callback_url(), pending.code_verifier)
        id_token = protocol.verify_id_token(
            directory, tokens["id_token"], nonce=pending.nonce, access_token=tokens["access_token"]
        )
        provider_sub = id_token.sub
        claims = protocol.fetch_userinfo(directory, tokens["access_token"], expected_sub=id_token.sub)
        identity = pivot_identity(claims)
        origin = directory.metadata().logout_origin
    except FederationError as error:
        journal.failed(error, purpose=pending.purpose, provider_sub=provider_sub, subject=_current_subject())
        return failure_page(error, purpose=pending.purpose, back_url=pending.back_url)
    return _conclude(
        pending,
        match_voter(get_session(), identity),
        id_token=id_token,
        origin=origin,
        birthdate_precision=identity.birthdate.precision,
    )


def _conclude(
    pending: PendingLogin, result: MatchResult, *, id_token: protocol.IdToken, origin: str, birthdate_precision: str
) -> Response | tuple[str, int]:
    """Exactly one voter: on to the sign-in or to the caller; none or several: refused."""
    voter = result.voter
    if voter is None:
        reason = "ambiguous_match" if result.candidates > 1 else "no_match"
        journal.log(
            "federation.not_matched",
            subject=_current_subject(),
            provider_sub=id_token.sub,
            purpose=pending.purpose,
            reason=reason,
            candidates=result.candidates,
            birthdate_precision=birthdate_precision,
        )
        return failure_page(FederationError(reason, "matching"), purpose=pending.purpose, back_url=pending.back_url)
    journal.log(
        "federation.matched",
        subject=voter.subject,
        provider_sub=id_token.sub,
        purpose=pending.purpose,
        birthdate_precision=birthdate_precision,
    )
    if pending.purpose == LOGIN:
        return signin.continue_sign_in(voter, id_token, origin)
    logout.remember(id_token=id_token.raw, voter_id=voter.id, subject=voter.subject, origin=origin)
    transactions.hand_over(voter.id, voter.subject, pending.purpose)
    return redirect(pending.next_url)
