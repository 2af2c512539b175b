"""``portal election tally SCRUTIN``: after the closing, the homomorphic aggregate of the box, decrypted by k trustees.

No ballot is ever decrypted. The ballot box is mixed first (:mod:`relying_party.voting.mixing`), then the
ciphertexts of every option are added up (``(Σα, Σβ)``, an encryption of the option's total) and kept with the
numbers of ballots and émargements — written in one transaction with each vote, so a difference means the database
was tampered with, and the tally says so. Each trustee, on their own machine, computes a partial decryption of the
aggregate with a proof (``portal trustee decrypt``); the portal checks each proof against the trustee's public share
and, with k of them, recovers every total (:mod:`votecrypto.threshold`). The result and its ``tally.run`` audit
event are written in one transaction.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from relying_party.audit import record
from relying_party.ceremony import files
from relying_party.db import Database
from relying_party.elections.timefmt import format_instant
from relying_party.models import Ballot, Emargement, KeyCeremony, PartialDecryption, Scrutin, Tally
from relying_party.voting.election import ElectionInfo, election_info
from relying_party.voting.mixing import mix
from votecrypto import group as g
from votecrypto.aggregate import CiphertextSums
from votecrypto.election import BLANK
from votecrypto.proofs import EqualLogs, ProofError
from votecrypto.threshold import PartialDecryption as Partial
from votecrypto.threshold import ThresholdError, combine_partials, discrete_log, public_share, verify_partial

#: Ballots read per round trip while the aggregate is computed.
BATCH = 2000
#: From this many ballots, the aggregate is computed by several processes.
PARALLEL_FROM = 20_000


class TallyRefused(Exception):
    pass


@dataclass(frozen=True)
class TallyLine:
    position: int | None
    name: str
    votes: int


@dataclass(frozen=True)
class TallyState:
    code: str
    label: str
    closes_at: dt.datetime
    ballots: int
    emargements: int
    threshold: int
    trustees: list[int]
    lines: list[TallyLine] | None

    @property
    def consistent(self) -> bool:
        return self.ballots == self.emargements

    @property
    def blank(self) -> int | None:
        return None if self.lines is None else self.lines[-1].votes

    def render(self) -> str:
        out = [
            f"Scrutin {self.code} — {self.label}",
            f"Clos le {format_instant(self.closes_at)} (Heure de Paris)",
            f"Émargements : {self.emargements}",
            f"Bulletins dans l'urne : {self.ballots}",
            "",
        ]
        if self.lines is None:
            got = ", ".join(map(str, self.trustees)) or "aucun"
            out.append(
                f"En attente des garants : {len(self.trustees)} déchiffrement(s) partiel(s) sur {self.threshold} "
                f"requis (reçus : {got}). Remettez-leur la demande (--request FICHIER) puis importez leurs "
                "fichiers (--partial FICHIER)."
            )
        else:
            width = max(len(line.name) for line in self.lines)
            for line in self.lines:
                position = f"{line.position:>2}." if line.position is not None else "   "
                out.append(f"  {position} {line.name:<{width}}  {line.votes:>8}")
        if not self.consistent:
            out += ["", "ATTENTION : le nombre de bulletins diffère du nombre d'émargements."]
        return "\n".join(out)


def _load(database: Database, code: str, now: dt.datetime) -> tuple[Scrutin, ElectionInfo, KeyCeremony]:
    with database.reader() as session:
        scrutin = session.execute(
            select(Scrutin).where(Scrutin.code == code).options(selectinload(Scrutin.lists))
        ).scalar_one_or_none()
        if scrutin is None:
            raise TallyRefused(f"Scrutin inconnu : {code}")
        if now < scrutin.closes_at:
            raise TallyRefused(
                f"Le scrutin {code} n'est pas clos : le dépouillement est possible après le "
                f"{format_instant(scrutin.closes_at)} (Heure de Paris)."
            )
        info = election_info(session, scrutin)
        if info is None:
            raise TallyRefused(f"Le scrutin {code} n'a pas de clé d'élection : il n'a reçu aucun bulletin.")
        ceremony = session.execute(
            select(KeyCeremony)
            .where(KeyCeremony.id == scrutin.key_ceremony_id)
            .options(selectinload(KeyCeremony.trustees))
        ).scalar_one()
        session.expunge_all()
        session.rollback()
    return scrutin, info, ceremony


def aggregate_box(
    database: Database,
    scrutin_id: int,
    options: int,
    *,
    workers: int | None = None,
    min_parallel: int = PARALLEL_FROM,
    use_decaf: bool | None = None,
) -> tuple[list[tuple[bytes, bytes]], int]:
    """``(Σα, Σβ)`` per option over every ballot of the scrutin, and the number of ballots.

    A large box is split by tracking code into ranges added up by ``workers`` processes (default: one per core),
    each with its own connection; the partial sums are then added. Adding up costs a decoding per point (2 per
    option and ballot, about 7 µs each with libdecaf: :mod:`votecrypto.aggregate`): the cores are worth using.
    ``use_decaf`` False adds up with libsodium (the benchmark's figure before libdecaf).
    """
    with database.reader() as session:
        count = session.execute(
            select(func.count()).select_from(Ballot).where(Ballot.scrutin_id == scrutin_id)
        ).scalar_one()
        session.rollback()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or count < min_parallel:
        return _sum_range(database.url, scrutin_id, options, None, None, use_decaf, database)
    bounds: list[bytes | None] = [None] + [bytes([256 * i // workers]) for i in range(1, workers)] + [None]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = list(
            pool.map(
                _sum_range,
                [database.url] * workers,
                [scrutin_id] * workers,
                [options] * workers,
                bounds[:-1],
                bounds[1:],
                [use_decaf] * workers,
            )
        )
    alphas = [g.IDENTITY] * options
    betas = [g.IDENTITY] * options
    total = 0
    for sums, counted in parts:
        for i, (alpha, beta) in enumerate(sums):
            alphas[i], betas[i] = g.add(alphas[i], alpha), g.add(betas[i], beta)
        total += counted
    return list(zip(alphas, betas, strict=True)), total


def _sum_range(
    url: str,
    scrutin_id: int,
    options: int,
    low: bytes | None,
    high: bytes | None,
    use_decaf: bool | None = None,
    database: Database | None = None,
) -> tuple[list[tuple[bytes, bytes]], int]:
    """The sums over the ballots whose tracking code is in ``[low, high)`` (a worker process opens its own engine)."""
    own = database is None
    db = database if database is not None else Database(url)
    sums = CiphertextSums(options, use_decaf=use_decaf)
    query = select(Ballot.ciphertexts).where(Ballot.scrutin_id == scrutin_id)
    if low is not None:
        query = query.where(Ballot.tracking_code >= low)
    if high is not None:
        query = query.where(Ballot.tracking_code < high)
    try:
        with db.reader() as session:
            for ciphertexts in session.execute(query.execution_options(yield_per=BATCH)).scalars():
                try:
                    sums.add(bytes(ciphertexts))
                except g.GroupError:
                    raise TallyRefused(
                        "Un bulletin de l'urne n'a pas le nombre d'options du scrutin ou n'est pas un chiffré "
                        "valide : l'urne est altérée."
                    ) from None
            session.rollback()
    finally:
        if own:
            db.dispose()
    return sums.sums(), sums.count


def _points(raw: bytes) -> tuple[bytes, ...]:
    return tuple(raw[i : i + 32] for i in range(0, len(raw), 32))


def _aggregate(stored: Tally) -> list[tuple[bytes, bytes]]:
    raw = stored.aggregate
    return [(raw[i : i + 32], raw[i + 32 : i + 64]) for i in range(0, len(raw), 64)]


def decryption_request(scrutin: Scrutin, info: ElectionInfo, ceremony: KeyCeremony, stored: Tally) -> dict[str, Any]:
    return {
        "type": "decryption-request",
        "ceremony": ceremony.uid.hex(),
        "scrutin": scrutin.code,
        "election": info.hash.hex(),
        "ballots": stored.ballots,
        "aggregate": [{"alpha": a.hex(), "beta": b.hex()} for a, b in _aggregate(stored)],
    }


def parse_partial(document: dict[str, Any], info: ElectionInfo, scrutin: Scrutin) -> Partial:
    if document.get("type") != "partial-decryption":
        raise TallyRefused("Ce fichier n'est pas un déchiffrement partiel.")
    if document.get("scrutin") != scrutin.code or document.get("election") != info.hash.hex():
        raise TallyRefused(
            f"Ce déchiffrement partiel concerne un autre scrutin ou une autre élection que {scrutin.code}."
        )
    trustee = document.get("trustee")
    shares = document.get("shares")
    if not isinstance(trustee, int) or not isinstance(shares, list) or len(shares) != info.options:
        raise TallyRefused("Déchiffrement partiel incomplet (garant, une part par option).")
    try:
        return Partial(
            trustee,
            tuple(files.point(s.get("share"), "shares.share") for s in shares),
            tuple(
                EqualLogs(files.scalar(s.get("c"), "shares.c"), files.scalar(s.get("z"), "shares.z")) for s in shares
            ),
        )
    except (files.CeremonyFileError, AttributeError) as exc:
        raise TallyRefused(f"Déchiffrement partiel illisible : {exc}") from None


def tally(
    database: Database, code: str, now: dt.datetime, *, partials: Sequence[dict[str, Any]] = ()
) -> tuple[TallyState, dict[str, Any]]:
    """Aggregate (once), check and keep the given partial decryptions, and decrypt the totals once k are in.

    Returns the state and the decryption request to hand to the trustees.
    """
    scrutin, info, ceremony = _load(database, code, now)
    with database.reader() as session:
        stored = session.get(Tally, scrutin.id)
        session.expunge_all()
        session.rollback()
    if stored is None:
        mix(database, scrutin_id=scrutin.id)
        sums, count = aggregate_box(database, scrutin.id, info.options)
        with database.transaction() as session:
            emargements = session.execute(
                select(func.count()).select_from(Emargement).where(Emargement.scrutin_id == scrutin.id)
            ).scalar_one()
            stored = Tally(
                scrutin_id=scrutin.id,
                election=info.hash,
                aggregate=b"".join(a + b for a, b in sums),
                ballots=count,
                emargements=int(emargements),
                computed_at=now,
            )
            session.add(stored)
            record(session, "tally.aggregated", scrutin=code, ballots=count, emargements=int(emargements))
    if stored.election != info.hash:
        raise TallyRefused("L'agrégat enregistré appartient à une autre version de l'élection : l'urne est altérée.")
    alphas = [a for a, _ in _aggregate(stored)]
    commitments = [_points(t.commitments or b"") for t in ceremony.trustees]
    for document in partials:
        partial = parse_partial(document, info, scrutin)
        if not 1 <= partial.trustee <= ceremony.trustee_count:
            raise TallyRefused(f"Garant inconnu : {partial.trustee}")
        try:
            verify_partial(info.hash, partial, public_share(commitments, partial.trustee), alphas)
        except (ProofError, ThresholdError, g.GroupError):
            raise TallyRefused(
                f"Le déchiffrement partiel du garant n° {partial.trustee} est faux : sa preuve ne tient pas."
            ) from None
        with database.transaction() as session:
            if session.get(PartialDecryption, (scrutin.id, partial.trustee)) is None:
                session.add(
                    PartialDecryption(
                        scrutin_id=scrutin.id,
                        trustee=partial.trustee,
                        shares=b"".join(partial.shares),
                        proofs=b"".join(p.challenge + p.response for p in partial.proofs),
                        received_at=now,
                    )
                )
                record(session, "tally.partial_received", scrutin=code, trustee=partial.trustee)
    with database.transaction() as session:
        stored = session.get(Tally, scrutin.id)
        assert stored is not None
        rows = partials_of(session, scrutin.id)
        received = [row.trustee for row in rows]
        if stored.result is None and len(rows) >= ceremony.threshold:
            totals = decrypt_totals(stored, rows, ceremony.threshold)
            names = [name for _, name in info.manifest.lists] + [BLANK]
            positions: list[int | None] = [p for p, _ in info.manifest.lists] + [None]
            stored.result = json.dumps(
                [{"position": p, "name": n, "votes": v} for p, n, v in zip(positions, names, totals, strict=True)],
                ensure_ascii=False,
            )
            stored.decrypted_at = now
            record(
                session,
                "tally.run",
                scrutin=code,
                ballots=stored.ballots,
                emargements=stored.emargements,
                blank=totals[-1],
                votes={str(p): v for p, v in zip(positions[:-1], totals[:-1], strict=True)},
                consistent=stored.ballots == stored.emargements,
                trustees=received,
            )
        lines = [TallyLine(**line) for line in json.loads(stored.result)] if stored.result else None
        state = TallyState(
            code=code,
            label=scrutin.label,
            closes_at=scrutin.closes_at,
            ballots=stored.ballots,
            emargements=stored.emargements,
            threshold=ceremony.threshold,
            trustees=received,
            lines=lines,
        )
        request = decryption_request(scrutin, info, ceremony, stored)
    return state, request


def partials_of(session: Session, scrutin_id: int) -> list[PartialDecryption]:
    """The trustees' partial decryptions received for a scrutin, in trustee order (the tally and the record)."""
    query = select(PartialDecryption).where(PartialDecryption.scrutin_id == scrutin_id)
    return list(session.execute(query.order_by(PartialDecryption.trustee)).scalars())


def decrypt_totals(stored: Tally, rows: Sequence[PartialDecryption], threshold: int) -> list[int]:
    sums = _aggregate(stored)
    partials = [
        Partial(
            row.trustee,
            tuple(row.shares[i : i + 32] for i in range(0, len(row.shares), 32)),
            tuple(
                EqualLogs(row.proofs[i : i + 32], row.proofs[i + 32 : i + 64]) for i in range(0, len(row.proofs), 64)
            ),
        )
        for row in rows
    ]
    combined = combine_partials(partials, threshold, len(sums))
    try:
        return [discrete_log(g.sub(beta, xa), stored.ballots) for (_, beta), xa in zip(sums, combined, strict=True)]
    except ThresholdError:
        raise TallyRefused("Les déchiffrements partiels ne donnent pas de total plausible.") from None
