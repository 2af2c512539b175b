"""The audit vocabulary: every event type the log may hold, with what it means.

Plugins add their own types through :func:`register_event_types` (an extension point of the plugin API).
Recording an unknown type is a programming error and raises.
"""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "login.identifier_accepted": "Identifier and CAPTCHA step passed (the identifier may or may not exist).",
    "login.identifier_rejected": "Identifier step refused (bad or expired CAPTCHA, malformed identifier).",
    "login.password_failed": "Wrong password, unknown identifier or account not activated at the password step.",
    "login.succeeded": "Password accepted: a new session is open.",
    "login.throttled": "A sign-in attempt refused because of throttling or lockout.",
    "login.locked": "An identifier or a client address was locked after repeated failures.",
    "logout": "The voter signed out.",
    "activation.requested": "An activation link was requested for an identifier (existing or not).",
    "activation.link_created": "An activation link was created for a voter not yet activated.",
    "activation.link_refused": "An activation link was used after expiry or a second time.",
    "activation.completed": "The voter set their election password and question défi.",
    "password.rehashed": "A stored hash was upgraded to the current argon2id parameters.",
    "message.queued": "A message was written to the delivery outbox.",
    "message.sent": "A message was handed to the mail or SMS operator.",
    "message.retry": "Delivery failed and will be retried.",
    "message.failed": "Delivery was abandoned after the last attempt.",
    "message.discarded": "A queued request turned out to need no message (e.g. an unknown identifier).",
    "voters.imported": "Voters were imported from a file (administrative action).",
    "votecode.issued": "A new vote code was issued to a voter (notice, réassort); the previous one is void.",
    "votecode.batch_issued": "Vote codes and print-shop notices were issued in bulk (administrative action).",
    "votecode.verified": "The voter entered their vote code: the session was raised to the vote-code level.",
    "votecode.failed": "A wrong vote code was entered (or the voter has none); counted towards the lockout.",
    "votecode.rejected": "A vote-code entry refused unchecked (CAPTCHA, malformed code); not counted.",
    "votecode.locked": "A voter's vote-code step was locked after repeated wrong codes.",
    "votecode.throttled": "A vote-code attempt refused because the voter's vote-code step is locked.",
    "oidc.code_issued": "An authorization code was issued to a client (grant id, scope, acr; never the code).",
    "oidc.code_reused": "A code already redeemed was presented again: the tokens of its grant were revoked.",
    "token.issued": "Access (and refresh) tokens were issued for an authorization code (jti, expiry).",
    "token.refreshed": "A refresh token was rotated: new access and refresh tokens (jti, previous jti).",
    "token.refresh_reused": "A refresh token already rotated was presented again: its whole grant was revoked.",
    "token.revoked": "Tokens were revoked (revocation endpoint, logout, code or refresh-token reuse).",
    "token.introspected": (
        "A client was told by introspection, for the first time, that its token is active, or for the first time"
        " that it is inactive (jti, active); a token unknown or not its own: every time (no jti)."
    ),
    "consent.granted": "The voter allowed a third-party client the listed scopes.",
    "consent.denied": "The voter refused the access a third-party client asked for.",
    "logout.backchannel_queued": "A back-channel logout notice was queued for a client of the ended session.",
    "logout.backchannel_sent": "A back-channel logout token was accepted by the client.",
    "logout.backchannel_failed": "A back-channel logout notice was abandoned after its last attempt.",
    "client.created": "An OpenID Connect client was created by an operator (administrative action).",
    "client.registered": "An OpenID Connect client registered itself with the initial access token (RFC 7591).",
    "client.disabled": "An OpenID Connect client was disabled (administrative action).",
    "keys.created": "A signing key was created (kid, alg, first use).",
    "keys.rotated": "A new signing key was published; the keys it replaces are retired when their tokens expire.",
    "auditor.added": "An auditor account was created (administrative action); it activates itself on first sign-in.",
    "auditor.reset": "An auditor's password was forgotten and its sessions ended (administrative action).",
    "auditor.removed": "An auditor account was deleted (administrative action).",
    "operator.added": "An operator account was created (administrative action); it activates itself on first sign-in.",
    "operator.reset": "An operator's password was forgotten and its sessions ended (administrative action).",
    "operator.removed": "An operator account was deleted (administrative action).",
    "audit.sealed": "A signed checkpoint of the log's head was written (counter, chains, key id).",
    "federation.started": "The browser was sent to the FranceConnect-style provider (purpose of the identification).",
    "federation.failed": "A federated identification failed (step, reason, technical detail; no token, no identity).",
    "federation.matched": "The identité pivot returned by the provider designated exactly one voter (purpose).",
    "federation.not_matched": "The identité pivot returned by the provider matched no voter, or several: refused.",
    "federation.signed_in": "A voter was signed in by the federation alone (IDP_FC_SIGN_IN_ENOUGH), at its own level.",
    "federation.logout_started": "On sign-out, the browser was sent to the provider's end-session endpoint.",
    "federation.logout_completed": "The provider sent the browser back after ending its session.",
}


def register_event_types(types: dict[str, str]) -> None:
    """Add event types (plugins); a type already defined with another meaning is refused."""
    for name, description in types.items():
        existing = EVENT_TYPES.get(name)
        if existing is not None and existing != description:
            raise ValueError(f"audit event type {name!r} is already defined")
        EVENT_TYPES[name] = description
