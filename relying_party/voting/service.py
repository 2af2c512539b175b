"""Casting an encrypted ballot: the proofs checked, then the émargement and the ciphertexts in one transaction, one
vote per voter enforced by the database.

The browser encrypted the choice (``frontend/ballot/``); the server never sees it. It checks the ballot's proofs
against the scrutin's election (its key and options) and, from the web, against the nonce of the voter's session —
before it opens the transaction, so that no lock is held while it computes. Then the émargement row is inserted
first: a second submission for the same voter and scrutin (double click, two tabs, fifty concurrent requests) fails
on its primary key inside the database, its transaction is rolled back with its ballot, and the voter is told the
vote is already recorded. The ballot row holds the ciphertexts and proofs under their tracking code; a copy of
ciphertexts already in the box fails on that primary key.

The ``ballot.cast`` audit event is appended last in the same transaction: it exists if and only if the vote does.
It names the scrutin and the voter's keyed pseudonym, like the émargement names the voter; it holds neither the
ballot nor its tracking code.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hashchain.append import PipelinedWrite, pipeline
from relying_party import metrics
from relying_party.audit import queue_record, voter_reference
from relying_party.db import Database
from relying_party.models import Ballot, Emargement, RollEntry, Scrutin
from relying_party.voting import receipts
from relying_party.voting.election import ElectionInfo, election_info
from votecrypto.ballot import Ballot as EncryptedBallot
from votecrypto.ballot import BallotRejected, tracking_code, verify_ballot

#: What the voter reads when a ballot is refused, by reason (votecrypto's codes and the box's own).
REFUSALS = {
    "malformed": "Le bulletin reçu est illisible ou incomplet.",
    "wrong_election": "Ce bulletin a été préparé pour un autre scrutin ou une autre clé d'élection.",
    "wrong_nonce": "Ce bulletin n'a pas été préparé sur votre page de vote, ou celle-ci a expiré.",
    "zero_or_one": "La preuve qu'une liste reçoit zéro ou une voix est invalide.",
    "exactly_one": "La preuve que le bulletin porte exactement un choix (une liste ou le vote blanc) est invalide.",
    "duplicate": "Ce bulletin chiffré est déjà dans l'urne : un même bulletin ne peut pas être déposé deux fois.",
}
NOTHING_RECORDED = "Aucun bulletin n'a été enregistré : vous pouvez voter depuis la page du bulletin."
NO_KEY = (
    "Ce scrutin ne peut pas encore recevoir de bulletins : la clé de l'élection n'a pas été générée par les "
    "garants du bureau de vote."
)


class VoteRefused(Exception):
    """No ballot was accepted; ``message`` is what the voter reads."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


class AlreadyVoted(VoteRefused):
    def __init__(self) -> None:
        super().__init__("already_voted", "Votre vote a déjà été enregistré pour ce scrutin.")


def rejected(reason: str) -> VoteRefused:
    return VoteRefused(reason, f"Votre bulletin a été refusé. {REFUSALS[reason]} {NOTHING_RECORDED}")


def not_open(scrutin: Scrutin, now: dt.datetime) -> VoteRefused | None:
    return outside_window(scrutin.opens_at, scrutin.closes_at, now)


def outside_window(opens_at: dt.datetime, closes_at: dt.datetime, now: dt.datetime) -> VoteRefused | None:
    """Why no ballot can be cast at ``now`` in a scrutin open from ``opens_at`` to ``closes_at`` (None: it can)."""
    if now < opens_at:
        return VoteRefused(
            "not_yet_open",
            "Le vote pour ce scrutin n'est pas encore ouvert : aucun bulletin ne peut être déposé avant l'ouverture.",
        )
    if now >= closes_at:
        return VoteRefused("closed", "Le vote pour ce scrutin est clos : aucun bulletin ne peut plus être déposé.")
    return None


#: The statements of a cast, built once (building a statement costs more than running it on the loaded test machine).
_WINDOW_AND_ROLL = (
    select(Scrutin.code, Scrutin.opens_at, Scrutin.closes_at, RollEntry.id)
    .outerjoin(
        RollEntry,
        (RollEntry.scrutin_id == Scrutin.id) & (RollEntry.voter_identifier == bindparam("voter")),
    )
    .where(Scrutin.id == bindparam("scrutin"))
)


#: The module :mod:`hashchain.append` (the package exports its function under the same name): its ``send`` is looked
#: up at each call, where the tests and the benchmarks count the statements sent in a pipeline.
_APPEND = importlib.import_module("hashchain.append")
_READS: dict[Engine, tuple[str, list[Callable[[Any], Any] | None]]] = {}


def _window_and_roll(session: Session, driver: Any, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """:data:`_WINDOW_AND_ROLL`'s row, read in the cast's transaction. On psycopg (``driver``: the pipeline
    :func:`hashchain.append.pipeline` yields) the ``SELECT`` travels with the transaction's ``BEGIN``, which psycopg
    otherwise sends as a round trip of its own; each value goes through its column's result processor (aware UTC
    instants). Elsewhere through the session."""
    if driver is None:
        found = session.execute(_WINDOW_AND_ROLL, dict(params)).first()
        return None if found is None else tuple(found)
    engine = session.connection().engine
    compiled = _READS.get(engine)
    if compiled is None:
        dialect = engine.dialect
        made: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in _WINDOW_AND_ROLL.selected_columns
        ]
        compiled = _READS[engine] = (str(_WINDOW_AND_ROLL.compile(dialect=dialect)), made)
    sql, processors = compiled
    cursor = driver.cursor()
    _APPEND.send(cursor, sql, params)
    row = cursor.fetchone()  # in pipeline mode: sent now, with the BEGIN queued before it
    if row is None:
        return None
    return tuple(value if process is None else process(value) for process, value in zip(processors, row, strict=True))


