"""Storage back ends the suite runs on: SQLite + the SQL store, and PostgreSQL + Redis, for the IdP and the portal.

Each app keeps a database of its own, migrated with its own migrations (the portal never depends on the IdP's).
Each pytest process migrates one template per back end and app: a SQLite file copied for every test, a PostgreSQL
database of its own (emptied between tests) and a Redis key prefix per test. Outside CI a back end whose service
does not answer is skipped with the reason; in CI (``CI=true``) it is a failure.
"""

from __future__ import annotations

import graphlib
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from idp.migrate import upgrade
from infra.db import make_engine
from infra.store import SQLITE_FILE_SUFFIX
from infra.store.sql import SQLStore, sibling_sqlite_url
from relying_party.migrate import upgrade as portal_upgrade

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Kind:
    """What a back end is for: an app's database, migrated by that app's migrations."""

    label: str
    migrate: Callable[[Engine], None]
    #: Prefix of the keys of the app's tests in Redis (one more level per test).
    redis_label: str


IDP = Kind("idp", upgrade, "test")
PORTAL = Kind("portal", portal_upgrade, "test-portal")


@dataclass
class Backend:
    name: str
    database_url: str
    redis_url: str | None
    kind: Kind = IDP

    def config(self) -> dict[str, object]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": f"{self.kind.redis_label}:{uuid.uuid4().hex}:",
        }


class SQLiteTemplate:
    """A migrated SQLite file, copied for every test (cheaper than migrating each time)."""

    def __init__(self, directory: Path, kind: Kind = IDP) -> None:
        self.kind = kind
        self.path = directory / f"{kind.label}-template.sqlite3"
        engine = make_engine(f"sqlite:///{self.path}")
        kind.migrate(engine)
        engine.dispose()
        # The SQL store's file beside the database (created by the app otherwise: a table and its index written and
        # synced at every test's start).
        self.store_path = _store_file(self.path)
        SQLStore.standalone(f"sqlite:///{self.store_path}").close()

    def fresh(self, directory: Path) -> Backend:
        target = directory / f"{self.kind.label}.sqlite3"
        shutil.copyfile(self.path, target)
        shutil.copyfile(self.store_path, _store_file(target))
        return Backend("sqlite", f"sqlite:///{target}", None, self.kind)


def _store_file(database: Path) -> Path:
    """Where an app on the SQLite file ``database`` keeps its SQL store (a file of its own beside it)."""
    url = sibling_sqlite_url(f"sqlite:///{database}", SQLITE_FILE_SUFFIX)
    return Path(url.removeprefix("sqlite:///"))


class PostgresDatabase:
    """A migrated PostgreSQL database of this pytest process, emptied between tests, dropped at the end."""

    def __init__(self, kind: Kind = IDP) -> None:
        self.kind = kind
        self.name = f"{kind.label}_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        finally:
            admin.dispose()
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.engine: Engine = make_engine(self.url)
        kind.migrate(self.engine)
        with self.engine.connect() as conn:
            names = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        #: Every table but the migrations' version tables.
        self.tables = sorted(name for name in names if not name.endswith("alembic_version"))
        with self.engine.connect() as conn:
            owned = conn.execute(
                text(
                    "SELECT s.relname, t.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
                    "JOIN pg_class t ON t.oid = d.refobjid "
                    "WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') AND t.relnamespace = 'public'::regnamespace"
                )
            ).all()
            references = conn.execute(
                text(
                    "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                    "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
                )
            ).all()
        #: Sequence → the table it numbers: the sequences TRUNCATE … RESTART IDENTITY restarts.
        self.numbered = {str(sequence): str(table) for sequence, table in owned if table in self.tables}
        # Tables that reference others come first, so that each DELETE leaves no reference behind.
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter({t: set() for t in self.tables})
        for referencing, referenced in references:
            if referencing != referenced:
                sorter.add(str(referenced), str(referencing))
        #: Every table, each before the tables it references.
        self.deletion_order = list(sorter.static_order())
        self._holding_rows = text(
            " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT FROM \"{t}\")" for t in self.tables)
        )

    def truncate(self) -> None:
        """Empty every table and restart its numbering, as ``TRUNCATE … RESTART IDENTITY`` would, but only where a
        test wrote: rows deleted from the tables that hold any (referencing tables first), used sequences restarted.
        TRUNCATE cost some hundreds of milliseconds per test (every table's files replaced and synced, whether a
        test wrote to it or not); this costs a few tens."""
        with self.engine.begin() as conn:
            written = set(conn.execute(self._holding_rows).scalars())
            for table in self.deletion_order:
                if table in written:
                    conn.execute(text(f'DELETE FROM "{table}"'))
            used = conn.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL")
            ).scalars()
            for sequence in used:
                if sequence in self.numbered:
                    conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))

    def backend(self) -> Backend:
        """A clean back end on this database, with Redis."""
        self.truncate()
        return Backend("postgresql", self.url, REDIS_URL, self.kind)

    def drop(self) -> None:
        self.engine.dispose()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            admin.dispose()


def postgres_or_reason(kind: Kind = IDP) -> PostgresDatabase | str:
    try:
        return PostgresDatabase(kind)
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


def chosen(
    request: pytest.FixtureRequest, name: str, template_fixture: str, postgres_fixture: str, directory: Path
) -> Backend:
    """The back end ``name`` ("sqlite" or "postgresql") of a test, from the session's template or database."""
    if name == "sqlite":
        template: SQLiteTemplate = request.getfixturevalue(template_fixture)
        return template.fresh(directory)
    pg = request.getfixturevalue(postgres_fixture)
    if isinstance(pg, str):
        unavailable(pg)
    reason = redis_reason()
    if reason:
        unavailable(reason)
    assert isinstance(pg, PostgresDatabase)
    return pg.backend()


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
