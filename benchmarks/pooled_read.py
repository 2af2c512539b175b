"""One read through the database layer, as a page of the IdP makes it: the Python side and PostgreSQL's side.

    .venv/bin/python -m benchmarks.pooled_read [--reads 1000] [--rounds 5] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Each read is what a request whose session writes (the IdP's) does when it only reads: a session from
:class:`infra.db.Database`, a connection checked out of the pool, one ``SELECT`` of a catalogue row by its key
(``BEGIN`` sent with it), the session closed (``ROLLBACK``), the connection returned; with ``--autocommit``, the
same read outside any transaction (no ``BEGIN``, no ``ROLLBACK``: :func:`infra.db.read_until_write`). Per round of
``--reads`` reads it prints the CPU time of this thread (SQLAlchemy, psycopg, the pool) and of the PostgreSQL
backend serving the connection (``/proc/<pid>/schedstat``: the server must run on this machine), in µs per read,
sorted. No table is created: the statement reads ``pg_class``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import text

from infra.db import Database

_READ = text(
    "SELECT c.relname, c.relkind, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = :oid"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reads", type=int, default=1000, help="reads per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--autocommit",
        action="store_true",
        help="read as the IdP's read-only steps now do (infra.db.read_until_write): outside any transaction",
    )
    args = parser.parse_args(argv)
    database = Database(args.postgres)
    sessions = database.autocommit_reader if args.autocommit else database.sessionmaker

    def read() -> None:
        with sessions() as session:
            session.execute(_READ, {"oid": 1259}).all()

    with database.sessionmaker() as session:
        backend = Path(f"/proc/{session.execute(text('SELECT pg_backend_pid()')).scalar_one()}/schedstat")
    for _ in range(300):  # every cache warm, the statement prepared if it is to be
        read()
    client: list[float] = []
    server: list[float] = []
    for _ in range(args.rounds):
        thread, served = time.thread_time(), int(backend.read_text().split()[0])
        for _ in range(args.reads):
            read()
        client.append((time.thread_time() - thread) / args.reads * 1e6)
        server.append((int(backend.read_text().split()[0]) - served) / args.reads / 1e3)
    database.dispose()
    one, five, fifteen = os.getloadavg()
    mode = " --autocommit" if args.autocommit else ""
    print(f"pooled_read{mode}: load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores")
    print(f"  this thread, µs per read:        {' / '.join(f'{v:.0f}' for v in sorted(client))}")
    print(f"  PostgreSQL backend, µs per read: {' / '.join(f'{v:.0f}' for v in sorted(server))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
