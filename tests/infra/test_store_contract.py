"""One contract, every implementation of the ephemeral store (infra.store).

The same tests run on the SQL store over SQLite (in a file of its own, as the IdP and the console keep it), the SQL
store on the main SQLite database (as the portal keeps it), the SQL store over PostgreSQL, the Redis store and the
in-memory store of the development provider, so that the embedded default and production cannot drift apart.
Expiry is tested with real one-second TTLs (Redis has no clock to move), grouped so that each back end waits about
once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import MetaData

from infra.db import make_engine
from infra.store import EphemeralStore, build_store
from infra.store.interface import Entry
from infra.store.memory import MemoryStore
from infra.store.redis import RedisStore
from infra.store.sql import STANDALONE_TABLE, SQLStore, ephemeral_table
from tests import backends

T = TypeVar("T")

IMPLEMENTATIONS = ["sql-sqlite-own-file", "sql-sqlite", "sql-postgresql", "redis", "memory"]


@pytest.fixture(params=IMPLEMENTATIONS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], EphemeralStore]]:
    """A factory of stores on one back end; each call takes a key prefix (stores of one test share the data)."""
    run = f"contract:{uuid.uuid4().hex}:"
    made: list[EphemeralStore] = []
    cleanups: list[Callable[[], None]] = []

    if request.param == "sql-sqlite-own-file":
        main_engine = make_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
        cleanups.append(main_engine.dispose)

        def factory(prefix: str) -> EphemeralStore:
            return build_store(
                None, run + prefix, engine=main_engine, table=STANDALONE_TABLE, sqlite_file_of_its_own=True
            )

    elif request.param == "sql-sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
        table = ephemeral_table(MetaData(), "app_ephemeral")
        table.create(engine)
        cleanups.append(engine.dispose)

        def factory(prefix: str) -> EphemeralStore:
            return build_store(None, run + prefix, engine=engine, table=table)

    elif request.param == "sql-postgresql":
        pg = request.getfixturevalue("postgres")
        if isinstance(pg, str):
            backends.unavailable(pg)
        assert isinstance(pg, backends.PostgresDatabase)
        from idp.models.ephemeral import ephemeral_entry  # the IdP's migrated table

        def factory(prefix: str) -> EphemeralStore:
            return build_store(None, run + prefix, engine=pg.engine, table=ephemeral_entry)

    elif request.param == "redis":
        reason = backends.redis_reason()
        if reason:
            backends.unavailable(reason)
        cleanups.append(lambda: backends.clear_redis_prefix(run))

        def factory(prefix: str) -> EphemeralStore:
            return build_store(backends.REDIS_URL, run + prefix)

    else:
        shared = MemoryStore()  # one process's memory: stores of one test share it, as they share a database
        cleanups.append(shared.close)

        def factory(prefix: str) -> EphemeralStore:
            return shared.view(run + prefix)

    def tracked(prefix: str) -> EphemeralStore:
        store = factory(prefix)
        made.append(store)
        return store

    yield tracked

    for store in made:
        if not isinstance(store, MemoryStore):
            store.close()
    for cleanup in cleanups:
        cleanup()


@pytest.fixture
def store(make_store: Callable[[str], EphemeralStore]) -> EphemeralStore:
    return make_store("a:")


def race(workers: int, task: Callable[[], T]) -> list[T]:
    """Run ``task`` in ``workers`` threads released together by a barrier; return every result."""
    barrier = threading.Barrier(workers)

    def run() -> T:
        barrier.wait(timeout=30)
        return task()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run) for _ in range(workers)]
        return [future.result(timeout=60) for future in futures]


# --- the chosen implementation ----------------------------------------------------------------------------------


def test_build_store_picks_the_expected_implementation(request, store):
    implementation = request.node.callspec.params["make_store"]
    assert isinstance(store, EphemeralStore)
    expected = {"redis": RedisStore, "memory": MemoryStore}.get(implementation, SQLStore)
    assert isinstance(store, expected)
    if implementation == "sql-sqlite-own-file":
        # The store lives in a file of its own so that a request holding the main database never waits on it.
        assert str(store.engine.url).endswith("app-ephemeral.sqlite3")


# --- set / get / ttl / delete ------------------------------------------------------------------------------------


def test_get_returns_what_set_stored(store):
    assert store.get("k") is None
    store.set("k", "première valeur", 60)
    assert store.get("k") == "première valeur"


def test_set_replaces_value_and_expiry(store):
    store.set("k", "v1", 60)
    store.set("k", "v2", 600)
    assert store.get("k") == "v2"
    assert store.ttl("k") in range(590, 601)


def test_ttl_reports_seconds_left_or_none(store):
    assert store.ttl("absent") is None
    store.set("k", "v", 100)
    assert store.ttl("k") in range(98, 101)


def test_set_retiring_writes_the_other_entry_with_its_own_expiry_and_tags(store):
    store.set("session:ancien", "données", 600, sid="sid-1")
    retired = Entry("session:ancien", "données retirées", 30, sid="sid-1")
    store.set("session:nouveau", "données", 120, sid="sid-1", retiring=retired)
    assert store.get("session:ancien") == "données retirées"
    assert store.ttl("session:ancien") in range(28, 31), "its own expiry, shorter than the one it had"
    assert store.get("session:nouveau") == "données"
    assert store.ttl("session:nouveau") in range(118, 121)
    assert store.delete_tagged(sid="sid-1") == 2, "both carry the tag: a logout ends both"
    assert store.get("session:ancien") is None and store.get("session:nouveau") is None


def test_take_leaving_writes_a_mark_in_the_same_call(store):
    store.set("tx", "requête", 600)
    assert store.take("tx", leaving=Entry("tx:fait", "paramètres", 30)) == "requête"
    assert store.get("tx") is None
    assert store.get("tx:fait") == "paramètres"
    assert store.ttl("tx:fait") in range(28, 31)
    assert store.take("tx", leaving=Entry("tx:fait", "paramètres", 30)) is None, "taken once only"
    assert store.get("tx:fait") == "paramètres"


def test_delete_removes_and_tolerates_absent_keys(store):
    store.set("k", "v", 60)
    store.delete("k")
    assert store.get("k") is None
    assert store.ttl("k") is None
    store.delete("k")  # absent: no error
    assert store.add("k", "again", 60) is True


# --- batched -------------------------------------------------------------------------------------------------------


def test_a_batched_block_reads_its_own_writes_in_order_and_leaves_them_all_stored(store):
    store.set("k", "avant", 60)
    with store.batched():
        store.set("a", "un", 60, sid="sid-b")
        store.set("k", "pendant", 60)
        assert store.get("k") == "pendant", "a read sees the block's write"
        store.set("b", "deux", 120)
        assert store.ttl("b") in range(118, 121)
        store.set("c", "trois", 60)
        assert store.take("c") == "trois"
        store.set("d", "quatre", 60)
        with store.batched():  # nested: one block
            store.set("e", "cinq", 60)
        store.set("n", "1", 60)
        assert store.incr("n", 60) == 2
        store.set("f", "six", 60)
    assert [store.get(k) for k in ("a", "k", "b", "c", "d", "e", "n", "f")] == [
        "un",
        "pendant",
        "deux",
        None,
        "quatre",
        "cinq",
        "2",
        "six",
    ]
    assert store.delete_tagged(sid="sid-b") == 1


def test_a_batched_block_that_raises_still_stores_its_writes(store):
    with pytest.raises(RuntimeError), store.batched():
        store.set("k", "écrit", 60)
        raise RuntimeError("the block failed")
    assert store.get("k") == "écrit"
    store.set("after", "v", 60)  # no block left open in this thread
    assert store.get("after") == "v"


def test_a_deferrable_delete_is_done_by_the_end_of_the_block_in_order(store):
    store.set("count", "3", 60)
    store.delete("count", deferrable=True)  # outside a block: at once
    assert store.get("count") is None
    for value in ("4", "5", "6"):
        store.set("count", value, 60)
        with store.batched(sets=False):
            store.delete("count", deferrable=True)
            if value == "4":
                assert store.get("count") is None, "a read sees the block's delete"
            elif value == "5":
                assert store.incr("count", 60) == 1, "the delete reaches the store before the next call"
                store.delete("count", deferrable=True)
        assert store.get("count") is None


def test_a_block_of_deferred_deletes_holds_its_inner_blocks_writes_and_sends_its_own_sets_in_order(store):
    store.set("tries", "2", 60)
    store.set("tx", "avant", 60)
    with store.batched(sets=False):
        store.delete("tries", deferrable=True)
        with store.batched():
            store.set("tx", "pendant", 60)
            store.set("captcha", "40213", 60, sid="sid-d")
        store.set("session", "données", 60)
        store.set("tx", "après", 60)
        assert store.take("captcha") == "40213"
        store.delete("tries", deferrable=True)
    assert [store.get(k) for k in ("tries", "tx", "captcha", "session")] == [None, "après", None, "données"]
    assert store.delete_tagged(sid="sid-d") == 0, "the tagged entry was taken"


# --- add -----------------------------------------------------------------------------------------------------------


def test_add_stores_only_if_absent(store):
    assert store.add("k", "first", 60) is True
    assert store.add("k", "second", 60) is False
    assert store.get("k") == "first"
    assert store.ttl("k") in range(58, 61)


# --- take ----------------------------------------------------------------------------------------------------------


def test_take_returns_the_value_once(store):
    store.set("k", "once", 60)
    assert store.take("k") == "once"
    assert store.take("k") is None
    assert store.get("k") is None
    assert store.take("never-set") is None


# --- incr ----------------------------------------------------------------------------------------------------------


def test_incr_counts_from_one(store):
    assert [store.incr("n", 60) for _ in range(3)] == [1, 2, 3]
    assert store.get("n") == "3"
    assert store.ttl("n") in range(58, 61)


def test_incr_expiry_is_set_at_creation_only(store):
    store.incr("n", 60)
    store.incr("n", 6000)  # a later call's TTL must not move the window
    assert store.ttl("n") in range(58, 61)


def test_incr_unless_counts_like_incr_while_no_guard_is_live(store):
    assert [store.incr_unless("n", 60, ["lock-a", "lock-b"]) for _ in range(3)] == [(1, None), (2, None), (3, None)]
    assert store.ttl("n") in range(58, 61)
    store.incr_unless("n", 6000, [])  # a later call's TTL must not move the window
    assert store.ttl("n") in range(58, 61) and store.get("n") == "4"


def test_incr_unless_refuses_without_counting_while_a_guard_is_live(store):
    store.incr("n", 60)
    store.set("lock-a", "1", 30)
    store.add("lock-b", "1", 300)
    assert store.incr_unless("n", 60, ["lock-a", "other"]) == (0, 30)
    assert store.incr_unless("n", 60, ["lock-a", "lock-b"]) == (0, 300), "the longest-lived guard"
    assert store.get("n") == "1", "a refused try is not counted"
    store.delete("lock-a")
    store.delete("lock-b")
    assert store.incr_unless("n", 60, ["lock-a", "lock-b"]) == (2, None)


def test_incr_unless_counts_every_try_exactly_once_across_16_threads(store):
    """Of 800 tries, those that ran before the lock each get a distinct count (a few may pass 400 while the 400th
    sets the lock); every other one is refused with the lock's time left, uncounted."""

    def fifty() -> list[tuple[int, int | None]]:
        results = []
        for _ in range(50):
            count, locked = store.incr_unless("tries", 60, ["lock"])
            if count == 400:
                store.add("lock", "1", 60)
            results.append((count, locked))
        return results

    results = [r for thread in race(16, fifty) for r in thread]
    counted = sorted(count for count, _ in results if count)
    assert counted == list(range(1, len(counted) + 1)), "every counted try gets a distinct value"
    assert 400 <= len(counted) < 800 and store.get("tries") == str(len(counted))
    refused = [locked for count, locked in results if count == 0]
    assert len(refused) == 800 - len(counted) and all(locked in range(58, 61) for locked in refused)


