"""Ephemeral store on the SQL database: the embedded default, so the suite runs without Redis."""

from __future__ import annotations

import math
import random
import time

from sqlalchemy import Integer, String, Table, case, cast, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url

from idp.db import make_engine
from idp.models.ephemeral import EphemeralEntry


def _entry_table() -> Table:
    """The mapped table as a ``Table`` (the declarative attribute is typed as any ``FromClause``)."""
    table = EphemeralEntry.__table__
    assert isinstance(table, Table)
    return table


_TABLE = _entry_table()


def separate_sqlite_engine(main: Engine) -> Engine:
    """An engine on ``<main file>-ephemeral.sqlite3`` with the store's table created if missing.

    The content is ephemeral by definition, so the table is created directly rather than migrated.
    """
    url = make_url(str(main.url))
    database = url.database or ""
    if database in {"", ":memory:"}:
        raise ValueError("the SQL ephemeral store needs a SQLite file, not an in-memory database")
    stem = database[: -len(".sqlite3")] if database.endswith(".sqlite3") else database
    engine = make_engine(str(url.set(database=f"{stem}-ephemeral.sqlite3")))
    _TABLE.create(engine, checkfirst=True)
    return engine


class SQLStore:
    """Implements :class:`idp.store.interface.EphemeralStore` over the ``ephemeral_entry`` table.

    Every operation is one short transaction of its own, independent of the request's session, so that what it
    records (a failed attempt, say) survives a rollback of the request.
    """

    #: Probability that a write also sweeps expired rows (lazy expiry keeps the table small).
    SWEEP_PROBABILITY = 0.01

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.engine = engine
        self.prefix = prefix
        dialect = engine.dialect.name
        if dialect not in {"sqlite", "postgresql"}:
            raise ValueError(f"the SQL ephemeral store supports SQLite and PostgreSQL, not {dialect}")
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _maybe_sweep(self) -> None:
        if random.random() < self.SWEEP_PROBABILITY:  # noqa: S311 - not a security decision
            with self.engine.begin() as conn:
                conn.execute(delete(EphemeralEntry).where(EphemeralEntry.expires_at <= time.time()))

    def set(self, key: str, value: str, ttl: int) -> None:
        stmt = self._insert(EphemeralEntry).values(key=self._key(key), value=value, expires_at=time.time() + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[EphemeralEntry.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
        self._maybe_sweep()

    def add(self, key: str, value: str, ttl: int) -> bool:
        now = time.time()
        insert = self._insert(EphemeralEntry).values(key=self._key(key), value=value, expires_at=now + ttl)
        # Replace only a row that has expired; a live row makes the statement a no-op (nothing returned).
        stmt = insert.on_conflict_do_update(
            index_elements=[EphemeralEntry.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at},
            where=EphemeralEntry.expires_at <= now,
        ).returning(EphemeralEntry.key)
        with self.engine.begin() as conn:
            stored = conn.execute(stmt).first() is not None
        self._maybe_sweep()
        return stored

    def get(self, key: str) -> str | None:
        stmt = select(EphemeralEntry.value).where(
            EphemeralEntry.key == self._key(key), EphemeralEntry.expires_at > time.time()
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def take(self, key: str) -> str | None:
        stmt = (
            delete(EphemeralEntry)
            .where(EphemeralEntry.key == self._key(key))
            .returning(EphemeralEntry.value, EphemeralEntry.expires_at)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None or row.expires_at <= time.time():
            return None
        return str(row.value)

    def incr(self, key: str, ttl: int) -> int:
        now = time.time()
        insert = self._insert(EphemeralEntry).values(key=self._key(key), value="1", expires_at=now + ttl)
        table = _TABLE
        # An expired counter restarts at 1 with a new window; a live one is incremented in place.
        expired = table.c.expires_at <= now
        stmt = insert.on_conflict_do_update(
            index_elements=[EphemeralEntry.key],
            set_={
                "value": case((expired, "1"), else_=cast(cast(table.c.value, Integer) + 1, String)),
                "expires_at": case((expired, insert.excluded.expires_at), else_=table.c.expires_at),
            },
        ).returning(EphemeralEntry.value)
        with self.engine.begin() as conn:
            value = conn.execute(stmt).scalar_one()
        return int(value)

    def ttl(self, key: str) -> int | None:
        stmt = select(EphemeralEntry.expires_at).where(EphemeralEntry.key == self._key(key))
        with self.engine.connect() as conn:
            expires_at = conn.execute(stmt).scalar_one_or_none()
        if expires_at is None:
            return None
        left = expires_at - time.time()
        return math.ceil(left) if left > 0 else None

    def delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(EphemeralEntry).where(EphemeralEntry.key == self._key(key)))
