"""The tally of a large encrypted ballot box, with the trustees' steps simulated: ``portal election tally``'s two
passes around ``portal trustee decrypt``, on one machine.

A throw-away portal database (SQLite, or PostgreSQL with ``--postgres``) gets one closed scrutin of ``--lists``
lists, a demo key ceremony (3 trustees, 2 needed, their files in a temporary folder), ``--ballots`` voters on the
roll, each with an émargement and a ballot. The ballots are real ciphertexts of a known choice, drawn from pools of
encryptions made beforehand (encrypting each of 500,000 ballots would take longer than the tally itself, and the
tally never reads the proofs, which the portal checked at casting); their proofs are placeholders, their tracking
codes are the real ones. Then, timed: the aggregate (the box read and added up, per option), two trustees' partial
decryptions with their proofs, and the final pass (proofs checked, shares combined, totals found), and the totals
are compared with the choices made. The trustees' step includes what each does before decrypting: the election
record is written once (as ``portal election tally --record`` does) and each trustee recounts the box from it
(:mod:`relying_party.ceremony.recount`); trustees work on their own machines at the same time, so the tally waits
for the slowest one.

    .venv/bin/python -m benchmarks.ballot_tally --ballots 500000 --lists 10 [--postgres URL] [--no-compare]

Before the tally, the same box is added up with libsodium alone (the figure before libdecaf), in the same run, and
both sums are compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert, select, update

from benchmarks.portal_ballot import postgres_url
from relying_party.ceremony import demo
from relying_party.ceremony.trustee import decrypt
from relying_party.db import Database
from relying_party.elections.importer import import_document
from relying_party.elections.record import election_record
from relying_party.elections.tally import aggregate_box, tally
from relying_party.migrate import upgrade
from relying_party.models import Ballot, Emargement, RollEntry, Scrutin, utcnow
from relying_party.voting.election import election_info
from votecrypto import group as g
from votecrypto.ballot import tracking_code

POOL = 128
BATCH = 5000


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as directory:
        yield f"sqlite:///{Path(directory) / 'portal.sqlite3'}"


def _pools(key: bytes, options: int) -> list[list[list[bytes]]]:
    """For each option, POOL encryptions of 0 and POOL of 1 (``α‖β``)."""
    pools = []
    for _ in range(options):
        per_value = []
        for m in (0, 1):
            made = []
            for _ in range(POOL):
                r = g.random_scalar()
                beta = g.mul(r, key)
                made.append(g.mul_base(r) + (g.add(beta, g.BASE) if m else beta))
            per_value.append(made)
        pools.append(per_value)
    return pools


def populate(database: Database, ballots: int, lists: int, folder: Path) -> tuple[list[int], float]:
    """The scrutin, its key, its roll, émargements and ballots; returns the choices' counts and the seconds taken."""
    started = time.perf_counter()
    now = utcnow()
    document = {
        "scrutins": [
            {
                "code": "BENCH",
                "label": "Scrutin de mesure",
                "kind": "csa_ministeriel",
                "opens_at": (now - dt.timedelta(days=2)).isoformat(),
                "closes_at": (now + dt.timedelta(days=1)).isoformat(),
                "lists": [
                    {
                        "position": p,
                        "organisation": f"Liste {p}",
                        "candidates": [{"civility": "Mme", "family_name": "X", "given_name": "Y"}],
                    }
                    for p in range(1, lists + 1)
                ],
                "roll": [{"identifier": "bench.0@ac-exemple.fr", "display_name": "M. BENCH 0"}],
            }
        ]
    }
    report = import_document(database, document, Path("."), max_pdf_bytes=1)
    assert report.ok, report.errors
    demo.ensure_demo_ceremony(database, folder, ["BENCH"], now)
    with database.reader() as session:
        scrutin = session.execute(select(Scrutin).where(Scrutin.code == "BENCH")).scalar_one()
        info = election_info(session, scrutin)
        assert info is not None
        scrutin_id = scrutin.id
    options = lists + 1
    pools = _pools(info.key, options)
    counts = [0] * options
    placeholder = bytes(32 + 128 * options + 64)
    for start in range(0, ballots, BATCH):
        rolls, marks, rows = [], [], []
        for n in range(start, min(start + BATCH, ballots)):
            choice = (n * 7919) % options
            counts[choice] += 1
            voter = f"bench.{n}@ac-exemple.fr"
            if n:
                rolls.append({"scrutin_id": scrutin_id, "voter_identifier": voter, "display_name": f"M. BENCH {n}"})
            marks.append({"scrutin_id": scrutin_id, "voter_identifier": voter, "voted_at": now})
            # Each option's encryption picked by a byte of a digest of n: 128^options combinations, so no two
            # ballots share their ciphertexts (the box's key is their tracking code).
            picks = hashlib.sha512(n.to_bytes(8, "big")).digest()
            ciphertexts = b"".join(pools[i][1 if i == choice else 0][picks[i] % POOL] for i in range(options))
            rows.append(
                {
                    "tracking_code": tracking_code(info.hash, ciphertexts),
                    "scrutin_id": scrutin_id,
                    "ciphertexts": ciphertexts,
                    "proofs": placeholder,
                    "mixed": True,
                }
            )
        with database.transaction() as session:
            if rolls:
                session.execute(insert(RollEntry), rolls)
            session.execute(insert(Emargement), marks)
            session.execute(insert(Ballot), rows)
    with database.transaction() as session:
        session.execute(
            update(Scrutin).where(Scrutin.id == scrutin_id).values(closes_at=utcnow() - dt.timedelta(seconds=1))
        )
    return counts, time.perf_counter() - started


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the aggregate's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(url: str, ballots: int, lists: int, compare: bool) -> None:
    database = Database(url)
    upgrade(database.engine)
    with tempfile.TemporaryDirectory(prefix="portal-bench-keys-") as keys:
        folder = Path(keys)
        counts, setup = populate(database, ballots, lists, folder)
        print(f"set-up (not timed as tally): {setup:.1f} s for {ballots} ballots of {lists} lists + blank")
        if compare:
            with database.reader() as session:
                scrutin_id = session.execute(select(Scrutin.id).where(Scrutin.code == "BENCH")).scalar_one()
                session.rollback()
            started, cpu = time.perf_counter(), _cpu()
            before, _ = aggregate_box(database, scrutin_id, lists + 1, use_decaf=False)
            print(
                f"aggregate with libsodium (before)      {time.perf_counter() - started:>8.1f} s   "
                f"CPU {_cpu() - cpu:.1f} s (not stored; the tally below adds up with libdecaf)"
            )
        started, cpu = time.perf_counter(), _cpu()
        _, request = tally(database, "BENCH", utcnow())
        aggregate_sums = [(bytes.fromhex(c["alpha"]), bytes.fromhex(c["beta"])) for c in request["aggregate"]]
        aggregate, aggregate_cpu = time.perf_counter() - started, _cpu() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        record = folder / "dossier.jsonl"
        with record.open("wb") as handle:
            handle.writelines(election_record(database, "BENCH"))
        exported, exported_cpu = time.perf_counter() - started, time.process_time() - cpu
        partials, each, each_cpu = [], [], []
        for index in (1, 3):
            started, cpu = time.perf_counter(), time.process_time()
            with record.open("rb") as lines:
                partial, summary = decrypt(request, demo.key_file(folder, index), demo.PASSPHRASE, lines)
            each.append(time.perf_counter() - started)
            each_cpu.append(time.process_time() - cpu)
            assert summary.ballots == ballots
            partials.append(partial)
        # Each trustee works on their own machine, at the same time: the tally waits for the slowest.
        trustees = max(each)
        started = time.perf_counter()
        state, _ = tally(database, "BENCH", utcnow(), partials=partials)
        final = time.perf_counter() - started
        record_bytes = record.stat().st_size
    database.dispose()
    assert state.lines is not None
    found = [line.votes for line in state.lines]
    assert found == counts, (found, counts)
    if compare:
        assert before == aggregate_sums, "libsodium and libdecaf add up to different sums"
    total = aggregate + exported + trustees + final
    print(
        f"aggregate (box read and added up)      {aggregate:>8.1f} s   {ballots / aggregate:>9.0f} ballots/s   "
        f"CPU {aggregate_cpu:.1f} s over {os.cpu_count()} core(s)"
    )
    print(
        f"election record written for trustees   {exported:>8.1f} s   ({record_bytes / 1e6:.0f} MB; "
        f"CPU {exported_cpu:.1f} s)"
    )
    print(
        f"two trustees' partial decryptions      {trustees:>8.1f} s   (each on their machine: the box recounted "
        f"from the record, argon2id of their files; {' and '.join(f'{t:.1f}' for t in each)} s, "
        f"CPU {' and '.join(f'{t:.1f}' for t in each_cpu)} s)"
    )
    print(f"proofs checked, combined, totals found {final:>8.1f} s")
    print(f"tally of {ballots} ballots: {total:.1f} s (goal ≤ 300 s); totals match the choices made: {found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=500_000)
    parser.add_argument("--lists", type=int, default=10)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a throw-away database is created)")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the aggregate with libsodium (the figure before libdecaf)"
    )
    args = parser.parse_args()
    if args.postgres:
        with postgres_url(args.postgres) as url:
            run(url, args.ballots, args.lists, not args.no_compare)
    else:
        with sqlite_url() as url:
            run(url, args.ballots, args.lists, not args.no_compare)


if __name__ == "__main__":
    main()