# --- expiry (real one-second TTLs) --------------------------------------------------------------------------------


def test_expired_entries_behave_as_absent(store):
    store.set("get", "v", 1)
    store.add("add", "old", 1)
    store.set("take", "v", 1)
    store.incr("counter", 1)
    store.set("guard", "1", 1)
    store.set("ttl", "v", 1)
    store.set("alive", "v", 60)
    time.sleep(1.2)
    assert store.get("get") is None
    assert store.ttl("ttl") is None
    assert store.take("take") is None
    # Several processes may find the same expired key at once: exactly one of them replaces it.
    added = race(32, lambda: store.add("add", "new", 60))
    assert added.count(True) == 1, "an expired key must be replaceable by add, by exactly one caller"
    assert store.get("add") == "new"
    assert store.incr("counter", 60) == 1, "an expired counter restarts"
    assert store.ttl("counter") in range(58, 61), "the restarted counter gets a new window"
    assert store.incr_unless("counter", 60, ["guard"]) == (2, None), "an expired guard does not refuse"
    assert store.get("alive") == "v"


def test_incr_window_is_fixed_not_sliding(store):
    assert store.incr("n", 1) == 1
    time.sleep(0.6)
    assert store.incr("n", 1) == 2  # a sliding window would now end 1 s from here
    assert store.ttl("n") == 1
    time.sleep(0.6)
    assert store.get("n") is None
    assert store.incr("n", 1) == 1


