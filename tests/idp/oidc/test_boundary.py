"""The provider's transaction rule (:mod:`idp.oidc.boundary`): a request's writes are committed once, after its
answer is built, when the answer is below 400; an error answer or an exception rolls them back, except the writes a
callback declared to be kept (a replay's revocation), which are committed on their own."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import record
from idp.db import get_db, get_session
from idp.models import AuditEvent
from idp.oidc.boundary import keep_even_if_refused, one_transaction


def _types(app) -> list[str]:
    with app.app_context(), get_db(app).transaction() as session:
        mine = AuditEvent.client_id.in_(["request", "kept"])
        return list(session.execute(select(AuditEvent.type).where(mine).order_by(AuditEvent.id)).scalars())


def _kept(session: Session) -> None:
    record(session, "token.revoked", client_id="kept", reason="refresh_token_reuse", count=0)


def _answer(status: int, *, keep: bool = False) -> tuple[str, int]:
    record(get_session(), "token.introspected", client_id="request", active=False)
    if keep:
        keep_even_if_refused(_kept)
    return "", status


@pytest.mark.parametrize("status", [200, 302, 303])
def test_an_answer_below_400_commits_what_the_request_wrote(app, status):
    with app.test_request_context("/token", method="POST"):
        assert one_transaction(lambda: _answer(status)) == ("", status)
    assert _types(app) == ["token.introspected"]


@pytest.mark.parametrize("status", [400, 401, 500])
def test_an_error_answer_rolls_back_what_the_request_wrote(app, status):
    with app.test_request_context("/token", method="POST"):
        assert one_transaction(lambda: _answer(status)) == ("", status)
    assert _types(app) == []


def test_an_error_answer_keeps_only_the_declared_writes(app):
    with app.test_request_context("/token", method="POST"):
        one_transaction(lambda: _answer(400, keep=True))
    assert _types(app) == ["token.revoked"]


def test_a_success_commits_the_declared_writes_with_the_request(app):
    with app.test_request_context("/token", method="POST"):
        one_transaction(lambda: _answer(200, keep=True))
    assert _types(app) == ["token.introspected", "token.revoked"]


def test_an_exception_rolls_everything_back_declared_writes_too(app):
    def failing() -> None:
        _answer(200, keep=True)
        raise RuntimeError("signing failed")

    with app.test_request_context("/token", method="POST"), pytest.raises(RuntimeError):
        one_transaction(failing)
    assert _types(app) == []
