"""The plugin's service rule: a service writes in the request's session and never commits or rolls back; the view
commits once, whatever the outcome (see ``reassort_plugin/views/common.py``).

Each service is called in a request's session: what it wrote is there, in the still open transaction, and
nothing was ever committed; rolling the request back leaves no trace (so the view's commit is what keeps it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from idp.db import get_db
from idp.models import AuditEvent, OneTimeLink, Voter
from idp.plugin_api import MatchedVoter, create_link, get_session
from reassort_plugin import franceconnect_service, link_service, request_service
from reassort_plugin.formats import Destination, IdentityNumber
from reassort_plugin.kinds import Kind
from tests.helpers import DEFAULT_ANSWER
from tests.reassort_plugin.helpers import NUMEN, PERSONAL_EMAIL

ADDRESS = "192.0.2.10"


def _request(voter: Voter, answer: str) -> request_service.Request:
    return request_service.Request(
        Kind.CODE, voter.identifier, answer, IdentityNumber("numen", NUMEN), Destination("email", PERSONAL_EMAIL)
    )


def _match(voter: Voter, *, other: bool = False) -> MatchedVoter:
    """A FranceConnect match of ``voter`` (or of ``other`` voter, who exists nowhere here)."""
    voter_id, subject = (voter.id + 1000, "autre-sujet") if other else (voter.id, voter.subject)
    return MatchedVoter(voter_id=voter_id, subject=subject, purpose=franceconnect_service.PURPOSE, matched_at=0)


def _link(app: Flask, voter_id: int, kind: Kind = Kind.CODE) -> str:
    with app.test_request_context(), get_db(app).transaction() as session:
        return create_link(session, session.get(Voter, voter_id), kind.purpose, 600, tag="F")[0]


def _written(app: Flask) -> tuple[int, int]:
    """Audit events and used links in the database (as committed)."""
    with app.app_context(), get_db(app).transaction() as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        used = session.scalar(select(func.count()).select_from(OneTimeLink).where(OneTimeLink.used_at.is_not(None)))
        return int(events or 0), int(used or 0)


@contextmanager
def no_transaction_ends(session: Session) -> Iterator[None]:
    """Fail if the session's outermost transaction ends (a commit or a rollback) inside the block."""
    ended: list[SessionTransaction] = []

    def _ended(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            ended.append(transaction)

    event.listen(session, "after_transaction_end", _ended)
    try:
        yield
    finally:
        event.remove(session, "after_transaction_end", _ended)
    assert ended == [], "a service ended the request's transaction"
    assert session.in_transaction()


Call = Callable[[Session, Voter, dict[Kind, str]], Any]

CALLS: dict[str, tuple[Call, str]] = {
    "reject": (lambda s, v, t: request_service.reject(s, v, Kind.CODE, v.identifier, ["email"]), "reassort.rejected"),
    "request_link wrong": (
        lambda s, v, t: request_service.request_link(s, v, _request(v, "pas la bonne réponse"), ADDRESS),
        "reassort.failed",
    ),
    "request_link sent": (
        lambda s, v, t: request_service.request_link(s, v, _request(v, DEFAULT_ANSWER), ADDRESS),
        "reassort.link_sent",
    ),
    "before_start": (lambda s, v, t: franceconnect_service.before_start(s, v, ADDRESS), "reassort.requested"),
    "conclude granted": (
        lambda s, v, t: franceconnect_service.conclude(s, v, _match(v), ADDRESS),
        "reassort.link_granted",
    ),
    "conclude other voter": (
        lambda s, v, t: franceconnect_service.conclude(s, v, _match(v, other=True), ADDRESS),
        "reassort.franceconnect_refused",
    ),
    "opened": (
        lambda s, v, t: link_service.opened(s, link_service.live_link(s, t[Kind.CODE], Kind.CODE), Kind.CODE),  # type: ignore[arg-type]
        "reassort.link_opened",
    ),
    "refuse": (
        lambda s, v, t: link_service.refuse(s, t[Kind.CODE], Kind.CODE, "used_or_expired"),
        "reassort.link_refused",
    ),
    "generate_code": (lambda s, v, t: link_service.generate_code(s, t[Kind.CODE]), "reassort.code_generated"),
    "generate_code invalid": (
        lambda s, v, t: link_service.generate_code(s, t[Kind.CODE] + "x"),
        "reassort.link_refused",
    ),
    "set_password refused": (
        lambda s, v, t: link_service.set_password(s, t[Kind.CODE], "argon2-hash"),
        "reassort.link_refused",
    ),
    "set_password": (
        lambda s, v, t: link_service.set_password(s, t[Kind.PASSWORD], "argon2-hash"),
        "reassort.password_changed",
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_service_leaves_its_writes_to_the_view_to_commit(app, voters, name):
    call, written = CALLS[name]
    voter = voters.create()
    # A link of each kind (set_password refuses the vote-code one: another purpose).
    tokens = {kind: _link(app, voter.id, kind) for kind in Kind}
    before = _written(app)
    with app.test_request_context(environ_base={"REMOTE_ADDR": ADDRESS}):
        session = get_session()
        with no_transaction_ends(session):
            call(session, session.get(Voter, voter.id), tokens)
        types = session.scalars(select(AuditEvent.type).order_by(AuditEvent.id.desc()).limit(8)).all()
        assert written in types
        session.rollback()
    assert _written(app) == before


def test_a_refused_link_is_left_unused_and_the_transaction_goes_on(app, voters):
    """The savepoint of ``generate_code``: a link found used undoes only the attempt, not the request's writes."""
    voter = voters.create()
    token = _link(app, voter.id)
    with app.test_request_context():
        session = get_session()
        live = link_service.live_link(session, token, Kind.CODE)
        assert live is not None
        link_service.opened(session, live, Kind.CODE)
        with no_transaction_ends(session):
            assert link_service.set_password(session, token, "argon2-hash") is link_service.Refusal.INVALID
        session.commit()
    with app.app_context(), get_db(app).transaction() as session:
        types = session.scalars(select(AuditEvent.type).order_by(AuditEvent.id.desc()).limit(2)).all()
        assert types == ["reassort.link_refused", "reassort.link_opened"]
        assert session.scalars(select(OneTimeLink.used_at)).all() == [None]
