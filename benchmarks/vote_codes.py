"""Benchmark of ``idp codes issue``: codes + CSV time, PDF time and peak memory for N fictitious voters.

    .venv/bin/python -m benchmarks.vote_codes [--voters 100000] [--academies 4] [--postgres URL] [--skip-pdf]

Creates a throw-away database (a SQLite file; with ``--postgres``, also a scratch database on that server, dropped
afterwards) holding N fictitious voters, then issues every voter a code twice, each run in a fresh process so that
its peak resident memory (``getrusage``) is its own:

1. codes + CSV only (``--no-pdf``): what must take well under a minute for 100,000 voters;
2. codes + CSV + PDF notices (one page per voter, volumes of 2,000 pages).

It prints the wall time of each run, the split the command itself reports (codes: draw + HMAC + upsert; CSV; PDF)
and the peak RSS of each run's process. A third, smaller run with ``--compare`` voters shows whether memory grows
with the number of voters (it should not: batches, keyset pagination, bounded PDF volumes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from benchmarks.import_voters import postgres_engines, sqlite_engines
from idp.db import make_engine
from idp.models import Base, Voter, utcnow
from idp.models.voter import new_subject
from idp.security.keyed import KeyedHasher

HMAC_KEY = "benchmark-hmac-key-not-a-secret-0123456789"
ACADEMIES = ["exemple", "essai", "modele", "fictive", "imaginaire", "test"]


def populate(engine: Engine, voters: int, academies: int) -> None:
    """Insert ``voters`` fictitious voters (not through the import: its own benchmark times that)."""
    keyed = KeyedHasher(HMAC_KEY)
    table = Base.metadata.tables[Voter.__tablename__]
    now = utcnow()
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for i in range(voters):
            academie = ACADEMIES[i % academies]
            batch.append(
                {
                    "subject": new_subject(),
                    "identifier": f"electeur.fictif{i}@ac-{academie}.fr",
                    "family_name": "FICTIF",
                    "first_names": "Camille",
                    "birth_date": dt.date(1985, 7, 21),
                    "birthplace": "21231",
                    "gender": None,
                    "academie": academie,
                    "numen_hash": keyed.digest("numen", f"{i:013d}"),
                    "nir_hash": keyed.digest("nir", f"{i:010d}"),
                    "password_hash": None,
                    "challenge_question": None,
                    "challenge_answer_hash": None,
                    "activated_at": None,
                    "session_epoch": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(table), batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)


def _run(url: str, output: str, pdf: bool, result: Any) -> None:
    """One print run, in its own process: its ``ru_maxrss`` is the peak of this run alone."""
    from idp.votecode.notices import issue_notices

    engine = make_engine(url)
    started = time.perf_counter()
    report = issue_notices(
        sessionmaker(engine, expire_on_commit=False),
        KeyedHasher(HMAC_KEY),
        Path(output),
        portal_url="https://portail.exemple.fr",
        pdf=pdf,
    )
    elapsed = time.perf_counter() - started
    engine.dispose()
    result.put(
        {
            "voters": report.voters,
            "files": len(report.files),
            "wall": elapsed,
            "codes": report.seconds_codes,
            "csv": report.seconds_csv,
            "pdf": report.seconds_pdf,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_in_child(url: str, output: Path, pdf: bool) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_run, args=(url, str(output), pdf, queue))
    process.start()
    figures: dict[str, Any] = queue.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"print run failed (exit {process.exitcode})")
    return figures


def _line(label: str, f: dict[str, Any]) -> str:
    return (
        f"  {label:<24} {f['wall']:7.1f} s   codes {f['codes']:5.1f} s  CSV {f['csv']:4.1f} s  "
        f"PDF {f['pdf']:6.1f} s   {f['voters']:,} voters, {f['files']} files, peak RSS {f['maxrss_mib']:.0f} MiB"
    )


def bench(
    label: str,
    engines: Generator[Engine, None, None],
    voters: int,
    academies: int,
    compare: int,
    skip_pdf: bool,
    directory: Path,
) -> None:
    print(f"\n{label}: {voters:,} voters in {academies} académies")
    for count in [voters, compare] if compare else [voters]:
        engine = next(engines)
        started = time.perf_counter()
        populate(engine, count, academies)
        print(f" {count:,} voters inserted in {time.perf_counter() - started:.1f} s")
        url = engine.url.render_as_string(hide_password=False)
        runs = [("codes + CSV", False)] + ([] if skip_pdf else [("codes + CSV + PDF", True)])
        for name, pdf in runs:
            figures = run_in_child(url, directory / f"{label}-{count}-{pdf}", pdf)
            print(_line(name, figures))
            if pdf:
                print(f"  {'':<24} PDF {figures['pdf'] / figures['voters'] * 1000:.2f} ms a page")
    engines.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--voters", type=int, default=100_000)
    parser.add_argument("--academies", type=int, default=4, choices=range(1, len(ACADEMIES) + 1))
    parser.add_argument(
        "--compare", type=int, default=10_000, help="a second, smaller population to compare peak memory with (0: none)"
    )
    parser.add_argument("--skip-pdf", action="store_true", help="time codes + CSV only")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL (a server URL; a scratch database is created and dropped)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="idp-bench-codes-") as tmp:
        directory = Path(tmp)
        bench("SQLite", sqlite_engines(directory), args.voters, args.academies, args.compare, args.skip_pdf, directory)
        if args.postgres:
            bench(
                "PostgreSQL",
                postgres_engines(args.postgres),
                args.voters,
                args.academies,
                args.compare,
                args.skip_pdf,
                directory,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
