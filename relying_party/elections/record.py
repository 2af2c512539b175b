"""The election record of a scrutin: everything needed to verify its tally, as JSON lines (one item per line).

Anyone may download it from the scrutin's public board after the tally (or get it with ``portal election record``)
and check it with ``tools/verify_election_record.py``, which imports nothing of the project. Each line is the
canonical JSON of one item (keys sorted, no spaces, UTF-8), in this order:

1. ``{"type": "election", "election_hash": …, "manifest": {…}}`` — the manifest (scrutin, options, ceremony with
   each trustee's commitments and proofs, election key); its hash binds every proof below;
2. ``{"type": "ballot", "tracking_code": …, "ballot": {…}}`` — every ballot of the box, ordered by tracking code;
3. ``{"type": "aggregate", "ballots": n, "emargements": m, "choices": [{"alpha", "beta"}, …]}``;
4. ``{"type": "partial_decryption", "trustee": i, "shares": [{"share", "c", "z"}, …]}`` — one per trustee whose
   decryption was received, by index;
5. ``{"type": "result", "totals": [{"name", "position", "votes"}, …]}`` — the lists in ballot order, then blank.

The record is documented in the docs (auditors, "The election record"), with the checks the verifier makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relying_party.db import Database
from relying_party.elections.tally import partials_of
from relying_party.models import Ballot, PartialDecryption, Scrutin, Tally
from relying_party.voting.election import election_info
from votecrypto.ballot import Ballot as EncryptedBallot
from votecrypto.election import canonical_json

BATCH = 2000


class RecordUnavailable(Exception):
    pass


def _line(item: dict[str, object]) -> bytes:
    return canonical_json(item) + b"\n"


def election_record(database: Database, code: str) -> Iterator[bytes]:
    """The record's lines (bytes, newline-terminated), streamed: the box is read in batches."""
    with database.reader() as session:
        scrutin = session.execute(
            select(Scrutin).where(Scrutin.code == code).options(selectinload(Scrutin.lists))
        ).scalar_one_or_none()
        if scrutin is None:
            raise RecordUnavailable(f"Scrutin inconnu : {code}")
        info = election_info(session, scrutin)
        stored = session.get(Tally, scrutin.id)
        if info is None or stored is None:
            raise RecordUnavailable(f"Le scrutin {code} n'est pas encore dépouillé.")
        partials = partials_of(session, scrutin.id)
        scrutin_id = scrutin.id
        session.expunge_all()
        session.rollback()
    return _lines(database, scrutin_id, info.manifest.to_json(), info.hash, stored, list(partials))


def _lines(
    database: Database,
    scrutin_id: int,
    manifest: dict[str, object],
    election: bytes,
    stored: Tally,
    partials: list[PartialDecryption],
) -> Iterator[bytes]:
    yield _line({"election_hash": election.hex(), "manifest": manifest, "type": "election"})
    with database.reader() as session:
        rows = session.execute(
            select(Ballot.tracking_code, Ballot.ciphertexts, Ballot.proofs)
            .where(Ballot.scrutin_id == scrutin_id)
            .order_by(Ballot.tracking_code)
            .execution_options(yield_per=BATCH)
        )
        for code, ciphertexts, proofs in rows:
            ballot = EncryptedBallot.from_parts(election, bytes(ciphertexts), bytes(proofs))
            yield _line({"ballot": ballot.to_json(), "tracking_code": bytes(code).hex(), "type": "ballot"})
        session.rollback()
    raw = stored.aggregate
    yield _line(
        {
            "ballots": stored.ballots,
            "choices": [
                {"alpha": raw[i : i + 32].hex(), "beta": raw[i + 32 : i + 64].hex()} for i in range(0, len(raw), 64)
            ],
            "emargements": stored.emargements,
            "type": "aggregate",
        }
    )
    for partial in partials:
        shares = [
            {
                "c": partial.proofs[2 * i : 2 * i + 32].hex(),
                "share": partial.shares[i : i + 32].hex(),
                "z": partial.proofs[2 * i + 32 : 2 * i + 64].hex(),
            }
            for i in range(0, len(partial.shares), 32)
        ]
        yield _line({"shares": shares, "trustee": partial.trustee, "type": "partial_decryption"})
    if stored.result is not None:
        yield _line({"totals": json.loads(stored.result), "type": "result"})
