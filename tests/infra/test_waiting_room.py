"""One contract, every implementation of the waiting room (infra.waiting_room): Redis, and the SQL store's table on
SQLite and on PostgreSQL.

Two room objects on one back end stand for two web processes (each has a client or an engine of its own): the order
they hand out is one order. Expiry is tested with real short timeouts (Redis has no clock to move).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from sqlalchemy import MetaData

from infra.db import make_engine
from infra.store import build_store
from infra.waiting_room import WaitingRoom, for_store
from tests import backends

IMPLEMENTATIONS = ["sql-sqlite", "sql-postgresql", "redis"]
#: Timeouts long enough never to run out by accident in a test (a loaded machine), unless a test wants them to.
LONG = 600.0


@pytest.fixture(params=IMPLEMENTATIONS)
def make_room(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], WaitingRoom]]:
    """A factory of rooms on one back end, each with connections of its own (one per "process")."""
    run = f"room:{uuid.uuid4().hex}:"
    cleanups: list[Callable[[], None]] = []
    if request.param == "sql-sqlite":
        from relying_party.models.ephemeral import portal_ephemeral

        url = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
        first = make_engine(url)
        portal_ephemeral.to_metadata(MetaData()).create(first)
        cleanups.append(first.dispose)

        def factory() -> WaitingRoom:
            engine = make_engine(url)
            cleanups.append(engine.dispose)
            return for_store(build_store(None, run, engine=engine, table=portal_ephemeral))

    elif request.param == "sql-postgresql":
        pg = request.getfixturevalue("postgres")
        if isinstance(pg, str):
            backends.unavailable(pg)
        assert isinstance(pg, backends.PostgresDatabase)
        from idp.models.ephemeral import ephemeral_entry  # a migrated table of the suite's layout

        def factory() -> WaitingRoom:
            return for_store(build_store(None, run, engine=pg.engine, table=ephemeral_entry))

    else:
        reason = backends.redis_reason()
        if reason:
            backends.unavailable(reason)
        cleanups.append(lambda: backends.clear_redis_prefix(run))

        def factory() -> WaitingRoom:
            store = build_store(backends.REDIS_URL, run)
            cleanups.append(store.close)
            return for_store(store)

    yield factory
    for cleanup in reversed(cleanups):
        cleanup()


def visit(room: WaitingRoom, ticket: str | None = None, *, capacity: int = 2, place: float = LONG, lease: float = LONG):
    return room.visit(ticket, capacity=capacity, place_timeout=place, lease=lease)


def test_beyond_capacity_voters_wait_in_arrival_order_across_processes(make_room) -> None:
    one, two = make_room(), make_room()
    first, second = visit(one), visit(two)
    assert first.admitted and second.admitted
    waiting = [visit(one if n % 2 else two) for n in range(4)]
    assert [v.admitted for v in waiting] == [False] * 4
    assert [v.place for v in waiting] == [1, 2, 3, 4]
    assert waiting[-1].waiting == 4 and waiting[-1].in_progress == 2
    # Refreshing keeps one's place, from either process.
    assert visit(two, waiting[2].ticket).place == 3
    assert visit(one, waiting[0].ticket).place == 1
    # A journey ends: the head gets the slot; the others move up, in order.
    one.release(first.ticket)
    assert visit(two, waiting[1].ticket).place == 1  # the slot is reserved for the head, not for this one
    head = visit(one, waiting[0].ticket)
    assert head.admitted and head.ticket == waiting[0].ticket
    assert visit(one, waiting[1].ticket).place == 1
    two.release(second.ticket)
    two.release(head.ticket)
    assert visit(two, waiting[1].ticket).admitted
    assert visit(one, waiting[2].ticket).admitted
    assert visit(one, waiting[3].ticket).place == 1


def test_an_admitted_ticket_stays_admitted_while_its_lease_runs(make_room) -> None:
    room = make_room()
    admitted = visit(room, capacity=1)
    assert admitted.admitted
    visit(room, capacity=1)  # someone waits
    again = visit(room, admitted.ticket, capacity=1)
    assert again.admitted and again.ticket == admitted.ticket


def test_a_place_whose_holder_stopped_asking_is_forgotten(make_room) -> None:
    room = make_room()
    holder = visit(room, capacity=1)
    gone = visit(room, capacity=1, place=1.0)  # closes the page: never asks again
    stays = visit(room, capacity=1, place=LONG)
    assert (gone.place, stays.place) == (1, 2)
    time.sleep(1.3)
    assert visit(room, stays.ticket, capacity=1).place == 1
    room.release(holder.ticket)
    assert visit(room, stays.ticket, capacity=1).admitted


def test_an_abandoned_journey_gives_its_slot_back_when_its_lease_ends(make_room) -> None:
    room = make_room()
    abandoned = visit(room, capacity=1, lease=1.0)
    assert abandoned.admitted
    waiting = visit(room, capacity=1)
    assert not waiting.admitted
    time.sleep(1.3)
    assert visit(room, waiting.ticket, capacity=1).admitted


def test_extend_keeps_a_journey_in_progress_past_its_first_lease(make_room) -> None:
    room = make_room()
    journey = visit(room, capacity=1, lease=1.0)
    time.sleep(0.6)
    room.extend(journey.ticket, 30)
    time.sleep(0.7)
    assert not visit(room, capacity=1).admitted


def test_a_slot_reserved_for_an_absent_head_goes_to_the_next_at_the_heads_deadline(make_room) -> None:
    room = make_room()
    holder = visit(room, capacity=1)
    absent = visit(room, capacity=1, place=1.0)
    present = visit(room, capacity=1)
    room.release(holder.ticket)
    # The present voter asks first: the freed slot waits for the head, who is not there yet.
    assert visit(room, present.ticket, capacity=1).place == 1
    time.sleep(1.3)
    assert visit(room, present.ticket, capacity=1).admitted
    assert not visit(room, absent.ticket, capacity=1).admitted  # came back too late: a new place at the end


def test_concurrent_arrivals_never_admit_more_than_the_capacity(make_room) -> None:
    rooms = [make_room() for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        visits = list(pool.map(lambda n: visit(rooms[n % 4], capacity=5), range(40)))
    assert sum(v.admitted for v in visits) == 5
    places = sorted(v.place for v in visits if not v.admitted)
    assert places == list(range(1, 36))
    assert len({v.ticket for v in visits}) == 40


def test_clear_forgets_every_place_and_slot(make_room) -> None:
    room = make_room()
    visit(room, capacity=1)
    visit(room, capacity=1)
    room.clear()
    assert visit(room, capacity=1).admitted


def test_for_store_refuses_a_store_it_cannot_share() -> None:
    from infra.store.memory import MemoryStore

    with pytest.raises(TypeError):
        for_store(MemoryStore())


def test_the_redis_rate_counters_expire() -> None:
    """Everything the Redis room keeps lives in a few keys; the per-interval admission counters expire by themselves."""
    reason = backends.redis_reason()
    if reason:
        backends.unavailable(reason)
    run = f"room:{uuid.uuid4().hex}:"
    store = build_store(backends.REDIS_URL, run)
    client = redis.Redis.from_url(backends.REDIS_URL)
    try:
        room = for_store(store)
        visit(room, capacity=1)
        visit(room, capacity=1)
        counters = list(client.scan_iter(match=f"{run}waiting-room:admitted:*"))
        assert counters and all(client.ttl(k) > 0 for k in counters)
    finally:
        client.close()
        store.close()
        backends.clear_redis_prefix(run)
