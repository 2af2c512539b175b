"""Ephemeral store on a SQL table: the embedded default, so that an app runs without Redis.

The table's layout is the same in every app (:func:`ephemeral_table`); each app creates it in its own migrations
under a name of its own, or, for a store in a database of its own (the IdP's separate SQLite file, the auditors'
console), :meth:`SQLStore.standalone` creates :data:`STANDALONE_TABLE` directly: its content is ephemeral by
definition, so it is not migrated.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    cast,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from infra.db import READ_ONLY, is_unavailable, make_engine
from infra.sqltypes import naming_metadata
from infra.store.interface import Entry, StoreUnavailable

#: Columns every ephemeral table has, in this order (a table created before the tags were added is re-created).
COLUMNS = ("key", "value", "expires_at", "sid", "sub")


def ephemeral_table(metadata: MetaData, name: str) -> Table:
    """The store's table named ``name`` in ``metadata``: key, value, expiry (seconds since the epoch), tags.

    The tag columns are indexed only where set, so that the hot path (CAPTCHAs, counters) pays nothing for them.
    """
    return Table(
        name,
        metadata,
        Column("key", String(200), primary_key=True),
        Column("value", Text, nullable=False),
        #: Expiry as seconds since the epoch (UTC); rows past it are treated as absent and swept lazily.
        Column("expires_at", Float, nullable=False),
        #: The OpenID Connect session and subject an entry (a session) belongs to, for logouts.
        Column("sid", String(200), nullable=True),
        Column("sub", String(200), nullable=True),
        Index(f"ix_{name}_expires_at", "expires_at"),
        *(
            Index(
                f"ix_{name}_{tag}",
                tag,
                postgresql_where=text(f"{tag} IS NOT NULL"),
                sqlite_where=text(f"{tag} IS NOT NULL"),
            )
            for tag in ("sid", "sub")
        ),
    )


#: The table of a store kept in a database of its own.
STANDALONE_TABLE = ephemeral_table(naming_metadata(), "ephemeral_entry")


def sibling_sqlite_url(url: str, suffix: str) -> str:
    """``sqlite:///dir/app.sqlite3`` → ``sqlite:///dir/app-<suffix>.sqlite3`` (a file beside the main one)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if database in {"", ":memory:"}:
        raise ValueError("the SQL ephemeral store needs a SQLite file, not an in-memory database")
    stem = database[: -len(".sqlite3")] if database.endswith(".sqlite3") else database
    return str(parsed.set(database=f"{stem}-{suffix}.sqlite3"))


