"""What a voter journey sends to PostgreSQL and Redis, statement by statement: the database layer's census.

    .venv/bin/python -m benchmarks.statement_census [--journeys 150] [--concurrency 4] [--workers N] [--top 40]

The suite in its production shape (:mod:`benchmarks.suite_servers`, granian, a PostgreSQL cluster and a Redis of the
run's own); a warm-up, then ``--journeys`` journeys (:mod:`benchmarks.journey_load`) with ``pg_stat_statements``
(planning tracked too) and Redis's command statistics reset before them. It prints, per journey:

- the CPU of PostgreSQL's processes by kind (the backends serving the apps, the WAL writer, the checkpointer…);
- the statements (nested ones included, such as the foreign keys' checks; ``T`` marks those the apps sent), how
  many were planned and the mean execution and planning times, then each statement of the ``--top`` most run;
- the Redis commands by name (a script's inner commands included, as Redis counts them), and the read events
  Redis processed (a command or a pipeline each: the round trips) and its CPU time (user and system).

The pool's pings are empty queries, which ``pg_stat_statements`` does not see (``benchmarks.idp_steps`` counts the
IdP's in process).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks import journey_load, suite_servers, web_servers

_STATEMENTS = text(
    "SELECT d.datname, s.calls, s.plans, s.total_exec_time, s.total_plan_time, s.toplevel, s.query "
    "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
    "WHERE d.datname IN ('idp', 'portal') ORDER BY s.calls DESC"
)


def postgres_cpu_ns(pids: list[int]) -> dict[tuple[str, int], int]:
    """CPU nanoseconds so far of each PostgreSQL process, keyed by (kind, pid): ``backend`` for a connection of an
    app's database, else the process's title (``walwriter``, ``checkpointer``, ``autovacuum``…)."""
    found: dict[tuple[str, int], int] = {}
    for pid in pids:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
        except OSError:
            continue
        if title.startswith("postgres: ") and ("idp" in title or "portal" in title) and "127.0.0.1" in title:
            kind = "backend"
        elif title.startswith("postgres: "):
            kind = title.removeprefix("postgres: ").split()[0]
        else:
            kind = "postmaster"
        found[(kind, pid)] = sum(suite_servers.task_cpu_ns(pid).values())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=150, help="measured journeys (after a warm-up)")
    parser.add_argument("--concurrency", type=int, default=4, help="voters in flight")
    web_servers.add_size_arguments(parser)
    parser.add_argument("--top", type=int, default=40, help="statements listed, the most run first")
    args = parser.parse_args(argv)
    suite_servers.stop_signal_handlers()
    one, five, fifteen = os.getloadavg()
    print(f"statement_census: load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores", flush=True)
    warm_up = 2 * args.workers
    with suite_servers.deployment(
        postgres="private",
        voters=args.journeys + warm_up + 10,
        server="granian",
        workers=args.workers,
        threads=args.threads,
    ) as deployment:
        store = deployment.storage
        assert store.redis_url is not None and store.reset_statements is not None
        admin = create_engine(
            make_url(store.idp_url).set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text("ALTER SYSTEM SET pg_stat_statements.track_planning = on"))
            conn.execute(text("SELECT pg_reload_conf()"))
        voters = iter(deployment.voters)
        asyncio.run(journey_load.drive(deployment.target(), voters, concurrency=warm_up, arrival="rush"))
        store.reset_statements()
        suite_servers.reset_redis_stats(store.redis_url)
        redis_before = _redis_cpu(store.redis_url)
        before = postgres_cpu_ns(store.database_pids())
        recorder = asyncio.run(
            journey_load.drive(deployment.target(), voters, concurrency=args.concurrency, journeys=args.journeys)
        )
        after = postgres_cpu_ns(store.database_pids())
        redis_after = _redis_cpu(store.redis_url)
        done = int(recorder.summary()["journeys"])
        print(f"{done} journeys, {args.concurrency} in flight; errors: {dict(recorder.errors_by_kind()) or 'none'}")
        if not done:
            return 1
        by_kind: collections.Counter[str] = collections.Counter()
        for key, ns in after.items():
            by_kind[key[0]] += ns - before.get(key, 0)
        cells = ", ".join(f"{kind} {ns / 1e6 / done:.2f}" for kind, ns in by_kind.most_common())
        print(f"PostgreSQL CPU per journey (ms): {cells}")
        with admin.connect() as conn:
            rows = conn.execute(_STATEMENTS).all()
        admin.dispose()
        calls = sum(int(row[1]) for row in rows)
        sent = sum(int(row[1]) for row in rows if row[5])
        plans = sum(int(row[2]) for row in rows)
        planning = sum(float(row[4]) for row in rows)
        print(
            f"per journey: {calls / done:.1f} statements ({sent / done:.1f} sent by the apps), "
            f"{plans / done:.1f} planned, {planning / done:.2f} ms planning"
        )
        print(f"  {'db':7} {'calls':>6} {'plans':>6} {'exec µs':>8} {'plan µs':>8}    statement")
        for database, count, planned, exec_ms, plan_ms, toplevel, query in rows[: args.top]:
            plan_us = plan_ms / planned * 1000 if planned else 0.0
            print(
                f"  {database:7} {count / done:6.2f} {planned / done:6.2f} {exec_ms / count * 1000:8.1f} "
                f"{plan_us:8.1f} {'T' if toplevel else ' '}  {' '.join(str(query).split())[:140]}"
            )
        client = redis.Redis.from_url(store.redis_url)
        stats = client.info("commandstats")
        reads = int(client.info("stats")["total_reads_processed"])
        client.close()
        commands = {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if not name.startswith(("cmdstat_info", "cmdstat_config", "cmdstat_hello"))
        }
        print(
            f"Redis commands per journey: {sum(commands.values()) / done:.1f}; round trips (read events) "
            f"{reads / done:.1f}; CPU {(redis_after - redis_before) * 1000 / done:.2f} ms"
        )
        for name, count in sorted(commands.items(), key=lambda item: -item[1]):
            print(f"  {name:20} {count / done:6.2f}")
    return 0


def _redis_cpu(url: str) -> float:
    """Seconds of CPU (user and system) the Redis server has used since it started."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


if __name__ == "__main__":
    raise SystemExit(main())
