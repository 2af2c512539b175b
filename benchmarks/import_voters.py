"""Benchmark of ``idp voters import``: time, rows per second and peak memory for N fictitious voters.

    python -m benchmarks.import_voters [--rows 100000] [--postgres postgresql+psycopg://user@host/db]

For each database (a fresh migrated SQLite file; with ``--postgres``, a scratch database created on that server
and dropped afterwards, so the URL must allow CREATE DATABASE) it times three imports of the same generated file:
the first (every voter created), the same file again (every voter unchanged: the idempotent path) and a file
where every voter changed. Peak memory is reported two ways: the process's maximum resident set
(``getrusage``, which includes the interpreter and libraries) and, in a separate traced run, the peak of Python
allocations during the import (``tracemalloc``, which slows the run down, hence not timed).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Generator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from idp.db import make_engine
from idp.migrate import upgrade
from idp.security.keyed import KeyedHasher
from idp.voters.importer import ImportReport, import_voters

HMAC_KEY = "benchmark-hmac-key-not-a-secret-0123456789"
FIRST_NAMES = ["Camille", "Dominique", "Alex", "Claude", "Sacha", "Maxime", "Charlie", "Eden"]
FAMILY_NAMES = ["TESTEUR", "FICTIF", "ESSAI", "EXEMPLE", "MODELE", "DE LA TESTERIE"]
ACADEMIES = ["exemple", "essai", "modele", "fictive"]


def generate(path: Path, rows: int, *, variant: str = "") -> None:
    """Write ``rows`` fictitious voters; ``variant`` changes every first name (to time the update path)."""
    rng = random.Random(20261201)  # fictitious data, reproducible
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "identifier",
                "family_name",
                "first_names",
                "birth_date",
                "birthplace",
                "numen",
                "nir10",
                "academie",
                "gender",
            ]
        )
        for i in range(rows):
            academie = ACADEMIES[i % len(ACADEMIES)]
            year, month, day = rng.randint(1958, 2004), rng.randint(1, 12), rng.randint(1, 28)
            sex = rng.choice("12")
            writer.writerow(
                [
                    f"electeur.fictif{i}@ac-{academie}.fr",
                    rng.choice(FAMILY_NAMES),
                    rng.choice(FIRST_NAMES) + variant,
                    f"{year:04d}-{month:02d}-{day:02d}",
                    "21231",
                    f"{i % 100:02d}E{i:07d}ABC",
                    f"{sex}{year % 100:02d}{month:02d}21231",
                    academie,
                    "F" if sex == "2" else "M",
                ]
            )


def maxrss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(engine: Engine, path: Path, keyed: KeyedHasher) -> tuple[ImportReport, float]:
    started = time.perf_counter()
    report = import_voters(sessionmaker(engine), path, keyed)
    elapsed = time.perf_counter() - started
    if not report.ok:
        raise SystemExit("benchmark file refused: " + "; ".join(map(str, report.errors[:5])))
    return report, elapsed


def traced_peak_mib(engine: Engine, path: Path, keyed: KeyedHasher) -> float:
    tracemalloc.start()
    try:
        import_voters(sessionmaker(engine), path, keyed)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def sqlite_engines(directory: Path) -> Generator[Engine, None, None]:
    while True:
        engine = make_engine(f"sqlite:///{directory / uuid.uuid4().hex}.sqlite3")
        upgrade(engine)
        yield engine


def postgres_engines(admin_url: str) -> Generator[Engine, None, None]:
    """Fresh scratch databases on the server of ``admin_url``, dropped when the generator closes."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []
    try:
        while True:
            name = f"idp_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            created.append(name)
            engine = make_engine(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
            upgrade(engine)
            try:
                yield engine
            finally:
                engine.dispose()
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(label: str, engines: Generator[Engine, None, None], files: dict[str, Path], rows: int, traced: bool) -> None:
    keyed = KeyedHasher(HMAC_KEY)
    engine = next(engines)
    print(f"\n{label}: {rows:,} rows")
    for name, expected in (
        ("first import", "created"),
        ("same file again", "unchanged"),
        ("every voter changed", "updated"),
    ):
        report, elapsed = timed(engine, files["changed" if expected == "updated" else "base"], keyed)
        assert getattr(report, expected) == rows, report
        print(
            f"  {name:<22} {elapsed:8.2f} s {rows / elapsed:12,.0f} rows/s   "
            f"(created {report.created}, updated {report.updated}, unchanged {report.unchanged})"
        )
    print(f"  peak RSS of the process so far: {maxrss_mib():.0f} MiB")
    if traced:
        peak = traced_peak_mib(next(engines), files["base"], keyed)
        print(f"  tracemalloc peak during a first import: {peak:.1f} MiB ({peak * 2**20 / rows:.0f} bytes a row)")
    engines.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL (a server URL; a scratch database is created and dropped)",
    )
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced (slower) run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="idp-bench-import-") as tmp:
        directory = Path(tmp)
        files = {"base": directory / "voters.csv", "changed": directory / "voters-changed.csv"}
        started = time.perf_counter()
        generate(files["base"], args.rows)
        generate(files["changed"], args.rows, variant="-Marie")
        size = files["base"].stat().st_size / 2**20
        print(
            f"generated 2 files of {args.rows:,} fictitious voters ({size:.1f} MiB each) "
            f"in {time.perf_counter() - started:.1f} s; peak RSS {maxrss_mib():.0f} MiB"
        )
        bench("SQLite", sqlite_engines(directory), files, args.rows, not args.no_tracemalloc)
        if args.postgres:
            bench("PostgreSQL", postgres_engines(args.postgres), files, args.rows, not args.no_tracemalloc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
