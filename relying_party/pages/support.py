"""Filing a request for the support team: « Formulaire de demande d'assistance » and « Formuler une réclamation ».

Each is stored with a reference shown to the voter and queued in the portal's outbox for the support team, in one
transaction with its audit event (reference and topic; never the message, the contact address or the name). The
functions take the database, the support address and the time, and return the reference; the views parse the
forms and render. A reference is drawn at random (about 37 bits): a collision with a stored one is tried again
with a new reference, in a new transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relying_party.audit import record, voter_reference
from relying_party.db import Database
from relying_party.models import Complaint, SupportRequest
from relying_party.outbox.queue import enqueue
from relying_party.pages.forms import ASSISTANCE_TOPICS, COMPLAINT_TOPICS
from relying_party.pages.references import new_reference

#: Draws of a reference before giving up (a collision is already rare: about 37 bits each).
ATTEMPTS = 3


@dataclass(frozen=True)
class AssistanceRequest:
    """What « Formulaire de demande d'assistance » asks for, trimmed.

    ``voter``: the signed-in voter's e-mail, kept with the request and shown to the support team (None if anonymous
    or the IdP gave none); ``signed_in_as``: what the audit pseudonym of a signed-in voter is computed from (the
    e-mail, else the ``sub``), None if anonymous.
    """

    contact_name: str
    contact_email: str
    academie: str | None
    topic: str
    message: str
    voter: str | None
    signed_in_as: str | None


@dataclass(frozen=True)
class ComplaintRequest:
    """A signed-in voter's complaint; ``voter`` is the voter's e-mail, else the ``sub``; ``scrutin`` is one of the
    voter's (id and code), or None for « Autre »."""

    voter: str
    scrutin: tuple[int, str] | None
    topic: str
    message: str


class NoFreeReference(RuntimeError):
    """Every reference drawn was taken (never seen: it would take several collisions of 37 bits in a row)."""


def file_assistance(database: Database, request: AssistanceRequest, *, support_email: str, now: dt.datetime) -> str:
    """Store and queue an assistance request; its reference."""

    def write(session: Session, reference: str) -> None:
        session.add(
            SupportRequest(
                reference=reference,
                contact_name=request.contact_name,
                contact_email=request.contact_email,
                academie=request.academie,
                topic=request.topic,
                message=request.message,
                voter_identifier=request.voter,
                created_at=now,
            )
        )
        enqueue(
            session,
            recipient=support_email,
            subject=f"[Portail Élections] Demande d'assistance {reference}",
            body=_assistance_body(reference, request),
        )
        record(
            session,
            "assistance.requested",
            subject=voter_reference(request.signed_in_as, database.audit_key) if request.signed_in_as else None,
            reference=reference,
            topic=request.topic,
            signed_in=request.signed_in_as is not None,
        )

    return _with_new_reference(database, "AST", write)


def file_complaint(database: Database, request: ComplaintRequest, *, support_email: str, now: dt.datetime) -> str:
    """Store and queue a complaint; its reference."""
    scrutin_code = request.scrutin[1] if request.scrutin else None

    def write(session: Session, reference: str) -> None:
        session.add(
            Complaint(
                reference=reference,
                voter_identifier=request.voter,
                scrutin_id=request.scrutin[0] if request.scrutin else None,
                topic=request.topic,
                message=request.message,
                created_at=now,
            )
        )
        enqueue(
            session,
            recipient=support_email,
            subject=f"[Portail Élections] Réclamation {reference}",
            body="\n".join(
                [
                    f"Réclamation {reference}",
                    f"Scrutin : {scrutin_code or 'autre'}",
                    f"Objet : {_label(COMPLAINT_TOPICS, request.topic)}",
                    f"Électeur : {request.voter}",
                    "",
                    request.message,
                ]
            ),
        )
        record(
            session,
            "complaint.filed",
            subject=voter_reference(request.voter, database.audit_key),
            reference=reference,
            scrutin=scrutin_code,
            topic=request.topic,
        )

    return _with_new_reference(database, "REC", write)


def _with_new_reference(database: Database, prefix: str, write: Callable[[Session, str], None]) -> str:
    for _ in range(ATTEMPTS):
        reference = new_reference(prefix)
        try:
            with database.transaction() as session:
                write(session, reference)
        except IntegrityError:
            continue
        return reference
    raise NoFreeReference(f"no free {prefix} reference after {ATTEMPTS} draws")


def _label(choices: list[tuple[str, str]], value: str) -> str:
    return dict(choices).get(value, value)


def _assistance_body(reference: str, request: AssistanceRequest) -> str:
    return "\n".join(
        [
            f"Demande d'assistance {reference}",
            f"Objet : {_label(ASSISTANCE_TOPICS, request.topic)}",
            f"Nom : {request.contact_name}",
            f"Adresse pour répondre : {request.contact_email}",
            f"Académie : {request.academie or '-'}",
            f"Électeur connecté : {request.voter or 'non'}",
            "",
            request.message,
        ]
    )