# --- prefixes ------------------------------------------------------------------------------------------------------


def test_prefixes_isolate_stores(make_store):
    first, second = make_store("one:"), make_store("two:")
    first.set("k", "un", 60)
    assert second.get("k") is None
    assert second.add("k", "deux", 60) is True
    assert first.get("k") == "un"
    assert second.take("k") == "deux"
    assert first.get("k") == "un"
    assert first.incr("n", 60) == 1
    assert second.incr("n", 60) == 1
    second.delete("k")
    first.delete("other")
    assert first.get("k") == "un"


# --- concurrency ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_take_has_exactly_one_winner_among_32_threads(store, round_):
    store.set("link", f"secret-{round_}", 60)
    results = race(32, lambda: store.take("link"))
    assert results.count(f"secret-{round_}") == 1
    assert results.count(None) == 31
    assert store.get("link") is None


@pytest.mark.parametrize("round_", range(3))
def test_add_has_exactly_one_winner_among_32_threads(store, round_):
    counter = iter(range(32))
    lock = threading.Lock()

    def attempt() -> tuple[bool, str]:
        with lock:
            mine = f"thread-{next(counter)}"
        return store.add("replay", mine, 60), mine

    results = race(32, attempt)
    winners = [mine for stored, mine in results if stored]
    assert len(winners) == 1
    assert store.get("replay") == winners[0]


