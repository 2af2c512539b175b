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


def test_incr_unless_recovers_from_a_server_that_lost_the_scripts(store: RedisStore, redis_server: RedisServer) -> None:
    assert store.incr_unless("tries", 60, ["lock"]) == (1, None)
    redis_server.client().script_flush()
    assert store.incr_unless("tries", 60, ["lock"]) == (2, None), "counted once, after the scripts were loaded again"


def test_single_writes_go_without_a_pipeline(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without WAIT, a write of one command is sent by the client itself: a pipeline of one would cost the same
    round trip and a few µs more of the web process's CPU each."""

    def no_pipeline(*_: object, **__: object) -> None:
        raise AssertionError("a single write built a pipeline")

    monkeypatch.setattr(store.client, "pipeline", no_pipeline)
    assert store.add("replay", "1", 60) is True and store.add("replay", "2", 60) is False
    assert store.take("replay") == "1" and store.take("replay") is None
    assert store.incr("counter", 60) == 1
    assert store.incr_unless("tries", 60, ["lock"]) == (1, None)
    store.delete("tries")
    assert store.get("tries") is None
