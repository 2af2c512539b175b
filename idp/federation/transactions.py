"""State kept between the redirect to the provider and its answer, and the match handed to the caller.

* A **pending login** is stored in the shared ephemeral store under a hash of its ``state`` (so any web process
  can receive the callback), with a lifetime, and is *taken* (read and deleted atomically) by the callback: a
  replayed or forged ``state`` finds nothing. It is also bound to the browser that started it: a random value kept
  in that browser's server-side session must be the one stored with it, so a callback URL carried to another
  browser (login CSRF, code injection) is refused.
* A **match** for a caller other than the sign-in (the réassort plugin) is stored the same way under a random id
  that only the voter's session knows, and taken once by :func:`take_match`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass

from flask import session

from idp.store import get_store

#: Seconds a voter has to get through the provider's screens.
PENDING_TTL = 900
#: Seconds a match waits for its caller to take it.
MATCH_TTL = 600
_BINDING = "federation_binding"
_MATCHES = "federation_matches"


def _key(kind: str, value: str) -> str:
    return f"federation:{kind}:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str | None
    purpose: str
    next_url: str
    back_url: str
    binding: str
    created: float


@dataclass(frozen=True)
class MatchedVoter:
    """What the federation hands its caller: the voter the provider's identity designates, and for what.

    ``voter_id`` and ``subject`` are the voter's (``Voter.id``, ``Voter.subject``); nothing of the provider's
    identity is kept. The caller decides what the match allows (for the réassort: straight to "Générer un code").
    """

    voter_id: int
    subject: str
    purpose: str
    matched_at: float


def _binding() -> str:
    value = session.get(_BINDING)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(16)
        session[_BINDING] = value
    return value


def save_pending(
    *, state: str, nonce: str, code_verifier: str | None, purpose: str, next_url: str, back_url: str
) -> PendingLogin:
    pending = PendingLogin(state, nonce, code_verifier, purpose, next_url, back_url, _binding(), time.time())
    get_store().set(_key("pending", state), json.dumps(asdict(pending)), PENDING_TTL)
    return pending


def take_pending(state: str | None) -> PendingLogin | None:
    """The pending login of ``state``, once, and only in the browser that started it."""
    if not state or len(state) > 200:
        return None
    raw = get_store().take(_key("pending", state))
    if raw is None:
        return None
    pending = PendingLogin(**json.loads(raw))
    own = session.get(_BINDING)
    if not isinstance(own, str) or not hmac.compare_digest(own, pending.binding):
        return None
    return pending


def hand_over(voter_id: int, subject: str, purpose: str) -> MatchedVoter:
    """Keep a match for the caller of ``purpose`` (replacing an earlier one of the same purpose)."""
    match = MatchedVoter(voter_id, subject, purpose, time.time())
    handle = secrets.token_urlsafe(24)
    get_store().set(_key("match", handle), json.dumps(asdict(match)), MATCH_TTL)
    matches = dict(session.get(_MATCHES) or {})
    previous = matches.get(purpose)
    if isinstance(previous, str):
        get_store().delete(_key("match", previous))
    matches[purpose] = handle
    session[_MATCHES] = matches
    return match


def take_match(purpose: str) -> MatchedVoter | None:
    """The match kept for ``purpose`` in this browser, once (None if none, already taken or expired)."""
    matches = dict(session.get(_MATCHES) or {})
    handle = matches.pop(purpose, None)
    if handle is None:
        return None
    session[_MATCHES] = matches
    raw = get_store().take(_key("match", str(handle)))
    if raw is None:
        return None
    match = MatchedVoter(**json.loads(raw))
    return match if match.purpose == purpose else None
