"""Mixing the ballot box ("brassage de l'urne"): breaking every link between a ballot and the moment it was cast.

A ballot and its émargement are written in one transaction, so on PostgreSQL both rows carry the same transaction id
(``xmin``, readable by any SQL user) and the ballot sits at the end of the heap, after those cast before it
(``ctid``). Mixing deletes the ballots not yet mixed and inserts them again, in random order, in transactions of
their own (batches of :data:`BATCH`): they then share one ``xmin`` per batch and their physical order says nothing
of the order of casting. The dead versions are invisible to SQL and reclaimed by VACUUM. On SQLite (``WITHOUT
ROWID``, keyed by the tracking code) no column orders ballots, but a page stores its cells in the order they were
written and the write-ahead log keeps each ballot's page next to its émargement's, frame after frame: mixing
rewrites the cells in random order, the deleted ones are zeroed (``secure_delete``), and the log is then
checkpointed and truncated to zero bytes.

Run it periodically while the election is open (``portal election mix``, e.g. every few minutes with
``--min-batch``), and it runs before every tally. Each scrutin mixed gets a ``ballots.mixed`` audit event in the
same transaction (how many ballots: the batch is public knowledge, its content is not in the event).
"""

from __future__ import annotations

import logging
import random
import threading

from sqlalchemy import delete, func, insert, select

from infra.worker import run_until_stopped
from relying_party.audit import record
from relying_party.db import Database
from relying_party.models import Ballot, Scrutin

logger = logging.getLogger(__name__)

_shuffle = random.SystemRandom().shuffle
#: Ballots rewritten per transaction (bounds the memory a mix of a large backlog takes).
BATCH = 5000


def mix(database: Database, *, scrutin_id: int | None = None, min_batch: int = 1) -> int:
    """Mix the unmixed ballots of each scrutin that has at least ``min_batch`` of them; return how many."""
    mixed = 0
    with database.transaction() as session:
        query = select(Ballot.scrutin_id, func.count()).where(Ballot.mixed.is_(False)).group_by(Ballot.scrutin_id)
        if scrutin_id is not None:
            query = query.where(Ballot.scrutin_id == scrutin_id)
        due = [(target, count) for target, count in session.execute(query).all() if count >= min_batch]
    for target, _ in due:
        while True:
            with database.transaction() as session:
                codes = (
                    session.execute(
                        select(Ballot.tracking_code)
                        .where(Ballot.scrutin_id == target, Ballot.mixed.is_(False))
                        .limit(BATCH)
                    )
                    .scalars()
                    .all()
                )
                if not codes:
                    break
                rows = session.execute(
                    delete(Ballot)
                    .where(Ballot.tracking_code.in_(codes))
                    .returning(Ballot.tracking_code, Ballot.ciphertexts, Ballot.proofs)
                ).all()
                batch = [
                    {
                        "tracking_code": code,
                        "scrutin_id": target,
                        "ciphertexts": ciphertexts,
                        "proofs": proofs,
                        "mixed": True,
                    }
                    for code, ciphertexts, proofs in rows
                ]
                _shuffle(batch)
                session.execute(insert(Ballot), batch)
                scrutin_code = session.execute(select(Scrutin.code).where(Scrutin.id == target)).scalar_one()
                record(session, "ballots.mixed", scrutin=scrutin_code, ballots=len(batch))
                mixed += len(batch)
    if mixed:
        database.truncate_wal()
    return mixed


def run_forever(
    database: Database,
    interval: float,
    *,
    scrutin_id: int | None = None,
    min_batch: int = 1,
    stop: threading.Event | None = None,
) -> None:
    """Mix every ``interval`` seconds until SIGTERM or SIGINT (or ``stop``), surviving every error of a round."""

    def round_(_stop: threading.Event) -> int:
        mixed = mix(database, scrutin_id=scrutin_id, min_batch=min_batch)
        if mixed:
            logger.info("ballot box: %s ballot(s) mixed", mixed)
        return int(mixed)

    run_until_stopped(round_, name="ballot box mixer", every=interval, stop=stop, job="portal_mixer")
