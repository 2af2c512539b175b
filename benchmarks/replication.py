"""What waiting for a replica costs: Redis writes with and without ``WAIT`` (``*_REDIS_WAIT_REPLICAS``), PostgreSQL
commits with asynchronous and synchronous streaming replication (``synchronous_standby_names``).

Both pairs (a primary and its replica) run on this machine, on loopback ports of their own (the servers and
clusters of the tests: ``tests/redis_servers.py``, ``tests/postgres_clusters.py``), so the figures are the cost of
the protocol's round trip and of the replica's flush, without a network: on two machines, add one network round
trip per write (WAIT) or per commit (synchronous replication).

    .venv/bin/python -m benchmarks.replication [--writes 3000] [--commits 1000]

Prints, for each mode: operations per second of one client, and the latency median and 99th percentile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from infra.db import Database
from infra.store.redis import RedisSettings, RedisStore

#: A session entry's size in the store (the portal's, signed in with its ID token), bytes.
SESSION_VALUE = "x" * 1500


def measure(operation: Callable[[int], object], count: int) -> tuple[float, float, float]:
    """Run ``operation(i)`` ``count`` times; (operations per second, p50 ms, p99 ms)."""
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        before = time.perf_counter()
        operation(i)
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return count / elapsed, quantiles[49] * 1000, quantiles[98] * 1000


def line(label: str, figures: tuple[float, float, float]) -> str:
    rate, p50, p99 = figures
    return f"  {label:<54} {rate:>7.0f}/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"


def redis_figures(directory: Path, writes: int) -> list[str]:
    from tests.redis_servers import RedisServer

    primary = RedisServer(directory).start()
    replica = RedisServer(directory, replica_of=primary).start()
    try:
        primary.wait_for_replicas()
        lines = [f"Redis 7, primary and replica on loopback: {writes} session writes (SET, {len(SESSION_VALUE)} B)"]
        for wait in (0, 1):
            store = RedisStore.from_settings(RedisSettings(url=primary.url(), wait_replicas=wait), f"bench{wait}:")
            figures = measure(lambda i, s=store: s.set(f"session:{i}", SESSION_VALUE, 1800), writes)
            label = "asynchronous (REDIS_WAIT_REPLICAS=0)" if not wait else "WAIT 1 replica (REDIS_WAIT_REPLICAS=1)"
            lines.append(line(label, figures))
            if wait:
                lines.append(f"  writes the replica did not acknowledge within 200 ms: {store.unreplicated_writes}")
            store.close()
        return lines
    finally:
        replica.close()
        primary.close()


def postgres_figures(directory: Path, commits: int) -> list[str]:
    from tests.postgres_clusters import Cluster

    primary = Cluster(directory).init().start()
    replica = Cluster(directory).standby_of(primary).start()
    try:
        database = Database(primary.create_database("bench"))
        table = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("value", String(100)))
        table.metadata.create_all(database.engine)
        lines = [f"PostgreSQL 15, primary and streaming replica on loopback: {commits} commits of one row each"]
        for mode, names, level in (
            ("asynchronous replication", "", "on"),
            ("synchronous, replica flushed (synchronous_commit=on)", "*", "on"),
            ("synchronous, replica applied (=remote_apply)", "*", "remote_apply"),
        ):
            primary.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
            primary.execute(f"ALTER SYSTEM SET synchronous_commit = '{level}'")
            primary.execute("SELECT pg_reload_conf()")
            _wait_for_sync_state(primary, "sync" if names else "async")
            database.dispose()  # new connections take the new settings

            def commit(i: int) -> None:
                with database.transaction() as session:
                    session.execute(insert(table).values(value=f"row {i}"))

            lines.append(line(mode, measure(commit, commits)))
        database.dispose()
        return lines
    finally:
        replica.destroy()
        primary.destroy()


def _wait_for_sync_state(primary: object, state: str) -> None:
    from tests.postgres_clusters import Cluster

    assert isinstance(primary, Cluster)
    deadline = time.monotonic() + 15
    while primary.execute("SELECT sync_state FROM pg_stat_replication") != [(state,)]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replica did not become {state}")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=3000, help="Redis writes per mode")
    parser.add_argument("--commits", type=int, default=1000, help="PostgreSQL commits per mode")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    directory = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    directory.chmod(0o755)  # the postgres user goes through it to its clusters
    try:
        print("\n".join(redis_figures(directory, args.writes)))
        print("\n".join(postgres_figures(directory, args.commits)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    load = os.getloadavg()
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
