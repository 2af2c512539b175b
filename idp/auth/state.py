"""The signed-in state kept in the server-side session, and the IdP's authentication levels.

Protocol code (the OpenID Provider) reads the state through :func:`current_authentication`; screens write it through
:func:`sign_in`. A password change ends every session of a voter by bumping ``Voter.session_epoch``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import session

from idp.db import get_session
from idp.models import Voter
from infra.observability import note
from infra.sessions import regenerate

#: Authentication Context Class References of the IdP.
ACR_PASSWORD = "urn:portail-elections:acr:password"  # noqa: S105 - an identifier, not a secret
ACR_VOTE_CODE = "urn:portail-elections:acr:password+vote-code"
ACR_LEVELS = (ACR_PASSWORD, ACR_VOTE_CODE)

_KEY = "auth"


@dataclass(frozen=True)
class Authentication:
    subject: str
    voter_id: int
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    epoch: int
    #: When the vote-code step was last passed (None if never in this session).
    step_up_time: int | None = None


def sign_in(
    *, voter_id: int, subject: str, epoch: int, acr: str = ACR_PASSWORD, amr: tuple[str, ...] = ("pwd",)
) -> Authentication:
    """Record a successful sign-in in a fresh session (new id: no fixation)."""
    session.clear()
    regenerate()
    auth = Authentication(subject=subject, voter_id=voter_id, auth_time=int(time.time()), acr=acr, amr=amr, epoch=epoch)
    session[_KEY] = {
        "subject": auth.subject,
        "voter_id": auth.voter_id,
        "auth_time": auth.auth_time,
        "acr": auth.acr,
        "amr": list(auth.amr),
        "epoch": auth.epoch,
        "step_up_time": None,
    }
    return auth


def step_up(*, acr: str, amr: tuple[str, ...], twin_note: Mapping[str, Any] | None = None) -> None:
    """Raise the level of the current session (vote-code step) and issue a new session id.

    ``amr`` names the methods this step adds; they join the methods of the sign-in, so the ID token says truly how
    the voter authenticated (``pwd`` + ``otp`` after a password, ``fed`` + ``otp`` after a federated sign-in).
    ``twin_note``: see :func:`infra.sessions.regenerate`.
    """
    data = dict(session[_KEY])
    now = int(time.time())
    methods = list(dict.fromkeys([*data.get("amr", []), *amr]))
    data.update(acr=acr, amr=methods, step_up_time=now, auth_time=now)
    session[_KEY] = data
    regenerate(twin_note=twin_note)


def current_authentication() -> Authentication | None:
    """The authentication of this browser session, or None if there is none or it has been ended.

    A session is ended when its voter's ``session_epoch`` moved on (a password changed through the réassort: "all
    sessions of that voter end") or the voter is gone. The check is here, in the one reader of the signed-in state,
    so that no screen or protocol endpoint can forget it; it costs one primary-key lookup. A caller that needs the
    voter too takes both from :func:`current_voter` (one lookup for both). The stale entry is left in the session
    (reading has no side effect); the next sign-in replaces the whole session.
    """
    found = current_voter()
    return found[0] if found is not None else None


def current_voter() -> tuple[Authentication, Voter] | None:
    """The authentication of this browser session and its voter, or None (see :func:`current_authentication`).

    The voter is the one the check read, returned so that callers do not read it again: the request session's
    identity map holds its objects weakly, so a voter nobody keeps is read a second time by the next ``get``.
    """
    data = session.get(_KEY)
    if not data:
        return None
    auth = Authentication(
        subject=data["subject"],
        voter_id=data["voter_id"],
        auth_time=data["auth_time"],
        acr=data["acr"],
        amr=tuple(data["amr"]),
        epoch=data["epoch"],
        step_up_time=data.get("step_up_time"),
    )
    voter = get_session().get(Voter, auth.voter_id)
    if voter is None or voter.subject != auth.subject or voter.session_epoch != auth.epoch:
        return None
    note(subject=auth.subject)  # the request's log line: the pseudonymous subject, never the identifier
    return auth, voter


def sign_out() -> None:
    session.clear()
