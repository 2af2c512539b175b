"""How long the operators' console takes to count its pages on an election's worth of data.

Generates, in bulk (one ``INSERT … SELECT`` per table, in the database), on throw-away databases: the IdP's
``--voters`` accounts (1.4 million), ``--events`` audit events over the eight days (2.5 million, a tenth of them in
the last hour: the opening rush) and one outbox row per voter plus messages waiting; the portal's national scrutin
and one scrutin per académie (two roll lines per voter), ``--ballots`` émargements and as many ballots (500,000).
Then it serves each page of the console through its Flask app (read-only connections, as in production) and prints
the first count of the turnout page (rolls and closed hours, kept afterwards), then per page the time to count it
(its kept figures dropped first) and to show the kept count; then the same without the indexes of IdP migration
0008 and portal migration 0006 (before/after, same run, same data).

On PostgreSQL (``--postgres``: a server URL; two scratch databases are created there and dropped at the end) for the
figures; on a SQLite file by default (the smoke run of the test suite).

    .venv/bin/python -m benchmarks.operations --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m benchmarks.operations --voters 2000 --ballots 500 --events 3000   # a quick look, SQLite
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from idp.migrate import upgrade as idp_upgrade
from idp.ministry_domains import ACADEMIES
from infra.db import make_engine
from relying_party.migrate import upgrade as portal_upgrade

DAY = 86400
#: (type, data) of the generated audit events, repeated by weight: sign-ins and their failures, the vote-code step,
#: réassort, deliveries, lockouts.
EVENT_MIX: list[tuple[str, str, int]] = [
    ("login.identifier_accepted", "{}", 20),
    ("login.succeeded", "{}", 20),
    ("login.password_failed", "{}", 4),
    ("login.identifier_rejected", '{"reason":"captcha"}', 2),
    ("login.identifier_rejected", '{"reason":"format"}', 1),
    ("votecode.verified", "{}", 12),
    ("votecode.failed", "{}", 2),
    ("token.issued", "{}", 20),
    ("message.queued", '{"channel":"email"}', 3),
    ("message.sent", '{"channel":"email"}', 3),
    ("message.sent", '{"channel":"sms"}', 1),
    ("message.retry", '{"channel":"sms"}', 1),
    ("reassort.requested", '{"channel":"sms"}', 2),
    ("reassort.requested", '{"channel":"email"}', 1),
    ("reassort.link_sent", '{"channel":"sms"}', 2),
    ("reassort.link_opened", '{"channel":"sms"}', 1),
    ("reassort.code_generated", '{"channel":"sms"}', 1),
    ("login.locked", "{}", 1),
    ("votecode.locked", "{}", 1),
]
PAGES = ["/participation", "/connexions", "/reassort", "/acheminement"]
INDEXES = {
    "idp": ("ix_audit_event_type_occurred_at", "audit_event", "type, occurred_at"),
    "portal": ("ix_portal_emargement_scrutin_id_voted_at", "portal_emargement", "scrutin_id, voted_at"),
}


@contextmanager
def databases(admin_url: str | None) -> Iterator[tuple[str, str]]:
    """(IdP URL, portal URL): scratch PostgreSQL databases, or SQLite files in a temporary directory."""
    if admin_url is None:
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'idp.sqlite3'}", f"sqlite:///{Path(directory) / 'portal.sqlite3'}"
        return
    names = [f"ops_bench_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("idp", "portal")]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        base = admin_url.rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def series(engine: Engine, count: int) -> str:
    """A row source of ``n`` from 0 to count - 1."""
    if engine.dialect.name == "postgresql":
        return f"(SELECT generate_series(0, {count - 1}) AS n) AS s"
    return (
        f"(WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1}) SELECT n FROM s) AS s"
    )


def seconds_after(engine: Engine, start: str, expression: str) -> str:
    """SQL for the instant ``start`` (a bound parameter name) plus ``expression`` seconds."""
    if engine.dialect.name == "postgresql":
        return f"(CAST(:{start} AS TIMESTAMP) + ({expression}) * INTERVAL '1 second')"
    return f"datetime(:{start}, printf('%+d seconds', CAST({expression} AS INTEGER)))"


def naive(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def timed(engine: Engine, label: str, statement: str, **params: Any) -> None:
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(statement), params)
    print(f"  {label:<44} {time.perf_counter() - started:7.1f} s", flush=True)


def academies_table(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bench_academie (i INTEGER PRIMARY KEY, domain VARCHAR(60))"))
        domains = sorted(d for d in ACADEMIES if d.startswith("ac-"))
        connection.execute(
            text("INSERT INTO bench_academie (i, domain) VALUES (:i, :domain)"),
            [{"i": i, "domain": d} for i, d in enumerate(domains)],
        )


def academie_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM bench_academie")).scalar_one())


def populate_idp(engine: Engine, voters: int, events: int, now: dt.datetime) -> None:
    academies_table(engine)
    k = academie_count(engine)
    opened = naive(now - dt.timedelta(days=6))
    timed(
        engine,
        f"IdP: {voters:,} voters",
        "INSERT INTO voter (subject, identifier, role, family_name, first_names, birth_date, birthplace, academie, "
        "numen_hash, nir_hash, session_epoch, created_at, updated_at) "
        f"SELECT 's' || n, 'votant.' || n || '@' || a.domain, 'voter', 'NOM', 'Prénom', :born, '21231', a.domain, "
        f":blob, :blob, 0, :t0, :t0 FROM {series(engine, voters)} JOIN bench_academie a ON a.i = s.n % {k}",
        born=dt.date(1980, 1, 1),
        blob=bytes(32),
        t0=opened,
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bench_event_kind (i INTEGER PRIMARY KEY, type VARCHAR(60), data TEXT)"))
        kinds = [(t, d) for t, d, weight in EVENT_MIX for _ in range(weight)]
        connection.execute(
            text("INSERT INTO bench_event_kind (i, type, data) VALUES (:i, :type, :data)"),
            [{"i": i, "type": t, "data": d} for i, (t, d) in enumerate(kinds)],
        )
    m = len(kinds)
    rush = events // 10
    spread = events - rush
    # Spread over the six days since the opening, then the rush: a tenth of the events in the last hour.
    for label, count, start, span, offset in (
        ("audit events over 6 days", spread, naive(now - dt.timedelta(days=6)), 6 * DAY - 3600, 0),
        ("audit events in the last hour", rush, naive(now - dt.timedelta(hours=1)), 3590, spread),
    ):
        timed(
            engine,
            f"IdP: {count:,} {label}",
            "INSERT INTO audit_event (chain, seq, occurred_at, type, subject, client_id, data, prev_hash, hash) "
            f"SELECT (s.n + {offset}) % 16, (s.n + {offset}) / 16, "
            f"{seconds_after(engine, 't0', f'(s.n * {span}.0) / {max(count, 1)}')}, "
            f"kind.type, 's' || (s.n % {voters}), NULL, kind.data, 'h', 'h' "
            f"FROM {series(engine, count)} JOIN bench_event_kind kind ON kind.i = (s.n * 7) % {m}",
            t0=start,
        )
    timed(
        engine,
        f"IdP: {voters:,} messages sent, 500 waiting",
        "INSERT INTO outbox_message (channel, purpose, payload, status, attempts, next_attempt_at, created_at) "
        "SELECT CASE WHEN s.n % 5 = 0 THEN 'sms' ELSE 'email' END, 'activation', NULL, "
        "CASE WHEN s.n < 500 THEN 'pending' ELSE 'sent' END, 1, :t0, "
        f"{seconds_after(engine, 't0', f'-(s.n % {6 * DAY})')} FROM {series(engine, voters + 500)}",
        t0=naive(now),
    )


def populate_portal(engine: Engine, voters: int, ballots: int, now: dt.datetime) -> None:
    academies_table(engine)
    k = academie_count(engine)
    opens, closes = naive(now - dt.timedelta(days=6)), naive(now + dt.timedelta(days=2))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO portal_scrutin (id, code, label, kind, opens_at, closes_at) "
                "VALUES (1, 'CSA-MEN', 'CSA ministériel', 'csa_ministeriel', :opens, :closes)"
            ),
            {"opens": opens, "closes": closes},
        )
        connection.execute(
            text(
                "INSERT INTO portal_scrutin (id, code, label, kind, opens_at, closes_at) "
                "SELECT 2 + i, 'CSA-' || domain, 'CSA académique ' || domain, 'csa_academique', :opens, :closes "
                "FROM bench_academie"
            ),
            {"opens": opens, "closes": closes},
        )
    identifier = "'votant.' || s.n || '@' || a.domain"
    timed(
        engine,
        f"portal: {2 * voters:,} roll lines (national + académie)",
        "INSERT INTO portal_roll_entry (scrutin_id, voter_identifier, display_name) "
        f"SELECT CASE WHEN s.m < {voters} THEN 1 ELSE 2 + a.i END, {identifier}, 'M. VOTANT' "
        f"FROM (SELECT n % {voters} AS n, n AS m FROM {series(engine, 2 * voters)}) AS s "
        f"JOIN bench_academie a ON a.i = s.n % {k} ORDER BY s.m",
    )
    national = ballots * 7 // 10
    timed(
        engine,
        f"portal: {ballots:,} émargements",
        "INSERT INTO portal_emargement (scrutin_id, voter_identifier, voted_at, receipt) "
        f"SELECT CASE WHEN s.n < {national} THEN 1 ELSE 2 + a.i END, "
        f"'votant.' || (CASE WHEN s.n < {national} THEN s.n ELSE s.n - {national} END) || '@' || a.domain, "
        f"{seconds_after(engine, 't0', f'((CAST(s.n AS BIGINT) * 7919) % {6 * DAY - 60})')}, :blob "
        f"FROM {series(engine, ballots)} "
        f"JOIN bench_academie a ON a.i = (CASE WHEN s.n < {national} THEN s.n ELSE s.n - {national} END) % {k}",
        t0=opens,
        blob=bytes(48),
    )
    code = (
        "convert_to(lpad(CAST(s.n AS TEXT), 32, '0'), 'UTF8')"
        if engine.dialect.name == "postgresql"
        else "CAST(printf('%032d', s.n) AS BLOB)"
    )
    timed(
        engine,
        f"portal: {ballots:,} ballots",
        "INSERT INTO portal_ballot (tracking_code, scrutin_id, ciphertexts, proofs, mixed) "
        f"SELECT {code}, CASE WHEN s.n < {national} THEN 1 ELSE 2 END, :cipher, :proofs, true "
        f"FROM {series(engine, ballots)}",
        cipher=bytes(256),
        proofs=bytes(544),
    )


def analyse(*engines: Engine) -> None:
    for engine in engines:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def drop_indexes(idp: Engine, portal: Engine) -> None:
    for engine, (name, _, _) in ((idp, INDEXES["idp"]), (portal, INDEXES["portal"])):
        with engine.begin() as connection:
            connection.execute(text(f"DROP INDEX {name}"))
    analyse(idp, portal)


def console_client(idp_url: str, portal_url: str, directory: Path) -> tuple[Any, Any]:
    from operator_console import create_app

    console = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "bench-operator-console-secret-key-0123456789",
            "DATABASE_URL": idp_url,
            "PORTAL_DATABASE_URL": portal_url,
            "EPHEMERAL_DATABASE_URL": f"sqlite:///{directory / 'console.sqlite3'}",
            "IDP_ISSUER": "http://127.0.0.1:9",
            "CLIENT_ID": "operator-console",
            "CLIENT_SECRET": "bench-operator-console-client-secret",
            "PUBLIC_URL": "http://localhost",
        }
    )
    client = console.test_client()
    with client.session_transaction() as state:
        state["operator"] = {
            "sub": "operateur-mesure",
            "name": "Opérateur de mesure",
            "epoch": 0,
            "signed_in_at": time.time(),
            "id_token": "x",
        }
    return console, client


def add_operator(engine: Engine, now: dt.datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO voter (subject, identifier, role, family_name, first_names, session_epoch, created_at, "
                "updated_at) VALUES ('operateur-mesure', 'operateur@pilotage.example.fr', 'operator', 'Mesure', "
                "'Opérateur', 0, :t, :t)"
            ),
            {"t": naive(now)},
        )


def measure(console: Any, client: Any, repeat: int) -> dict[str, tuple[float, float, float]]:
    """Per page: (median ms counted, max ms counted, median ms kept)."""
    from infra.store import get_store

    store = get_store(console)
    results = {}
    for page in PAGES:
        counted, kept = [], []
        for _ in range(repeat):
            for name in ("turnout", "sign-ins", "reassort", "delivery"):
                store.delete(f"figures:{name}")
            started = time.perf_counter()
            answer = client.get(page)
            counted.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (page, answer.status_code)
            started = time.perf_counter()
            assert client.get(page).status_code == 200
            kept.append((time.perf_counter() - started) * 1000)
        results[page] = (statistics.median(counted), max(counted), statistics.median(kept))
    return results


def rolls_time(console: Any, client: Any) -> float:
    from infra.store import get_store

    store = get_store(console)
    store.delete("figures:rolls-by-academie")
    store.delete("figures:turnout-base")
    store.delete("figures:turnout")
    started = time.perf_counter()
    assert client.get("/participation").status_code == 200
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--voters", type=int, default=1_400_000)
    parser.add_argument("--ballots", type=int, default=500_000)
    parser.add_argument("--events", type=int, default=2_500_000)
    parser.add_argument("--repeat", type=int, default=5, help="counts per page (the median is printed)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (scratch databases are created)")
    args = parser.parse_args(argv)
    if args.ballots > args.voters:
        parser.error("--ballots must not exceed --voters")
    now = dt.datetime.now(dt.UTC)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"operators' console on {backend}: {args.voters:,} voters, {args.ballots:,} ballots, {args.events:,} audit "
        f"events; load {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores",
        flush=True,
    )
    with ExitStack() as stack:
        idp_url, portal_url = stack.enter_context(databases(args.postgres))
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portal-bench-")))
        idp, portal = make_engine(idp_url), make_engine(portal_url)
        stack.callback(idp.dispose)
        stack.callback(portal.dispose)
        idp_upgrade(idp)
        portal_upgrade(portal)
        print("generating the data:", flush=True)
        populate_idp(idp, args.voters, args.events, now)
        add_operator(idp, now)
        populate_portal(portal, args.voters, args.ballots, now)
        analyse(idp, portal)

        console, client = console_client(idp_url, portal_url, directory)
        from infra.db import get_db
        from infra.store import get_store
        from operator_console.figures import portal_engine

        stack.callback(get_store(console).close)
        stack.callback(portal_engine(console).dispose)
        stack.callback(get_db(console).engine.dispose)
        rolls = rolls_time(console, client)
        with_indexes = measure(console, client, args.repeat)
        drop_indexes(idp, portal)
        without = measure(console, client, args.repeat)
        print(
            f"\nfirst count of the turnout page: rolls per académie ({2 * args.voters:,} roll lines, again once an "
            f"hour) and the émargement of the closed hours (extended hour by hour): {rolls:,.0f} ms"
        )
        print("\npage             counted, with the indexes (median, max)   kept   | without the indexes (median, max)")
        for page in PAGES:
            median, worst, kept = with_indexes[page]
            before_median, before_worst, _ = without[page]
            print(
                f"{page:<16} {median:10,.0f} ms {worst:10,.0f} ms {kept:12,.1f} ms | "
                f"{before_median:10,.0f} ms {before_worst:10,.0f} ms"
            )
        print(f"load {os.getloadavg()[0]:.2f} (1 min) at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
