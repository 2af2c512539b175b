"""Storage back ends of the portal tests: SQLite + the SQL store, PostgreSQL + Redis.

Reuses the suite's service helpers (tests/backends.py: addresses, skip-or-fail rule, Redis clean-up) but keeps a
database of its own, migrated with the portal's migrations: the IdP's test database truncates every table it
finds, and the portal must not depend on it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from relying_party.db import make_engine
from relying_party.migrate import upgrade
from relying_party.models import Base
from tests.backends import PG_ADMIN_URL, REDIS_URL


@dataclass
class PortalBackend:
    name: str
    database_url: str
    redis_url: str | None

    def config(self) -> dict[str, object]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": f"test-portal:{uuid.uuid4().hex}:",
        }


class SQLiteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "portal-template.sqlite3"
        engine = make_engine(f"sqlite:///{self.path}")
        upgrade(engine)
        engine.dispose()

    def fresh(self, directory: Path) -> PortalBackend:
        target = directory / "portal.sqlite3"
        shutil.copyfile(self.path, target)
        return PortalBackend("sqlite", f"sqlite:///{target}", None)


class PostgresDatabase:
    def __init__(self) -> None:
        self.name = f"portal_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        finally:
            admin.dispose()
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.engine: Engine = make_engine(self.url)
        upgrade(self.engine)

    def truncate(self) -> None:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with self.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def backend(self) -> PortalBackend:
        self.truncate()
        return PortalBackend("postgresql", self.url, REDIS_URL)

    def drop(self) -> None:
        self.engine.dispose()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            admin.dispose()


def postgres_or_reason() -> PostgresDatabase | str:
    try:
        return PostgresDatabase()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
