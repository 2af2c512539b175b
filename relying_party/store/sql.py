"""Ephemeral store on the portal's database (the embedded default): the ``portal_ephemeral`` table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from relying_party.db import READ_ONLY
from relying_party.models import EphemeralEntry, utcnow


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(engine)
        self.reader = sessionmaker(engine.execution_options(**{READ_ONLY: True}))
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def get(self, key: str) -> str | None:
        with self.reader() as session:
            row = session.execute(
                select(EphemeralEntry.value).where(EphemeralEntry.key == key, EphemeralEntry.expires_at > utcnow())
            ).first()
            session.rollback()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str, ttl: int, *, idp_sid: str | None = None, idp_sub: str | None = None) -> None:
        values = {
            "key": key,
            "value": value,
            "expires_at": utcnow() + dt.timedelta(seconds=ttl),
            "idp_sid": idp_sid,
            "idp_sub": idp_sub,
        }
        statement = self._insert(EphemeralEntry).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[EphemeralEntry.key],
            set_={name: statement.excluded[name] for name in ("value", "expires_at", "idp_sid", "idp_sub")},
        )
        with self.sessionmaker.begin() as session:
            session.execute(statement)

    def add(self, key: str, value: str, ttl: int) -> bool:
        now = utcnow()
        with self.sessionmaker.begin() as session:
            session.execute(delete(EphemeralEntry).where(EphemeralEntry.key == key, EphemeralEntry.expires_at <= now))
            statement = (
                self._insert(EphemeralEntry)
                .values(key=key, value=value, expires_at=now + dt.timedelta(seconds=ttl))
                .on_conflict_do_nothing(index_elements=[EphemeralEntry.key])
            )
            result = session.execute(statement)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, key: str) -> None:
        with self.sessionmaker.begin() as session:
            session.execute(delete(EphemeralEntry).where(EphemeralEntry.key == key))

    def delete_tagged(self, *, idp_sid: str | None = None, idp_sub: str | None = None) -> int:
        if idp_sid:
            condition = EphemeralEntry.idp_sid == idp_sid
        elif idp_sub:
            condition = EphemeralEntry.idp_sub == idp_sub
        else:
            return 0
        with self.sessionmaker.begin() as session:
            result = session.execute(delete(EphemeralEntry).where(condition))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def purge_expired(self) -> int:
        with self.sessionmaker.begin() as session:
            result = session.execute(delete(EphemeralEntry).where(EphemeralEntry.expires_at <= utcnow()))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def close(self) -> None:
        """The engine belongs to the application's Database, which disposes of it."""