def _insert(model: type[Any], columns: tuple[str, ...]) -> PipelinedWrite:
    """An ``INSERT`` of ``columns`` compiled once per engine: queued on psycopg in the transaction's pipeline with the
    audit event, executed through SQLAlchemy elsewhere."""
    return PipelinedWrite(insert(model).values({name: bindparam(name) for name in columns}))


_EMARGEMENT_WRITE = _insert(Emargement, ("scrutin_id", "voter_identifier", "voted_at", "receipt"))
_BALLOT_WRITE = _insert(Ballot, ("tracking_code", "scrutin_id", "ciphertexts", "proofs", "mixed"))


@dataclass(frozen=True)
class CastResult:
    tracking_code: bytes


def cast_ballot(
    database: Database,
    *,
    scrutin_id: int,
    voter_identifier: str,
    ballot: EncryptedBallot,
    nonce: bytes | None,
    now: dt.datetime,
    receipt_key: bytes,
    voter_ref: str | None = None,
    info: ElectionInfo | None = None,
) -> CastResult:
    """Record the encrypted ``ballot`` of ``voter_identifier``.

    ``nonce``: the challenge of the voter's session the ballot must be bound to (None only for callers without a
    session — tests, benchmarks — which still get every proof checked against the nonce the ballot carries).
    ``voter_ref`` is the voter's audit pseudonym; by default it is computed with the database's audit key.
    ``info``: the scrutin's election, if the caller has it (a request computes it with its own read session, so
    that it never holds two connections at once); otherwise it is read here.
    """
    if info is None:
        with database.reader() as session:
            scrutin = session.execute(
                select(Scrutin).where(Scrutin.id == scrutin_id).options(selectinload(Scrutin.lists))
            ).scalar_one_or_none()
            if scrutin is None:
                raise VoteRefused("unknown_scrutin", "Ce scrutin n'existe pas.")
            info = election_info(session, scrutin)
            session.rollback()
    if info is None:
        raise VoteRefused("no_key", NO_KEY)
    try:
        verify_ballot(
            ballot,
            key=info.key,
            election=info.hash,
            options=info.options,
            nonce=nonce,
            proof_format=info.proof_format,
        )
    except BallotRejected as exc:
        raise rejected(exc.reason) from None
    ciphertexts = ballot.ciphertexts()
    code = tracking_code(info.hash, ciphertexts)
    subject = voter_ref or voter_reference(voter_identifier, database.audit_key)
    try:
        with database.transaction() as session:
            with pipeline(session) as driver:
                # The scrutin's window and the voter's roll entry, read in the transaction, in one statement (on
                # PostgreSQL in one round trip with the transaction's BEGIN).
                found = _window_and_roll(session, driver, {"scrutin": scrutin_id, "voter": voter_identifier})
                assert found is not None
                scrutin_code, opens_at, closes_at, on_roll = found
                refusal = outside_window(opens_at, closes_at, now)
                if refusal is not None:
                    raise refusal
                if on_roll is None:
                    raise VoteRefused("not_on_roll", "Vous ne figurez pas sur la liste électorale de ce scrutin.")
                # Core inserts on the transaction's connection (no ORM objects to track: nothing reads them back),
                # the émargement first: a second vote fails on its primary key before its ballot is written, and
                # before the audit event takes a chain. On PostgreSQL the two inserts and the event travel in one
                # round trip (psycopg's pipeline, in that order: the database runs them one after the other).
                emargement = {
                    "scrutin_id": scrutin_id,
                    "voter_identifier": voter_identifier,
                    "voted_at": now,
                    "receipt": receipts.seal(receipt_key, scrutin_id, voter_identifier, code),
                }
                box = {
                    "tracking_code": code,
                    "scrutin_id": scrutin_id,
                    "ciphertexts": ciphertexts,
                    "proofs": ballot.proofs(),
                    "mixed": False,
                }
                _EMARGEMENT_WRITE.send(session, driver, emargement)
                _BALLOT_WRITE.send(session, driver, box)
                queued = queue_record(session, "ballot.cast", subject=subject, scrutin=scrutin_code)
            queued.result()
            metrics.ballot_cast(session)
    except IntegrityError:
        if has_voted(database, scrutin_id, voter_identifier):
            raise AlreadyVoted from None
        if _in_box(database, code):
            raise rejected("duplicate") from None
        raise
    return CastResult(code)


def _in_box(database: Database, code: bytes) -> bool:
    with database.reader() as session:
        found = session.execute(select(Ballot.tracking_code).where(Ballot.tracking_code == code)).first()
        session.rollback()
    return found is not None


def has_voted(database: Database, scrutin_id: int, voter_identifier: str) -> bool:
    with database.reader() as session:
        row = session.execute(
            select(Emargement.voted_at).where(
                Emargement.scrutin_id == scrutin_id, Emargement.voter_identifier == voter_identifier
            )
        ).first()
        session.rollback()
    return row is not None
