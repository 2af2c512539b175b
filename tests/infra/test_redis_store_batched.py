"""The Redis store's batched writes (:meth:`infra.store.redis.RedisStore.batched`): the writes of a block go to
Redis in one round trip with the block's next call, or when it ends, in the order they were made. On a Redis of
the test's own; round trips counted at redis-py's connection (a command or a pipeline sent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.connection

from infra.store import build_store
from infra.store.interface import StoreUnavailable
from infra.store.redis import RedisStore
from tests.redis_servers import RedisServer, redis_server

__all__ = ["redis_server"]


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    built = build_store(redis_server.url(), "batched:")
    assert isinstance(built, RedisStore)
    yield built
    built.close()


@pytest.fixture
def sent(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per round trip of the store (a command or a pipeline sent by redis-py), once connected."""
    store.set("warm-up", "v", 60, sid="warm-up")  # the connection's handshake and the scripts' loading not counted
    trips: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def send(connection: object, *args: object, **kwargs: object) -> object:
        trips.append(1)
        return original(connection, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    return trips


class Peek:
    """Another client's view of the store's keys (its own round trips not counted)."""

    def __init__(self, server: RedisServer, sent: list[int]) -> None:
        self.client, self.sent = server.client(), sent

    def __call__(self, key: str) -> str | None:
        before = len(self.sent)
        value = self.client.get("batched:" + key)
        del self.sent[before:]
        return value  # type: ignore[return-value]


def test_held_writes_travel_with_the_next_read_in_one_round_trip(store, redis_server, sent):
    other = Peek(redis_server, sent)
    with store.batched():
        store.set("tx", "demande", 3600)
        store.set("captcha", "12345", 300, sid="a-sid")
        assert sent == [] and other("tx") is None, "held: not sent yet"
        assert store.ttl("lock") is None
        assert len(sent) == 1, "the two writes and the read: one pipeline"
        assert other("tx") == "demande" and other("captcha") == "12345"
        store.set("session", "données", 1800)
        assert len(sent) == 1
    assert len(sent) == 2, "the block's last write, sent when it ends"
    assert other("session") == "données"
    assert store.delete_tagged(sid="a-sid") == 1


def test_a_write_outside_any_block_is_sent_at_once(store, redis_server, sent):
    store.set("k", "v", 60)
    assert len(sent) == 1 and Peek(redis_server, sent)("k") == "v"


def test_an_outage_when_the_block_ends_is_raised_there(store, redis_server):
    with pytest.raises(StoreUnavailable), store.batched():
        store.set("k", "v", 60)
        redis_server.stop()
