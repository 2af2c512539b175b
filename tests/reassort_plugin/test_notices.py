"""After every réassort the voter's academic mailbox is told: what was done, when (Paris time), through which
channel (masked), and what to do if it was not them — queued in the outbox with the change, never blocking the
request (issue: a password réassort sent to an arbitrary phone number reset the password silently)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from idp.db import get_db
from idp.models import OutboxMessage
from tests.helpers import outbox_messages
from tests.reassort_plugin.helpers import MOBILE, ReassortActions, last_link
from tests.reassort_plugin.test_password import NEW_PASSWORD, set_password, start


def notices(app: Flask, identifier: str) -> list[Any]:
    return [m for m in outbox_messages(app) if m.recipient == identifier]


def pending_notices(app: Flask) -> int:
    with get_db(app).transaction() as session:
        rows = session.execute(select(OutboxMessage.status).where(OutboxMessage.purpose == "reassort_notice")).scalars()
        return sum(status == "pending" for status in rows)


def test_a_new_vote_code_is_notified_to_the_academic_address(
    app: Flask, signed_in: Any, reassort: ReassortActions
) -> None:
    assert reassort.ask_code(channel="sms", phone=MOBILE, email="").status_code == 200
    assert notices(app, signed_in.identifier) == [], "nothing happened yet: no notice"
    assert reassort.generate(last_link(app)).status_code == 303
    [notice] = notices(app, signed_in.identifier)
    assert notice.channel == "email" and notice.subject == "Portail Élections : un nouveau code de vote a été généré"
    body = notice.body
    assert "Un nouveau code de vote a été généré pour votre compte électeur le " in body
    assert "(heure de Paris), à la suite d'un lien envoyé par SMS à 06 •• •• •• 34." in body
    assert "Votre code de vote précédent ne fonctionne plus." in body
    assert "Si ce n'est pas vous" in body and "Cliquez ici pour obtenir un réassort de votre code de vote" in body
    assert "http" not in body, "the notice carries no link"
    assert "39 98 12" not in body.replace(" ", " "), "the number itself is not repeated"
    assert pending_notices(app) == 1, "queued for the worker, not sent during the request"


def test_a_new_password_is_notified_to_the_academic_address(app: Flask, voters: Any) -> None:
    voter = voters.create()
    _browser, reassort = start(app, voter.identifier)
    assert reassort.ask_password(email="camille.perso@example.org").status_code == 200
    assert set_password(app.test_client(), last_link(app), NEW_PASSWORD).status_code == 200
    [notice] = notices(app, voter.identifier)
    assert notice.subject == "Portail Élections : votre mot de passe Élections a été changé"
    assert "à la suite d'un lien envoyé par e-mail à c•••@example.org." in notice.body
    assert "Toutes vos sessions ouvertes ont été fermées." in notice.body
    assert "Besoin du réassort de votre mot de passe Élections ?" in notice.body
    assert "camille.perso@example.org" not in notice.body


def test_no_notice_when_the_link_is_refused(app: Flask, signed_in: Any, reassort: ReassortActions) -> None:
    reassort.ask_code()
    path = last_link(app)
    assert reassort.generate(path).status_code == 303
    assert reassort.client.get(path).status_code == 410  # the same link again: refused
    assert len(notices(app, signed_in.identifier)) == 1
