"""Casting a ballot: the émargement and the ballot in one transaction, one vote per voter enforced by the database.

The émargement row is inserted first: a second submission for the same voter and scrutin (double click, two tabs,
fifty concurrent requests) fails on its primary key inside the database, its transaction is rolled back with its
ballot, and the voter is told the vote is already recorded. The ballot row gets a random key, the choice, a random
receipt code and nothing else (see :mod:`relying_party.models.ballot`).

The ``ballot.cast`` audit event is appended last in the same transaction: it exists if and only if the vote does.
It names the scrutin and the voter's keyed pseudonym, like the émargement names the voter; it holds neither the
choice nor the receipt, and nothing in the ballot row refers to it (after mixing, not even PostgreSQL's ``xmin``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from relying_party.audit import record, voter_reference
from relying_party.db import Database
from relying_party.models import Ballot, CandidateList, Emargement, RollEntry, Scrutin
from relying_party.voting.receipts import new_receipt


class VoteRefused(Exception):
    """No ballot was accepted; ``message`` is what the voter reads."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


class AlreadyVoted(VoteRefused):
    def __init__(self) -> None:
        super().__init__("already_voted", "Votre vote a déjà été enregistré pour ce scrutin.")


def not_open(scrutin: Scrutin, now: dt.datetime) -> VoteRefused | None:
    if now < scrutin.opens_at:
        return VoteRefused(
            "not_yet_open",
            "Le vote pour ce scrutin n'est pas encore ouvert : aucun bulletin ne peut être déposé avant l'ouverture.",
        )
    if now >= scrutin.closes_at:
        return VoteRefused("closed", "Le vote pour ce scrutin est clos : aucun bulletin ne peut plus être déposé.")
    return None


@dataclass(frozen=True)
class CastResult:
    receipt: str


def cast_ballot(
    database: Database,
    *,
    scrutin_id: int,
    voter_identifier: str,
    candidate_list_id: int | None,
    now: dt.datetime,
    voter_ref: str | None = None,
) -> CastResult:
    """Record the vote of ``voter_identifier``: ``candidate_list_id`` None is a blank vote.

    ``voter_ref`` is the voter's audit pseudonym; by default it is computed with the database's audit key.
    """
    receipt = new_receipt()
    subject = voter_ref or voter_reference(voter_identifier, database.audit_key)
    try:
        with database.transaction() as session:
            scrutin = session.get(Scrutin, scrutin_id)
            if scrutin is None:
                raise VoteRefused("unknown_scrutin", "Ce scrutin n'existe pas.")
            refusal = not_open(scrutin, now)
            if refusal is not None:
                raise refusal
            on_roll = session.execute(
                select(RollEntry.id).where(
                    RollEntry.scrutin_id == scrutin_id, RollEntry.voter_identifier == voter_identifier
                )
            ).first()
            if on_roll is None:
                raise VoteRefused("not_on_roll", "Vous ne figurez pas sur la liste électorale de ce scrutin.")
            if (
                candidate_list_id is not None
                and session.execute(
                    select(CandidateList.id).where(
                        CandidateList.id == candidate_list_id, CandidateList.scrutin_id == scrutin_id
                    )
                ).first()
                is None
            ):
                raise VoteRefused("bad_choice", "Ce choix ne correspond à aucune liste de ce scrutin.")
            session.add(Emargement(scrutin_id=scrutin_id, voter_identifier=voter_identifier, voted_at=now))
            session.flush()
            session.add(
                Ballot(
                    id=uuid.uuid4(),
                    scrutin_id=scrutin_id,
                    candidate_list_id=candidate_list_id,
                    receipt=receipt,
                    mixed=False,
                )
            )
            record(session, "ballot.cast", subject=subject, scrutin=scrutin.code)
    except IntegrityError:
        if has_voted(database, scrutin_id, voter_identifier):
            raise AlreadyVoted from None
        raise
    return CastResult(receipt)


def has_voted(database: Database, scrutin_id: int, voter_identifier: str) -> bool:
    with database.reader() as session:
        row = session.execute(
            select(Emargement.voted_at).where(
                Emargement.scrutin_id == scrutin_id, Emargement.voter_identifier == voter_identifier
            )
        ).first()
        session.rollback()
    return row is not None
