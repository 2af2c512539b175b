"""Throughput of ``idp.audit.record()`` (:func:`hashchain.append`) under concurrent writers: is there a global lock
in the sign-in path?

Each thread appends events in a loop, one transaction per event as a sign-in request does, for 1, 4 and 16 threads,
with ``IDP_AUDIT_CHAINS`` = 1 and 16, on a throw-away SQLite file and, with ``--postgres``, on a throw-away
PostgreSQL database (created on the server the URL names, dropped at the end: the benchmark never writes into an
existing audit log). It prints events per second, the p50/p99 latency of a whole transaction (begin to commit),
the CPU per event of this process (the Python side: SQLAlchemy, the driver, the append itself) and of the
database's backends (PostgreSQL only, read from ``/proc``), and how many transactions failed: an append neither
retries nor uses a savepoint (the transaction owns its chain), so a writer that lost a race for a chain head would
fail on the unique ``(chain, seq)`` index and be counted here.

``--hold-ms`` keeps each transaction open that long after the append, like the rest of a sign-in transaction: a
chain's head stays contended until commit, which is what several chains spread.

    .venv/bin/python -m benchmarks.audit_append --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

To measure another tree with this script, run it from that tree: ``cd <tree> && PYTHONPATH=. .venv/bin/python
<this tree>/benchmarks/audit_append.py …``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from idp.audit import record, verify
from idp.db import make_engine
from idp.migrate import upgrade
from idp.models import AuditEvent


@dataclass
class Result:
    events: int
    seconds: float
    latencies_ms: list[float]
    failed: int
    #: CPU seconds of this process and of the database's backends (None: not measured, SQLite) over the run.
    cpu: float = 0.0
    database_cpu: float | None = None

    def line(self, backend: str, chains: int, threads: int) -> str:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        events = max(self.events, 1)
        database = "-" if self.database_cpu is None else f"{self.database_cpu / events * 1e6:.0f}"
        return (
            f"{backend:10s} {chains:6d} {threads:7d} {self.events:7d} {self.events / self.seconds:9.0f} "
            f"{cuts[49]:8.2f} {cuts[98]:8.2f} {self.cpu / events * 1e6:8.0f} {database:>8s} {self.failed:6d}"
        )


def _backend_pids(engine: Engine) -> list[int]:
    """The PostgreSQL backends of ``engine``'s database (this benchmark's own, a scratch database)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            ).scalars()
        )


def _ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def run(engine: Engine, *, chains: int, threads: int, duration: float, hold: float) -> Result:
    factory = sessionmaker(engine, expire_on_commit=False)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    start_line = threading.Barrier(threads + 1)
    deadline: list[float] = []
    failures = [0] * threads

    def worker(index: int) -> None:
        mine = latencies[index]
        start_line.wait()
        end = deadline[0]
        while time.perf_counter() < end:
            begin = time.perf_counter()
            try:
                with factory() as session, session.begin():
                    record(
                        session, "login.succeeded", subject=uuid.uuid4().hex, chains=chains, acr="password", amr=["pwd"]
                    )
                    if hold:
                        time.sleep(hold)
            except IntegrityError:  # lost a race for a chain head: the request would fail; count it, go on
                failures[index] += 1
                continue
            mine.append((time.perf_counter() - begin) * 1000)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    pids = _backend_pids(engine)  # the pool's connections, all opened before the first run
    cpu, ticks = time.process_time(), _ticks(pids)
    started = time.perf_counter()
    deadline.append(started + duration)
    start_line.wait()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu, ticks = time.process_time() - cpu, _ticks(pids) - ticks
    samples = [value for per_thread in latencies for value in per_thread]
    database = ticks / os.sysconf("SC_CLK_TCK") if pids else None
    return Result(len(samples), elapsed, samples, sum(failures), cpu, database)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server of ``server_url``, dropped afterwards."""
    name = f"idp_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(backend: str, url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url, pool_size=max(args.threads), max_overflow=0)
    try:
        upgrade(engine)
        run(engine, chains=1, threads=1, duration=0.3, hold=0)  # warm-up: connections, caches
        opened = [engine.connect() for _ in range(max(args.threads))]  # every connection of the pool, open now
        for connection in opened:
            connection.close()
        for chains in args.chains:
            for threads in args.threads:
                with engine.begin() as conn:
                    conn.execute(delete(AuditEvent))
                result = run(
                    engine,
                    chains=chains,
                    threads=threads,
                    duration=args.duration,
                    hold=args.hold_ms / 1000,
                )
                report = verify(engine)
                assert report.ok and report.events == result.events, report  # no lost event, chains intact
                print(result.line(backend, chains, threads), flush=True)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server URL (a scratch database is created there and dropped)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite runs")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per configuration (default 3)")
    parser.add_argument("--hold-ms", type=float, default=0.0, help="keep each transaction open this long")
    parser.add_argument("--threads", type=lambda s: [int(n) for n in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--chains", type=lambda s: [int(n) for n in s.split(",")], default=[1, 16])
    args = parser.parse_args()

    print(f"audit append: one transaction per event, {args.duration:g} s per line, hold {args.hold_ms:g} ms")
    print(
        f"{'backend':10s} {'chains':>6s} {'threads':>7s} {'events':>7s} {'events/s':>9s} "
        f"{'p50 ms':>8s} {'p99 ms':>8s} {'µs CPU':>8s} {'PG µs':>8s} {'failed':>6s}"
    )
    if not args.no_sqlite:
        with sqlite_database() as url:
            bench("sqlite", url, args)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            bench("postgresql", url, args)


if __name__ == "__main__":
    main()
