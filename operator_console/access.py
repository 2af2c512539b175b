"""Who may read the console: an account the IdP says is an operator, and that the IdP's database still holds as one.

At sign-in the console asks the IdP for the ``audit`` scope, whose ``roles`` claim (userinfo) names the account's
role; only "operator" is let in (an auditor, a voter: the French 403 page). On every request the account is looked
up again in the IdP's database (read only, by its subject): a removed operator, or a reset (``idp operators reset``
moves the account's session epoch on) ends the console session at once.
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
from idp.models.voter import ROLE_OPERATOR
from infra.db import get_db
from infra.redirects import request_location

P = ParamSpec("P")
R = TypeVar("R")

SESSION_KEY = "operator"
REQUIRED_ROLE = ROLE_OPERATOR


@dataclass(frozen=True)
class Operator:
    sub: str
    name: str
    #: The account's session epoch at sign-in (see :func:`still_operator`).
    epoch: int
    signed_in_at: float
    id_token: str


def account_epoch(sub: str) -> int | None:
    """The account's session epoch if ``sub`` is an operator account of the IdP, else None."""
    with get_db().engine.connect() as connection:
        row = connection.execute(select(Voter.role, Voter.session_epoch).where(Voter.subject == sub)).first()
    if row is None or row.role != REQUIRED_ROLE:
        return None
    return int(row.session_epoch)


def current_operator() -> Operator | None:
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        operator = Operator(**data)
    except TypeError:
        return None
    if time.time() - operator.signed_in_at > int(current_app.config["SESSION_LIFETIME"]):
        return None
    return operator


def operator_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        operator = current_operator()
        if operator is None:
            target = request_location(request) if request.method == "GET" else None
            return redirect(url_for("signin.start", next=target))
        if account_epoch(operator.sub) != operator.epoch:
            session.clear()
            abort(403)
        return view(*args, **kwargs)

    return wrapped
