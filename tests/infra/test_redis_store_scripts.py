"""The Redis store's Lua scripts (INCR with its expiry, a tag set) go by their SHA-1 in the same round trip as the
rest of a write: no ``SCRIPT EXISTS`` before each pipeline, and a server that lost them (restarted, a replica
promoted) gets them again without a failed request. On a Redis of the test's own (``SCRIPT FLUSH`` and the
command statistics are the test's alone)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.store import build_store
from infra.store.redis import RedisStore
from tests.redis_servers import RedisServer, redis_server

__all__ = ["redis_server"]


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    built = build_store(redis_server.url(), "scripts:")
    assert isinstance(built, RedisStore)
    yield built
    built.close()


def _calls(server: RedisServer) -> dict[str, int]:
    stats = server.client().info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def test_scripted_writes_are_one_round_trip_without_script_exists(store: RedisStore, redis_server: RedisServer) -> None:
    store.incr("counter", 60)
    store.set("session", "data", 60, sid="a-sid", sub="a-sub")
    redis_server.client().config_resetstat()
    for _ in range(5):
        store.incr("counter", 60)
        store.set("session", "data", 60, sid="a-sid", sub="a-sub")
    calls = _calls(redis_server)
    assert calls.get("evalsha") == 15  # one INCR script and two tag scripts per round
    assert "script|exists" not in calls and "script|load" not in calls
    assert store.incr("counter", 60) == 7


def test_a_server_that_lost_the_scripts_gets_them_again(store: RedisStore, redis_server: RedisServer) -> None:
    assert store.incr("counter", 60) == 1
    redis_server.client().script_flush()
    assert store.incr("counter", 60) == 2, "counted once, after the scripts were loaded again"
    store.set("session", "data", 60, sid="a-sid")
    redis_server.client().script_flush()
    store.set("session", "other", 60, sid="a-sid")
    assert store.get("session") == "other"
    assert store.delete_tagged(sid="a-sid") == 1
    assert store.get("session") is None
