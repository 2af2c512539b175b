"""Filing support requests (relying_party.pages.support): a reference already taken is drawn again in a new
transaction, and nothing of the failed attempt is left behind; after three taken references the filing fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from relying_party.db import get_db
from relying_party.models import AuditEvent, OutboxMessage, SupportRequest, utcnow
from relying_party.pages import support

REQUEST = support.AssistanceRequest(
    contact_name="Camille Exemple",
    contact_email="camille.exemple@example.org",
    academie=None,
    topic="autre",
    message="Je ne reçois pas mon code.",
    voter=None,
    signed_in_as=None,
)


def drawing(monkeypatch: pytest.MonkeyPatch, references: list[str]) -> None:
    draws: Iterator[str] = iter(references)
    monkeypatch.setattr(support, "new_reference", lambda prefix: next(draws))


def counts(app: Flask) -> tuple[int, int, int]:
    with get_db(app).transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(SupportRequest)) or 0,
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
            session.scalar(select(func.count()).where(AuditEvent.type == "assistance.requested")) or 0,
        )


def test_a_taken_reference_is_drawn_again(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    drawing(monkeypatch, ["AST-TAKE-N001", "AST-TAKE-N001", "AST-FREE-0001"])
    database = get_db(app)
    assert support.file_assistance(database, REQUEST, support_email="aide@example.org", now=utcnow()) == "AST-TAKE-N001"
    assert support.file_assistance(database, REQUEST, support_email="aide@example.org", now=utcnow()) == "AST-FREE-0001"
    assert counts(app) == (2, 2, 2)


def test_three_taken_references_file_nothing(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    drawing(monkeypatch, ["AST-TAKE-N001"] * 4)
    database = get_db(app)
    support.file_assistance(database, REQUEST, support_email="aide@example.org", now=utcnow())
    with pytest.raises(support.NoFreeReference):
        support.file_assistance(database, REQUEST, support_email="aide@example.org", now=utcnow())
    assert counts(app) == (1, 1, 1)
