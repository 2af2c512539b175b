"""The ephemeral store during an outage: every implementation raises StoreUnavailable (never its driver's error),
within a bounded time, and serves again once its server is back — on real servers of the test's own (a Redis
stopped, paused or restarted empty; a PostgreSQL address where nothing listens)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from infra.config import ConfigError, Settings
from infra.db import make_engine
from infra.store import StoreUnavailable, build_store
from infra.store import redis as redis_store
from infra.store.redis import RedisSettings, RedisStore, parse_sentinels
from infra.store.sql import SQLStore, ephemeral_table
from tests.delivery_servers import free_port
from tests.redis_servers import RedisServer, redis_server, wait_until

__all__ = ["redis_server"]

#: Every operation of the store's interface, with arguments.
OPERATIONS: dict[str, Callable[[Any], object]] = {
    "set": lambda s: s.set("k", "v", 60, sid="a-sid"),
    "add": lambda s: s.add("k2", "v", 60),
    "get": lambda s: s.get("k"),
    "take": lambda s: s.take("k"),
    "incr": lambda s: s.incr("n", 60),
    "ttl": lambda s: s.ttl("k"),
    "delete": lambda s: s.delete("k"),
    "delete_tagged": lambda s: s.delete_tagged(sid="a-sid"),
}


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    built = build_store(redis_server.url(), "outage:")
    assert isinstance(built, RedisStore)
    yield built
    built.close()


def every_operation_fails(store: Any, *, within: float) -> None:
    for name, operation in OPERATIONS.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            operation(store)
        assert time.monotonic() - started < within, f"{name} took too long"


def test_redis_stopped_every_operation_raises_store_unavailable_at_once(
    store: RedisStore, redis_server: RedisServer
) -> None:
    store.set("k", "v", 60)  # a pooled connection exists: it dies with the server
    redis_server.stop()
    store.cooldown = 0  # each operation really goes to the server
    every_operation_fails(store, within=0.5)


def test_redis_that_hangs_costs_one_timeout_then_fails_fast(store: RedisStore, redis_server: RedisServer) -> None:
    store.set("k", "v", 60)
    redis_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("k")
        first = time.monotonic() - started
        assert 0.9 <= first < 2.0, "one read timeout (REDIS_TIMEOUT, 1 s), one at most"
        # Within the cooldown, nobody else waits on the hung server.
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.set("k", "w", 60)
        assert time.monotonic() - started < 0.05
    finally:
        redis_server.resume()


def test_redis_restarted_empty_serves_again_after_the_cooldown(store: RedisStore, redis_server: RedisServer) -> None:
    store.set("k", "v", 60)
    assert store.incr("attempts", 900) == 1
    redis_server.stop()
    with pytest.raises(StoreUnavailable):
        store.get("k")
    redis_server.start()  # same port, no data
    # The pooled connection died with the first server: the store reconnects by itself, no restart of the app.
    took = wait_until(lambda: store.get("k") is None, 3, "the store serves again")
    assert took <= store.cooldown + 0.5
    assert store.incr("attempts", 900) == 1, "a restart without persistence starts the counters again"
    store.set("k", "w", 60)
    assert store.get("k") == "w"


def test_a_programming_error_is_not_an_outage(store: RedisStore) -> None:
    store.client.lpush("outage:listkey", "x")
    with pytest.raises(Exception) as raised:
        store.get("listkey")  # WRONGTYPE: a bug, raised as itself
    assert not isinstance(raised.value, StoreUnavailable)


def test_the_sql_store_on_a_database_that_does_not_answer_raises_store_unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        every_operation_fails(SQLStore(engine, ephemeral_table(MetaData(), "ephemeral"), "x:"), within=3.5)
    finally:
        engine.dispose()


def test_wait_replicas_makes_writes_wait_for_the_replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    primary = RedisServer(tmp_path).start()
    replica = RedisServer(tmp_path, replica_of=primary).start()
    try:
        primary.wait_for_replicas()
        store = RedisStore.from_settings(RedisSettings(url=primary.url(), wait_replicas=1), "wait:")
        # A generous WAIT while the replica runs: on a loaded machine the replica may need more than the
        # production 200 ms to acknowledge, and this half of the test is about waiting, not giving up.
        monkeypatch.setattr(redis_store, "WAIT_TIMEOUT_MS", 5000)
        store.set("session", "data", 60)
        assert store.incr("attempts", 900) == 1
        assert store.unreplicated_writes == 0
        # WAIT returned: the replica has the writes (no polling needed).
        assert replica.client().get("wait:session") == "data"
        replica.stop()
        wait_until(lambda: primary.client().info("replication")["connected_slaves"] == 0, 10, "replica gone")
        monkeypatch.setattr(redis_store, "WAIT_TIMEOUT_MS", 200)
        started = time.monotonic()
        store.set("session", "more", 60)
        assert time.monotonic() - started < 2.0, "WAIT gives up after 200 ms instead of blocking the request"
        assert store.unreplicated_writes == 1, "a write no replica acknowledged is counted"
        store.close()
    finally:
        replica.close()
        primary.close()


def test_redis_settings_from_an_apps_configuration() -> None:
    assert RedisSettings.from_config({"REDIS_URL": None, "REDIS_SENTINELS": None}) is None
    settings = RedisSettings.from_config(
        {
            "REDIS_URL": "redis://:pw@ignored:6379/2",
            "REDIS_SENTINELS": " s1:26379, [::1]:26380 ,",
            "REDIS_SENTINEL_MASTER": "elections",
            "REDIS_TIMEOUT": 0.5,
            "REDIS_WAIT_REPLICAS": 1,
        }
    )
    assert settings is not None
    assert settings.sentinels == (("s1", 26379), ("::1", 26380))
    assert (settings.master, settings.timeout, settings.wait_replicas) == ("elections", 0.5, 1)
    assert parse_sentinels("") == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REDIS_SENTINELS": "sentinel-without-port"}, "TEST_REDIS_SENTINELS must list host:port pairs"),
        ({"REDIS_SENTINELS": "s1:99999"}, "TEST_REDIS_SENTINELS must list host:port pairs"),
        ({"REDIS_URL": "redis://r", "REDIS_TIMEOUT": 0}, "TEST_REDIS_TIMEOUT must be between 0 and 30"),
        ({"REDIS_URL": "redis://r", "REDIS_WAIT_REPLICAS": -1}, "TEST_REDIS_WAIT_REPLICAS must be 0 or more"),
    ],
)
def test_unusable_redis_settings_are_refused_at_start(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings("TEST_", {}).check_redis(overrides)
