"""The waiting room « Salle d'attente »: admission control for the opening rush, shared by every process.

A deployment serves at most ``capacity`` journeys at once (a journey: from « Accéder au portail Élections » to the
ballot cast or the sign-out). A voter who arrives beyond it gets a place in a queue, in arrival order, and asks
again every few seconds (the page refreshes itself); when a journey ends, or its lease runs out, the head of the
queue gets the freed slot. So the servers work at the rate they are sized for instead of serving everyone slowly,
and a voter waits on a cheap page rather than in a web server's backlog.

The queue is one data structure shared by every web process on every machine, in the app's ephemeral store: Redis
(sorted sets, one Lua script per call: atomic) in production, the store's SQL table on the embedded default (one
locked transaction per call). Both pass the same contract tests (``tests/infra/test_waiting_room.py``).

One call, :meth:`WaitingRoom.visit`, does everything on each arrival or refresh, atomically:

1. forget the slots whose lease ran out (abandoned journeys) and the places whose holder stopped asking (their
   deadline passed: the page was closed);
2. give the free slots to the heads of the queue, in arrival order: a slot *reserved* for a voter who is not there
   at this instant is kept for them until their own deadline, then given to the next;
3. for the visitor: a new arrival takes the next place; a place with a slot is admitted (the slot's lease starts);
   any other place is kept (its deadline pushed back) and its rank returned.

Admission is decided once per voter: the caller marks the voter's session as admitted, and never sends an admitted
voter back to the waiting room, whatever the counts say afterwards. :meth:`WaitingRoom.release` ends a journey's
slot early (ballot cast, sign-out); :meth:`WaitingRoom.extend` keeps it while the journey goes on.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from infra.store.interface import EphemeralStore

#: Seconds over which the admission rate is measured (for the estimated wait).
RATE_WINDOW = 60
_RATE_BUCKET = 10


@dataclass(frozen=True)
class Visit:
    """The answer to one visit: admitted (with the slot's ticket), or a place in the queue."""

    ticket: str
    admitted: bool
    #: 1 for the head of the queue; 0 when admitted.
    place: int = 0
    #: Voters waiting, this one included.
    waiting: int = 0
    #: Journeys in progress (slots taken or reserved).
    in_progress: int = 0
    #: Voters admitted per second lately (0 when none yet).
    rate: float = 0.0


class WaitingRoom(Protocol):
    def visit(self, ticket: str | None, *, capacity: int, place_timeout: float, lease: float) -> Visit:
        """An arrival (``ticket`` None) or a refresh; see the module docstring."""
        raise NotImplementedError

    def extend(self, ticket: str, lease: float) -> None:
        """Push back the end of an admitted journey's lease (it is still going on)."""
        raise NotImplementedError

    def release(self, ticket: str) -> None:
        """The journey holding ``ticket`` ended: its slot is free for the queue."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget every place and slot (tests, or an operator resetting the room)."""
        raise NotImplementedError


def new_ticket() -> str:
    return secrets.token_urlsafe(16)


def _rate_buckets(now: float) -> list[int]:
    current = int(now) // _RATE_BUCKET
    return [current - n for n in range(RATE_WINDOW // _RATE_BUCKET)]


# --- Redis ----------------------------------------------------------------------------------------------------------

# KEYS: 1 queue (zset ticket → arrival number), 2 deadlines (zset ticket → when its place is forgotten),
#       3 slots (zset ticket → lease end, or claim deadline of a reserved slot), 4 reserved (set of reserved tickets),
#       5 arrival counter, 6 this rate bucket, 7.. the rate buckets of the window
# ARGV: 1 now, 2 ticket, 3 capacity, 4 place timeout, 5 lease
_VISIT = """
local now = tonumber(ARGV[1])
local ticket = ARGV[2]
local capacity = tonumber(ARGV[3])
local place_timeout = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local function remove_all(command, key, members)
  for i = 1, #members, 1000 do
    redis.call(command, key, unpack(members, i, math.min(i + 999, #members)))
  end
end
-- 1. abandoned slots and places
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  remove_all('SREM', KEYS[4], gone)
end
local left = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #left > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  remove_all('ZREM', KEYS[1], left)
end
-- a new arrival takes the next place
if not redis.call('ZSCORE', KEYS[3], ticket) and not redis.call('ZSCORE', KEYS[1], ticket) then
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), ticket)
end
-- 2. free slots to the heads of the queue (reserved for each until their own deadline)
local free = capacity - redis.call('ZCARD', KEYS[3])
if free > 0 then
  local heads = redis.call('ZRANGE', KEYS[1], 0, free - 1)
  for _, head in ipairs(heads) do
    local deadline = redis.call('ZSCORE', KEYS[2], head) or (now + place_timeout)
    redis.call('ZADD', KEYS[3], deadline, head)
    redis.call('SADD', KEYS[4], head)
    redis.call('ZREM', KEYS[1], head)
    redis.call('ZREM', KEYS[2], head)
  end
  if #heads > 0 then
    redis.call('INCRBY', KEYS[6], #heads)
    redis.call('EXPIRE', KEYS[6], 120)
  end
end
-- 3. the visitor's answer: a reserved slot is claimed (its lease starts), or the place kept
local admissions = 0
for i = 7, #KEYS do admissions = admissions + tonumber(redis.call('GET', KEYS[i]) or '0') end
if redis.call('ZSCORE', KEYS[3], ticket) then
  if redis.call('SREM', KEYS[4], ticket) == 1 then
    redis.call('ZADD', KEYS[3], now + lease, ticket)
  end
  return {1, 0, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[3]), admissions}
end
redis.call('ZADD', KEYS[2], now + place_timeout, ticket)
return {0, redis.call('ZRANK', KEYS[1], ticket) + 1, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[3]),
        admissions}
"""


class RedisWaitingRoom:
    """:class:`WaitingRoom` on Redis, its keys under ``<prefix>waiting-room:``."""

    def __init__(self, client: object, prefix: str = "") -> None:
        import redis

        assert isinstance(client, redis.Redis)
        self.client = client
        base = f"{prefix}waiting-room:"
        self.keys = [base + name for name in ("queue", "deadlines", "slots", "reserved", "arrivals")]
        self.rate_prefix = base + "admitted:"
        self._visit = client.register_script(_VISIT)

    def visit(self, ticket: str | None, *, capacity: int, place_timeout: float, lease: float) -> Visit:
        ticket = ticket or new_ticket()
        now = time.time()
        buckets = [f"{self.rate_prefix}{b}" for b in _rate_buckets(now)]
        admitted, place, waiting, in_progress, admissions = cast(
            "list[int]",
            self._visit(
                keys=[*self.keys, buckets[0], *buckets], args=[now, ticket, max(0, capacity), place_timeout, lease]
            ),
        )
        return Visit(ticket, bool(admitted), int(place), int(waiting), int(in_progress), int(admissions) / RATE_WINDOW)

    def extend(self, ticket: str, lease: float) -> None:
        self.client.zadd(self.keys[2], {ticket: time.time() + lease}, xx=True)

    def release(self, ticket: str) -> None:
        with self.client.pipeline() as pipe:
            pipe.zrem(self.keys[2], ticket)
            pipe.srem(self.keys[3], ticket)
            pipe.execute()

    def clear(self) -> None:
        self.client.delete(*self.keys)


# --- SQL (the embedded default) ---------------------------------------------------------------------------------------


class SQLWaitingRoom:
    """:class:`WaitingRoom` on the ephemeral store's table: places, slots and counters are rows under
    ``<prefix>waiting-room:``; each visit is one transaction holding a lock (PostgreSQL: an advisory lock; SQLite:
    the database's write lock, taken at ``BEGIN IMMEDIATE``)."""

    _LOCK = 0x77616974  # "wait"

    def __init__(self, engine: Engine, table: Table, prefix: str = "") -> None:
        self.engine = engine
        self.table = table
        base = f"{prefix}waiting-room:"
        self.place_prefix = base + "place:"
        self.slot_prefix = base + "slot:"
        self.arrivals_key = base + "arrivals"
        self.rate_prefix = base + "admitted:"
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def _lock(self, conn: Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._LOCK})

    def _counter(self, conn: Connection, key: str, by: int, ttl: float, now: float) -> int:
        c = self.table.c
        current = conn.execute(select(c.value).where(c.key == key, c.expires_at > now)).scalar_one_or_none()
        value = int(current or 0) + by
        stmt = self._insert(self.table).values(key=key, value=str(value), expires_at=now + ttl)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[c.key], set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at}
            )
        )
        return value

    def visit(self, ticket: str | None, *, capacity: int, place_timeout: float, lease: float) -> Visit:
        ticket = ticket or new_ticket()
        now = time.time()
        c = self.table.c
        places, slots = c.key.startswith(self.place_prefix), c.key.startswith(self.slot_prefix)
        mine_place, mine_slot = self.place_prefix + ticket, self.slot_prefix + ticket
        with self.engine.begin() as conn:
            self._lock(conn)
            # 1. abandoned slots and places (a row past its expiry)
            conn.execute(delete(self.table).where(places | slots, c.expires_at <= now))
            slot = conn.execute(select(c.value).where(c.key == mine_slot)).scalar_one_or_none()
            if slot is None and conn.execute(select(c.key).where(c.key == mine_place)).first() is None:
                number = self._counter(conn, self.arrivals_key, 1, 86400, now)
                conn.execute(
                    self._insert(self.table).values(
                        key=mine_place, value=f"{number:020d}", expires_at=now + place_timeout
                    )
                )
            # 2. free slots to the heads of the queue
            taken = int(conn.execute(select(func.count()).where(slots)).scalar_one())
            free = capacity - taken
            if free > 0:
                heads = conn.execute(select(c.key, c.expires_at).where(places).order_by(c.value).limit(free)).all()
                for key, deadline in heads:
                    holder = key[len(self.place_prefix) :]
                    conn.execute(delete(self.table).where(c.key == key))
                    until = now + lease if holder == ticket else deadline
                    conn.execute(
                        self._insert(self.table).values(
                            key=self.slot_prefix + holder, value="reserved", expires_at=until
                        )
                    )
                if heads:
                    self._counter(conn, self.rate_prefix + str(_rate_buckets(now)[0]), len(heads), 120, now)
            # 3. the visitor's answer
            in_progress = int(conn.execute(select(func.count()).where(slots)).scalar_one())
            waiting = int(conn.execute(select(func.count()).where(places)).scalar_one())
            rate_keys = [self.rate_prefix + str(b) for b in _rate_buckets(now)]
            admissions = sum(
                int(v) for v in conn.execute(select(c.value).where(c.key.in_(rate_keys), c.expires_at > now)).scalars()
            )
            slot = conn.execute(select(c.value).where(c.key == mine_slot)).scalar_one_or_none()
            if slot is not None:
                if slot == "reserved":
                    conn.execute(
                        update(self.table).where(c.key == mine_slot).values(value="taken", expires_at=now + lease)
                    )
                return Visit(ticket, True, 0, waiting, in_progress, admissions / RATE_WINDOW)
            conn.execute(update(self.table).where(c.key == mine_place).values(expires_at=now + place_timeout))
            number = conn.execute(select(c.value).where(c.key == mine_place)).scalar_one()
            ahead = int(conn.execute(select(func.count()).where(places, c.value < number)).scalar_one())
            return Visit(ticket, False, ahead + 1, waiting, in_progress, admissions / RATE_WINDOW)

    def extend(self, ticket: str, lease: float) -> None:
        c = self.table.c
        with self.engine.begin() as conn:
            conn.execute(
                update(self.table).where(c.key == self.slot_prefix + ticket).values(expires_at=time.time() + lease)
            )

    def release(self, ticket: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.key == self.slot_prefix + ticket))

    def clear(self) -> None:
        c = self.table.c
        with self.engine.begin() as conn:
            conn.execute(delete(self.table).where(c.key.startswith(self.place_prefix.rsplit("place:", 1)[0])))


def for_store(store: EphemeralStore) -> WaitingRoom:
    """The waiting room kept where ``store`` keeps its entries (Redis, or the SQL store's table)."""
    from infra.store.redis import RedisStore
    from infra.store.sql import SQLStore

    if isinstance(store, RedisStore):
        return RedisWaitingRoom(store.client, store.prefix)
    if isinstance(store, SQLStore):
        return SQLWaitingRoom(store.engine, store.table, store.prefix)
    raise TypeError(f"no waiting room for a {type(store).__name__}")