class SQLStore:
    """Implements :class:`infra.store.interface.EphemeralStore` over an :func:`ephemeral_table`.

    Every operation is one short transaction of its own, independent of the request's session, so that what it
    records (a failed attempt, say) survives a rollback of the request. Reads run in deferred transactions, which
    take no lock on SQLite.
    """

    #: Probability that a write also sweeps expired rows (lazy expiry keeps the table small).
    SWEEP_PROBABILITY = 0.01

    def __init__(self, engine: Engine, table: Table, prefix: str = "", *, owns_engine: bool = False) -> None:
        dialect = engine.dialect.name
        if dialect not in {"sqlite", "postgresql"}:
            raise ValueError(f"the SQL ephemeral store supports SQLite and PostgreSQL, not {dialect}")
        self.engine = engine
        self.table = table
        self.prefix = prefix
        self.owns_engine = owns_engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    @classmethod
    def standalone(cls, url: str, prefix: str = "") -> SQLStore:
        """A store in a database of its own at ``url``, its table created (or re-created if outdated) there."""
        engine = make_engine(url)
        existing = inspect(engine)
        if existing.has_table(STANDALONE_TABLE.name):
            columns = tuple(column["name"] for column in existing.get_columns(STANDALONE_TABLE.name))
            if columns != COLUMNS:
                # A file of an older layout: its content is ephemeral, start afresh rather than migrate it.
                STANDALONE_TABLE.drop(engine)
        STANDALONE_TABLE.create(engine, checkfirst=True)
        return cls(engine, STANDALONE_TABLE, prefix, owns_engine=True)

    def _key(self, key: str) -> str:
        return self.prefix + key

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        """A connection in a transaction of its own (``write``), or one that only reads (no lock on SQLite). A
        database outage raises :class:`StoreUnavailable`."""
        try:
            with self.engine.begin() if write else self._reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(f"SQL store: {type(exc).__name__}") from exc
            raise

    def _maybe_sweep(self) -> None:
        if random.random() < self.SWEEP_PROBABILITY:  # noqa: S311 - not a security decision
            self.purge_expired()

    def set(
        self,
        key: str,
        value: str,
        ttl: int,
        *,
        sid: str | None = None,
        sub: str | None = None,
        retiring: Entry | None = None,
    ) -> None:
        now = time.time()
        stmt = self._upsert(key, value, now + ttl, sid, sub)
        with self._connection(write=True) as conn:
            if retiring is not None:
                conn.execute(self._upsert(retiring.key, retiring.value, now + retiring.ttl, retiring.sid, retiring.sub))
            conn.execute(stmt)
        self._maybe_sweep()

    def _upsert(self, key: str, value: str, expires_at: float, sid: str | None, sub: str | None) -> Any:
        """The statement that writes ``key`` whether it exists or not, its tags replaced."""
        stmt = self._insert(self.table).values(key=self._key(key), value=value, expires_at=expires_at, sid=sid, sub=sub)
        return stmt.on_conflict_do_update(
            index_elements=[self.table.c.key],
            set_={name: stmt.excluded[name] for name in ("value", "expires_at", "sid", "sub")},
        )

    def batched(self, *, sets: bool = True) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # each write is sent at once

    def add(self, key: str, value: str, ttl: int) -> bool:
        c = self.table.c
        now = time.time()
        insert = self._insert(self.table).values(key=self._key(key), value=value, expires_at=now + ttl)
        # Replace only a row that has expired; a live row makes the statement a no-op (nothing returned).
        stmt = insert.on_conflict_do_update(
            index_elements=[c.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at, "sid": None, "sub": None},
            where=c.expires_at <= now,
        ).returning(c.key)
        with self._connection(write=True) as conn:
            stored = conn.execute(stmt).first() is not None
        self._maybe_sweep()
        return stored

    def get(self, key: str) -> str | None:
        c = self.table.c
        stmt = select(c.value).where(c.key == self._key(key), c.expires_at > time.time())
        with self._connection(write=False) as conn:
            value = conn.execute(stmt).scalar_one_or_none()
        return None if value is None else str(value)

    def take(self, key: str, *, leaving: Entry | None = None) -> str | None:
        c = self.table.c
        stmt = delete(self.table).where(c.key == self._key(key)).returning(c.value, c.expires_at)
        with self._connection(write=True) as conn:
            row = conn.execute(stmt).first()
            if leaving is not None:
                conn.execute(self._upsert(leaving.key, leaving.value, time.time() + leaving.ttl, None, None))
        if row is None or row.expires_at <= time.time():
            return None
        return str(row.value)

    def incr(self, key: str, ttl: int) -> int:
        c = self.table.c
        now = time.time()
        insert = self._insert(self.table).values(key=self._key(key), value="1", expires_at=now + ttl)
        # An expired counter restarts at 1 with a new window; a live one is incremented in place.
        expired = c.expires_at <= now
        stmt = insert.on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "value": case((expired, "1"), else_=cast(cast(c.value, Integer) + 1, String)),
                "expires_at": case((expired, insert.excluded.expires_at), else_=c.expires_at),
            },
        ).returning(c.value)
        with self._connection(write=True) as conn:
            value = conn.execute(stmt).scalar_one()
        return int(value)

    def incr_unless(self, key: str, ttl: int, guards: Sequence[str]) -> tuple[int, int | None]:
        # Not atomic across statements: the guards are looked at before the increment and again after it, so that a
        # guard set in between is seen (the interface's contract).
        left = self._longest_ttl(guards)
        if left:
            return 0, left
        count = self.incr(key, ttl)
        return count, self._longest_ttl(guards)

    def _longest_ttl(self, keys: Sequence[str]) -> int | None:
        if not keys:
            return None
        c = self.table.c
        stmt = select(func.max(c.expires_at)).where(c.key.in_([self._key(k) for k in keys]))
        with self._connection(write=False) as conn:
            return _seconds_left(conn.execute(stmt).scalar_one_or_none())

    def ttl(self, key: str) -> int | None:
        c = self.table.c
        stmt = select(c.expires_at).where(c.key == self._key(key))
        with self._connection(write=False) as conn:
            return _seconds_left(conn.execute(stmt).scalar_one_or_none())

    def delete(self, key: str, *, deferrable: bool = False) -> None:
        with self._connection(write=True) as conn:
            conn.execute(delete(self.table).where(self.table.c.key == self._key(key)))

    def delete_tagged(self, *, sid: str | None = None, sub: str | None = None) -> int:
        c = self.table.c
        if sid:
            condition = c.sid == sid
        elif sub:
            condition = c.sub == sub
        else:
            return 0
        # Only this store's keys (several stores may share a table under different prefixes).
        stmt = delete(self.table).where(
            condition, c.key.startswith(self.prefix, autoescape=True), c.expires_at > time.time()
        )
        with self._connection(write=True) as conn:
            return int(conn.execute(stmt).rowcount)

    def purge_expired(self) -> int:
        with self._connection(write=True) as conn:
            return int(conn.execute(delete(self.table).where(self.table.c.expires_at <= time.time())).rowcount)

    def close(self) -> None:
        """Dispose of the engine if the store owns it (a database of its own); an app's engine is the app's."""
        if self.owns_engine:
            self.engine.dispose()


def _seconds_left(expires_at: float | None) -> int | None:
    """Whole seconds until ``expires_at`` (rounded up, as Redis's ``TTL``), or None if absent or past."""
    if expires_at is None:
        return None
    left = expires_at - time.time()
    return math.ceil(left) if left > 0 else None
