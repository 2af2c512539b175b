"""Who may read the journal: an account the IdP says is an auditor, and that the IdP's database still holds as one.

At sign-in the console asks the IdP for the ``audit`` scope, whose ``roles`` claim (userinfo) names the account's
role; only "auditor" is let in. On every request the account is looked up again in the IdP's database (read only,
by its subject, which the console receives as a first-party client): a removed auditor, an account turned into
something else, or a reset (``idp auditors reset``, which moves the account's session epoch on) ends the console
session at once. Everything else gets the French 403 page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, current_app, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp.models import Voter
from idp.models.voter import ROLE_AUDITOR
from infra.db import get_db
from infra.redirects import request_location

P = ParamSpec("P")
R = TypeVar("R")

SESSION_KEY = "auditor"
REQUIRED_ROLE = ROLE_AUDITOR


@dataclass(frozen=True)
class Auditor:
    sub: str
    name: str
    #: The account's session epoch at sign-in (see :func:`still_auditor`).
    epoch: int
    signed_in_at: float
    id_token: str


def account_epoch(sub: str) -> int | None:
    """The account's session epoch if ``sub`` is an auditor account of the IdP, else None."""
    with get_db().engine.connect() as connection:
        row = connection.execute(select(Voter.role, Voter.session_epoch).where(Voter.subject == sub)).first()
    if row is None or row.role != REQUIRED_ROLE:
        return None
    return int(row.session_epoch)


def current_auditor() -> Auditor | None:
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        auditor = Auditor(**data)
    except TypeError:
        return None
    if time.time() - auditor.signed_in_at > int(current_app.config["SESSION_LIFETIME"]):
        return None
    return auditor


def still_auditor(auditor: Auditor) -> bool:
    return account_epoch(auditor.sub) == auditor.epoch


def auditor_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        auditor = current_auditor()
        if auditor is None:
            target = request_location(request) if request.method == "GET" else None
            return redirect(url_for("signin.start", next=target))
        if not still_auditor(auditor):
            session.clear()
            abort(403)
        return view(*args, **kwargs)

    return wrapped
