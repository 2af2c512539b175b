"""The ``target`` of the hashchain contract suite: one application's real audit table (the IdP's ``audit_event``,
the portal's ``portal_audit_event``), migrated by that application's migrations, behind that application's own
engine (SQLite's writers ``BEGIN IMMEDIATE``, its readers plain ``BEGIN``), on SQLite and on PostgreSQL.

Every contract test runs on the four combinations, on the suite's session databases of each application
(tests/conftest.py, tests/backends.py). The log lives in SQL only: nothing here uses Redis.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select, update
from sqlalchemy.orm import Session, sessionmaker

import idp.db
import relying_party.db
from hashchain import ChainedEvent, EventLog, append
from idp.audit import LOG as IDP_LOG
from relying_party.audit import LOG as PORTAL_LOG
from tests import backends

#: The module :mod:`hashchain.append` (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")

TARGETS = ["idp-sqlite", "idp-postgresql", "portal-sqlite", "portal-postgresql"]


@dataclass
class Target:
    """One application's log on one back end, with what the tests do to it."""

    name: str
    engine: Engine
    log: EventLog
    #: Two types of the application's vocabulary.
    type: str
    other_type: str

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with sessionmaker(self.engine, expire_on_commit=False)() as session, session.begin():
            yield session

    def append(self, session: Session, *, chains: int = 1, type: str | None = None, **values: Any) -> ChainedEvent:
        subject = values.pop("subject", None)
        client_id = values.pop("client_id", None)
        return append(
            session, self.log, type or self.type, subject=subject, client_id=client_id, chains=chains, data=values
        )

    def record(self, count: int, *, chains: int = 1, start: int = 0, **values: Any) -> list[ChainedEvent]:
        """``count`` events, each in a transaction of its own."""
        written = []
        for rank in range(start, start + count):
            with self.transaction() as session:
                written.append(self.append(session, chains=chains, subject=f"sujet-fictif-{rank}", rang=rank, **values))
        return written

    def events(self, chain: int | None = None) -> list[ChainedEvent]:
        query = select(*self.log.columns).order_by(self.log.c.chain, self.log.c.seq)
        if chain is not None:
            query = query.where(self.log.c.chain == chain)
        with self.engine.connect() as connection:
            return [ChainedEvent.from_row(row) for row in connection.execute(query)]

    def change(self, event_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(self.log.table).where(self.log.c.id == event_id).values(**values))

    def remove(self, event_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(self.log.table).where(self.log.c.id == event_id))


@contextlib.contextmanager
def statements(target: Target) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile (every thread's): through SQLAlchemy (its cursor events)
    and, on PostgreSQL, through psycopg's pipeline (:func:`appending.send`)."""
    sent: list[str] = []
    direct = appending.send

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    def on_send(cursor: Any, sql: str, params: Any) -> None:
        sent.append(sql)
        direct(cursor, sql, params)

    event.listen(target.engine, "before_cursor_execute", on_execute)
    appending.send = on_send
    try:
        yield sent
    finally:
        appending.send = direct
        event.remove(target.engine, "before_cursor_execute", on_execute)


def _database_url(request: pytest.FixtureRequest, application: str, backend: str, directory: Path) -> str:
    prefix = "" if application == "idp" else "portal_"
    chosen = backends.chosen(request, backend, f"{prefix}sqlite_template", f"{prefix}postgres", directory)
    return chosen.database_url


def _target(request: pytest.FixtureRequest, name: str, directory: Path) -> Target:
    application, backend = name.split("-")
    url = _database_url(request, application, backend, directory)
    make_engine: Callable[..., Engine]
    if application == "idp":
        make_engine, log, types = idp.db.make_engine, IDP_LOG, ("login.succeeded", "logout")
    else:
        make_engine, log, types = relying_party.db.make_engine, PORTAL_LOG, ("ballot.cast", "complaint.filed")
    engine = make_engine(url, pool_size=20, max_overflow=0) if backend == "postgresql" else make_engine(url)
    return Target(name, engine, log, *types)


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    chosen = _target(request, str(request.param), tmp_path)
    yield chosen
    chosen.engine.dispose()


@pytest.fixture(params=[name for name in TARGETS if name.endswith("postgresql")])
def postgres_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The PostgreSQL targets only, for what only PostgreSQL has (advisory locks)."""
    chosen = _target(request, str(request.param), tmp_path)
    yield chosen
    chosen.engine.dispose()
