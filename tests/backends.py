"""Storage back ends the suite runs on: SQLite + the SQL store, and PostgreSQL + Redis.

Each pytest process migrates one template per back end: a SQLite file copied for every test, a PostgreSQL
database of its own (truncated between tests) and a Redis key prefix per test. Outside CI a back end whose service
does not answer is skipped with the reason; in CI (``CI=true``) it is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from idp.db import make_engine
from idp.migrate import upgrade
from idp.models import Base

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Backend:
    name: str
    database_url: str
    redis_url: str | None

    def config(self) -> dict[str, object]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": f"test:{uuid.uuid4().hex}:",
        }


class SQLiteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.sqlite3"
        engine = make_engine(f"sqlite:///{self.path}")
        upgrade(engine)
        engine.dispose()

    def fresh(self, directory: Path) -> Backend:
        target = directory / "idp.sqlite3"
        shutil.copyfile(self.path, target)
        return Backend("sqlite", f"sqlite:///{target}", None)


class PostgresDatabase:
    def __init__(self) -> None:
        self.name = f"idp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        finally:
            admin.dispose()
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.engine: Engine = make_engine(self.url)
        upgrade(self.engine)
        self.tables = [t.name for t in Base.metadata.sorted_tables] + self._extra_tables()

    def _extra_tables(self) -> list[str]:
        with self.engine.connect() as conn:
            names = (
                conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
                .scalars()
                .all()
            )
        return [n for n in names if n not in {t.name for t in Base.metadata.sorted_tables}]

    def truncate(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in self.tables) + " RESTART IDENTITY CASCADE"))

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


def redis_reason() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    return None


def clear_redis_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
