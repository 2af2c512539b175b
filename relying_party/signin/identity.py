"""The signed-in voter as the portal keeps it in its server-side session.

Everything comes from the IdP: the validated ID token's claims and the userinfo answer. The vote-code level is kept
apart (:func:`vote_level`), with the ``auth_time`` of the ID token that proved it, and checked against the clock
wherever a ballot page is shown or a ballot is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, session
from flask_wtf.csrf import generate_csrf

from infra.observability import note
from infra.sessions import regenerate

#: Where the signed-in identity lives in the session.
USER_KEY = "user"
VOTE_LEVEL_KEY = "vote_level"

#: Claims of the userinfo answer that "Mes informations personnelles" shows, with their French label.
PERSONAL_CLAIMS = (
    ("family_name", "Nom"),
    ("given_name", "Prénom(s)"),
    ("birthdate", "Date de naissance"),
    ("email", "Identifiant électeur (adresse de messagerie académique)"),
    ("academie", "Académie"),
)

_CIVILITY = {"female": "Mme", "male": "M."}


@dataclass(frozen=True)
class SignedInVoter:
    sub: str
    email: str | None
    given_name: str
    family_name: str
    gender: str | None
    idp_sid: str | None
    id_token: str
    auth_time: int | None
    userinfo: dict[str, Any] = field(default_factory=dict)

    @property
    def civility(self) -> str:
        return _CIVILITY.get(self.gender or "", "")

    @property
    def display_name(self) -> str:
        """As the seed shows it: "Mme JULLIEN CLAIRE"."""
        parts = [self.civility, self.family_name.upper(), self.given_name.upper()]
        return " ".join(part for part in parts if part)


def sign_in(claims: Mapping[str, Any], userinfo: Mapping[str, Any], id_token: str) -> SignedInVoter:
    """Start a fresh session for this voter (new session id: no fixation), with its CSRF secret.

    Every signed-in page has a form (« Se déconnecter »): its CSRF secret is put in the session written now, rather
    than by the next page, which then writes nothing (one session write fewer per sign-in)."""
    merged = {**claims, **userinfo}
    voter = SignedInVoter(
        sub=str(claims["sub"]),
        email=(str(merged["email"]).strip().lower() if merged.get("email") else None),
        given_name=str(merged.get("given_name") or ""),
        family_name=str(merged.get("family_name") or ""),
        gender=merged.get("gender"),
        idp_sid=claims.get("sid"),
        id_token=id_token,
        auth_time=claims.get("auth_time"),
        userinfo={name: userinfo[name] for name in userinfo if isinstance(userinfo[name], str | bool | int)},
    )
    session.clear()
    regenerate()
    session[USER_KEY] = {
        "sub": voter.sub,
        "email": voter.email,
        "given_name": voter.given_name,
        "family_name": voter.family_name,
        "gender": voter.gender,
        "idp_sid": voter.idp_sid,
        "id_token": voter.id_token,
        "auth_time": voter.auth_time,
        "userinfo": voter.userinfo,
    }
    generate_csrf()
    return voter


def session_tags(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The IdP session and subject a portal session belongs to (store tags, for back-channel logout)."""
    user = data.get(USER_KEY) or {}
    return user.get("idp_sid"), user.get("sub")


def current_voter() -> SignedInVoter | None:
    data = session.get(USER_KEY)
    if not data:
        return None
    known = SignedInVoter.__dataclass_fields__
    note(subject=str(data.get("sub") or ""))  # the request's log line: the IdP's pseudonymous subject
    return SignedInVoter(**{name: value for name, value in data.items() if name in known})


def sign_out() -> str | None:
    """End the portal session; return the ID token to send as ``id_token_hint``."""
    data = session.get(USER_KEY) or {}
    session.clear()
    return data.get("id_token")


def record_vote_level(claims: Mapping[str, Any], id_token: str) -> None:
    """The IdP proved the vote-code level: remember when, and take a new session id (step-up)."""
    user = dict(session[USER_KEY])
    user["id_token"] = id_token
    if claims.get("sid"):
        user["idp_sid"] = claims["sid"]
    session[USER_KEY] = user
    session[VOTE_LEVEL_KEY] = {
        "acr": claims.get("acr"),
        "amr": list(claims.get("amr") or []),
        "auth_time": int(claims["auth_time"]),
    }
    regenerate()


def level_problem(claims: Mapping[str, Any], *, now: float | None = None) -> str | None:
    """Why these ID token claims do not prove a fresh vote-code level (None if they do)."""
    cfg = current_app.config
    current = time.time() if now is None else now
    if claims.get("acr") != cfg["VOTE_ACR"]:
        return "acr"
    amr = claims.get("amr")
    if not isinstance(amr, list) or not set(str(cfg["VOTE_AMR"]).split()) <= set(amr):
        return "amr"
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
        return "auth_time"
    # max_age asked for at most VOTE_MAX_AGE seconds; 30 s of leeway for clocks and the round trip.
    if current - auth_time > int(cfg["VOTE_MAX_AGE"]) + 30 or auth_time > current + 30:
        return "auth_time"
    return None


def has_vote_level(*, now: float | None = None) -> bool:
    """True while the vote-code step is fresh enough for a ballot (``PORTAL_VOTE_LEVEL_TTL`` after it)."""
    level = session.get(VOTE_LEVEL_KEY)
    if not level or current_voter() is None:
        return False
    cfg = current_app.config
    current = time.time() if now is None else now
    if level.get("acr") != cfg["VOTE_ACR"] or not set(str(cfg["VOTE_AMR"]).split()) <= set(level.get("amr") or []):
        return False
    age = current - int(level["auth_time"])
    # 30 s of leeway for an IdP clock slightly ahead of ours.
    return -30 <= age <= int(cfg["VOTE_LEVEL_TTL"])