def test_incr_loses_no_update_across_16_threads(store):
    def fifty() -> list[int]:
        return [store.incr("hits", 60) for _ in range(50)]

    results = race(16, fifty)
    values = sorted(value for thread in results for value in thread)
    assert values == list(range(1, 801)), "every increment returns a distinct value"
    assert store.get("hits") == "800"


# --- tags ----------------------------------------------------------------------------------------------------------


def test_delete_tagged_removes_the_entries_of_a_session_or_a_subject(store):
    store.set("s1", "a", 60, sid="sid-1", sub="sub-1")
    store.set("s2", "b", 60, sid="sid-2", sub="sub-1")
    store.set("s3", "c", 60, sid="sid-3", sub="sub-2")
    store.set("untagged", "d", 60)
    assert store.delete_tagged(sid="sid-1") == 1
    assert [store.get(k) for k in ("s1", "s2", "s3", "untagged")] == [None, "b", "c", "d"]
    assert store.delete_tagged(sub="sub-1") == 1
    assert [store.get(k) for k in ("s2", "s3", "untagged")] == [None, "c", "d"]
    assert store.delete_tagged(sid="sid-1") == 0
    assert store.delete_tagged() == 0
    assert store.get("s3") == "c"


def test_set_replaces_the_tags(store):
    store.set("s", "v", 60, sid="old")
    store.set("s", "w", 60, sid="new")
    assert store.delete_tagged(sid="new") == 1
    assert store.get("s") is None


def test_delete_tagged_stays_within_a_prefix(make_store):
    first, second = make_store("one:"), make_store("two:")
    first.set("s", "un", 60, sid="shared")
    second.set("s", "deux", 60, sid="shared")
    assert first.delete_tagged(sid="shared") == 1
    assert (first.get("s"), second.get("s")) == (None, "deux")


def test_purge_expired_removes_only_expired_entries(store):
    store.set("short", "v", 1)
    store.set("long", "v", 60)
    time.sleep(1.2)
    assert store.purge_expired() >= 0  # Redis expires entries itself and reports none
    assert store.get("short") is None
    assert store.get("long") == "v"
