"""The backup and restore drill: ``pg_dump`` of both databases taken while voters vote, restored on fresh
databases, compared with the moment of the backup, and both audit logs verified on the copies.

The moment of the backup is made exact with an exported snapshot: one transaction (``REPEATABLE READ``) exports its
snapshot, counts the rows there, and ``pg_dump --snapshot`` dumps that very snapshot, while the load goes on
committing beside it. The restore (``pg_restore`` into a database created for it) is then counted again: every
count must match. ``idp audit verify`` and ``portal audit verify`` run on the restored databases, as an auditor
would on a copy.

docs/operators/backup-restore.md is the operators' procedure; this module is its drill.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

#: What must be in a backup, per database: the label printed and the query that counts it.
COUNTS = {
    "idp": {
        "voters": "SELECT count(*) FROM voter",
        "vote codes": "SELECT count(*) FROM vote_code",
        "one-time links": "SELECT count(*) FROM one_time_link",
        "messages": "SELECT count(*) FROM outbox_message",
        "audit events": "SELECT count(*) FROM audit_event",
    },
    "portal": {
        "ballots": "SELECT count(*) FROM portal_ballot",
        "émargements": "SELECT count(*) FROM portal_emargement",
        "messages": "SELECT count(*) FROM portal_outbox",
        "audit events": "SELECT count(*) FROM portal_audit_event",
    },
}
REPO = Path(__file__).resolve().parents[1]


@dataclass
class DrillResult:
    #: database → label → (count at the backup's moment, count in the restored copy)
    counts: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    #: database → (exit status of ``<app> audit verify`` on the copy, its last line)
    verified: dict[str, tuple[int, str]] = field(default_factory=dict)
    dump_seconds: float = 0.0
    restore_seconds: float = 0.0
    dump_bytes: int = 0

    @property
    def ok(self) -> bool:
        same = all(a == b for rows in self.counts.values() for a, b in rows.values())
        return same and bool(self.verified) and all(status == 0 for status, _ in self.verified.values())

    def lines(self) -> list[str]:
        out = [
            f"  pg_dump of both databases {self.dump_seconds:.1f} s ({self.dump_bytes / 1e6:.1f} MB, custom format), "
            f"pg_restore {self.restore_seconds:.1f} s"
        ]
        for database, rows in self.counts.items():
            cells = ", ".join(
                f"{label} {at_backup}" + ("" if at_backup == restored else f" ≠ restored {restored}")
                for label, (at_backup, restored) in rows.items()
            )
            out.append(f"  {database}: at the backup's moment and restored: {cells}")
        for database, (status, line) in self.verified.items():
            out.append(f"  {database} audit verify on the copy: exit {status} ({line})")
        return out


def _count(conn: Connection, database: str) -> dict[str, int]:
    return {label: int(conn.execute(text(sql)).scalar_one()) for label, sql in COUNTS[database].items()}


def _binary(bindir: Path, name: str) -> str:
    return str(bindir / name)


def drill(server_url: str, bindir: Path, directory: Path, environments: dict[str, dict[str, str]]) -> DrillResult:
    """Back up ``idp`` and ``portal`` of the server at ``server_url`` (a SQLAlchemy URL to any of its databases),
    restore them as ``idp_restored`` and ``portal_restored``, compare and verify.

    ``environments``: each app's environment (``IDP_*``, ``PORTAL_*``), whose database URL is replaced by the copy's
    for the audit verification (``pg_dump`` and ``pg_restore`` are clients: they run as the calling user).
    """
    result = DrillResult()
    server = make_url(server_url)
    host, port = server.host or "127.0.0.1", str(server.port or 5432)
    libpq = ["-h", host, "-p", port, "-U", server.username or "postgres"]
    started = time.monotonic()
    for database in ("idp", "portal"):
        engine = create_engine(server.set(database=database), poolclass=NullPool)
        dump = directory / f"{database}.dump"
        with engine.connect() as conn:
            conn.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            at_backup = _count(conn, database)
            # pg_dump takes the exported snapshot while this transaction keeps it alive.
            subprocess.run(
                [_binary(bindir, "pg_dump"), *libpq, "-Fc", f"--snapshot={snapshot}", "-f", str(dump), database],
                check=True,
                capture_output=True,
                timeout=600,
            )
            conn.execute(text("COMMIT"))
        engine.dispose()
        result.dump_bytes += dump.stat().st_size
        result.counts[database] = {label: (count, -1) for label, count in at_backup.items()}
    result.dump_seconds = time.monotonic() - started
    started = time.monotonic()
    admin = create_engine(server.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    for database in ("idp", "portal"):
        copy = f"{database}_restored"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}"'))
            conn.execute(text(f'CREATE DATABASE "{copy}"'))
        subprocess.run(
            [_binary(bindir, "pg_restore"), *libpq, "-d", copy, "--exit-on-error", str(directory / f"{database}.dump")],
            check=True,
            capture_output=True,
            timeout=600,
        )
    admin.dispose()
    result.restore_seconds = time.monotonic() - started
    copies = {}
    for database in ("idp", "portal"):
        copy_url = server.set(database=f"{database}_restored")
        engine = create_engine(copy_url, poolclass=NullPool)
        with engine.connect() as conn:
            restored = _count(conn, database)
        engine.dispose()
        result.counts[database] = {
            label: (at_backup, restored[label]) for label, (at_backup, _) in result.counts[database].items()
        }
        copies[database] = copy_url.render_as_string(hide_password=False)
    # The two verifications at once (each is an interpreter of its own).
    with concurrent.futures.ThreadPoolExecutor(len(copies)) as pool:
        verifying = {database: pool.submit(_verify, database, url, environments) for database, url in copies.items()}
        result.verified = {database: future.result() for database, future in verifying.items()}
    return result


def _verify(database: str, url: str, environments: dict[str, dict[str, str]]) -> tuple[int, str]:
    """``idp audit verify`` / ``portal audit verify`` against the restored copy."""
    module, variable = (
        ("idp.cli", "IDP_DATABASE_URL") if database == "idp" else ("relying_party.cli", "PORTAL_DATABASE_URL")
    )
    env = {**os.environ, **environments[database], variable: url}
    done = subprocess.run(
        [sys.executable, "-m", module, "audit", "verify"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()  # its verdict, not the logs
    return done.returncode, lines[-1] if lines else ""
