"""Ballots per second through ``relying_party.voting.service.cast_ballot`` (the proofs checked, then émargement +
encrypted ballot in one transaction), and the time ``portal election mix`` takes to re-write them.

One scrutin, ``--voters`` voters on its roll, each voting once, from 1, 4 and 16 threads, on a throw-away SQLite
file and, with ``--postgres``, on a throw-away PostgreSQL database (created on the server the URL names, dropped at
the end). The ballots are encrypted beforehand, as browsers would (:func:`votecrypto.encrypt_ballot`, 3 lists and
blank), to the key of a demo ceremony. Prints ballots per second, p50/p99 latency of one cast, then the mixing time
of the whole box.

    .venv/bin/python -m benchmarks.portal_ballot --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from relying_party.ceremony.demo import THROWAWAY, ensure_demo_ceremony
from relying_party.db import Database
from relying_party.elections.importer import import_document
from relying_party.migrate import upgrade
from relying_party.models import Scrutin, utcnow
from relying_party.voting.election import election_info
from relying_party.voting.mixing import mix
from relying_party.voting.receipts import receipt_key
from relying_party.voting.service import cast_ballot
from votecrypto import encrypt_ballot


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as directory:
        yield f"sqlite:///{Path(directory) / 'portal.sqlite3'}"


@contextmanager
def postgres_url(admin_url: str) -> Iterator[str]:
    name = f"portal_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, voters: int, threads: int) -> tuple[float, float, float, float]:
    database = Database(url)
    upgrade(database.engine)
    now = utcnow()
    roll = [{"identifier": f"bench.{n}@ac-exemple.fr", "display_name": f"M. BENCH {n}"} for n in range(voters)]
    document = {
        "scrutins": [
            {
                "code": "BENCH",
                "label": "Scrutin de mesure",
                "kind": "csa_academique",
                "opens_at": (now - dt.timedelta(days=1)).isoformat(),
                "closes_at": (now + dt.timedelta(days=1)).isoformat(),
                "lists": [
                    {
                        "position": p,
                        "organisation": f"Liste {p}",
                        "candidates": [{"civility": "Mme", "family_name": "X", "given_name": "Y"}],
                    }
                    for p in (1, 2, 3)
                ],
                "roll": roll,
            }
        ]
    }
    report = import_document(database, document, Path("."), max_pdf_bytes=1)
    assert report.ok, report.errors
    with tempfile.TemporaryDirectory(prefix="portal-bench-keys-") as keys:
        ensure_demo_ceremony(database, Path(keys), ["BENCH"], now, THROWAWAY)  # the files go at once
    with database.reader() as session:
        scrutin = session.get(
            Scrutin, session.execute(text("SELECT id FROM portal_scrutin WHERE code = 'BENCH'")).scalar_one()
        )
        assert scrutin is not None
        scrutin_id = scrutin.id
        info = election_info(session, scrutin)
        assert info is not None
    ballots = [
        encrypt_ballot(
            key=info.key,
            election=info.hash,
            nonce=n.to_bytes(32, "big"),
            options=info.options,
            choice=n % 4,
            proof_format=info.proof_format,
        )
        for n in range(voters)
    ]
    key = receipt_key({"SECRET_KEY": "benchmark"})
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        mine: list[float] = []
        for n in range(offset, voters, threads):
            started = time.perf_counter()
            cast_ballot(
                database,
                scrutin_id=scrutin_id,
                voter_identifier=f"bench.{n}@ac-exemple.fr",
                ballot=ballots[n],
                nonce=None,
                now=utcnow(),
                receipt_key=key,
            )
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    mix_started = time.perf_counter()
    mixed = mix(database)
    mix_seconds = time.perf_counter() - mix_started
    assert mixed == voters
    database.dispose()
    quantiles = statistics.quantiles(latencies, n=100)
    return voters / elapsed, quantiles[49] * 1000, quantiles[98] * 1000, mix_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a throw-away database is created)")
    args = parser.parse_args()
    backends = [("sqlite", sqlite_url)]
    if args.postgres:
        backends.append(("postgresql", lambda: postgres_url(args.postgres)))
    print(f"{'back end':<11} {'threads':>7} {'ballots/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'mix s':>7}")
    for name, make_url in backends:
        for threads in (1, 4, 16):
            with make_url() as url:
                rate, p50, p99, mix_seconds = run(url, args.voters, threads)
            print(f"{name:<11} {threads:>7} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f} {mix_seconds:>7.2f}")


if __name__ == "__main__":
    main()
