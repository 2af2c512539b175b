"""The Redis store's batched writes (:meth:`infra.store.redis.RedisStore.batched`): the writes of a block go to
Redis in one round trip with the block's next call, or when it ends, in the order they were made. On a Redis of
the test's own; round trips counted at redis-py's connection (a command or a pipeline sent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.connection

from infra.store import build_store
from infra.store.interface import Entry, StoreUnavailable
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


def test_a_deferred_delete_travels_with_the_next_take_in_one_round_trip(store, redis_server, sent):
    other = Peek(redis_server, sent)
    store.set("fail", "3", 60)
    store.set("tx", "demande", 60)
    del sent[:]
    with store.batched(sets=False):
        store.delete("fail", deferrable=True)
        assert sent == [] and other("fail") == "3", "held: not sent yet"
        assert store.take("tx") == "demande"
        assert len(sent) == 1, "the delete and the take: one pipeline"
        assert other("fail") is None
    assert len(sent) == 1, "nothing left to send"


def test_the_request_block_sends_its_sets_at_once_with_what_it_holds(store, redis_server, sent):
    """A request's block (``sets=False``): the sets of the view's own block stay held after it, and go with the
    session's write, in one round trip; a set outside an inner block is not held."""
    other = Peek(redis_server, sent)
    with store.batched(sets=False):
        with store.batched():
            store.set("tx", "demande", 3600)
            store.set("captcha", "12345", 300)
        assert sent == [] and other("tx") is None, "the inner block's writes stay held"
        store.set("session", "données", 1800)
        assert len(sent) == 1, "with the session's write"
        assert other("tx") == "demande" and other("captcha") == "12345" and other("session") == "données"
        store.set("cache", "chiffres", 60)
        assert len(sent) == 2 and other("cache") == "chiffres", "nothing held: at once"
    assert len(sent) == 2


def test_held_writes_that_run_a_script_go_before_a_take_not_with_it(store, redis_server, sent):
    """A pipeline refused for an unknown script runs again: a take in it would then run twice."""
    store.set("tx", "demande", 60)
    del sent[:]
    with store.batched():
        store.set("session", "données", 60, sid="a-sid")
        assert store.take("tx") == "demande"
        assert len(sent) == 2
    redis_server.client().script_flush()
    store.set("tx", "demande", 60)
    with store.batched():
        store.set("session", "données", 60, sid="a-sid")
        assert store.take("tx") == "demande", "taken once, after the tag's script was loaded again"
    assert store.delete_tagged(sid="a-sid") == 1


def test_a_held_delete_and_a_counter_unknown_to_the_server_count_once(store, redis_server, sent):
    store.set("fail", "3", 60)
    redis_server.client().script_flush()
    del sent[:]
    with store.batched(sets=False):
        store.delete("fail", deferrable=True)
        assert store.incr("fail", 60) == 1, "the pipeline ran again once the scripts were loaded: counted once"
    assert store.get("fail") == "1"


def test_a_take_leaving_a_mark_is_one_round_trip_with_what_the_block_holds(store, redis_server, sent):
    """A completed authorization request: taken, and its mark left, with the writes held before it."""
    other = Peek(redis_server, sent)
    store.set("tx", "demande", 60)
    del sent[:]
    with store.batched(sets=False):
        store.delete("fail", deferrable=True)
        assert store.take("tx", leaving=Entry("tx:completed", "paramètres", 30)) == "demande"
        assert len(sent) == 1, "the held delete, the take and the mark: one pipeline"
    assert other("tx") is None and other("tx:completed") == "paramètres"
    assert store.take("tx", leaving=Entry("tx:completed", "paramètres", 30)) is None
    assert len(sent) == 2


def test_a_new_session_id_and_the_retired_entry_are_one_round_trip(store, redis_server, sent):
    other = Peek(redis_server, sent)
    retired = Entry("session:ancien", "retirée", 30, sid="a-sid")
    store.set("session:nouveau", "données", 1800, sid="a-sid", retiring=retired)
    assert len(sent) == 1
    assert other("session:ancien") == "retirée" and other("session:nouveau") == "données"
    assert store.delete_tagged(sid="a-sid") == 2


def test_a_sign_out_deletes_both_entries_in_one_round_trip(store, redis_server, sent):
    """infra.sessions: the replaced entry's delete is held and goes with the session's own."""
    other = Peek(redis_server, sent)
    store.set("session:ancien", "retirée", 30)
    store.set("session:nouveau", "données", 1800)
    del sent[:]
    with store.batched(sets=False):
        store.delete("session:ancien", deferrable=True)
        store.delete("session:nouveau")
        assert len(sent) == 1
    assert other("session:ancien") is None and other("session:nouveau") is None
