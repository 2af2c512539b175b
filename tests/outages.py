"""A database that really goes away and comes back, on each back end of the suite, for the tests of what workers
and pages do meanwhile.

- SQLite: another connection holds the write lock (``BEGIN IMMEDIATE``) and the app's URL sets a short busy
  timeout (``?timeout=0.3``): every write of the app then fails with « database is locked », SQLite's outage.
- PostgreSQL: the app's database lives on a cluster of the tests' own (:mod:`tests.postgres_clusters`), which is
  stopped (``pg_ctl stop -m fast``: connections cut, new ones refused) and started again. The shared cluster on 5432
  is never touched.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import Engine, make_url

from infra.db import make_engine
from tests import backends
from tests.postgres_clusters import Cluster, cluster_directory, private_cluster

__all__ = ["OutageDatabase", "cluster_directory", "outage_database", "private_cluster"]

#: Busy timeout of the SQLite apps of these tests, in seconds: how long a write waits for the lock before failing.
SQLITE_BUSY_TIMEOUT = 0.3


@dataclass
class OutageDatabase:
    """An app's database URL, and the means to take that database away and give it back."""

    url: str
    cluster: Cluster | None = None
    _lock: sqlite3.Connection | None = field(default=None, repr=False)

    def begin(self) -> None:
        if self.cluster is not None:
            self.cluster.stop("fast")
            return
        path = make_url(self.url).database
        assert path
        self._lock = sqlite3.connect(path, isolation_level=None, timeout=10)
        self._lock.execute("BEGIN IMMEDIATE")

    def end(self) -> None:
        if self.cluster is not None:
            self.cluster.start()
            return
        assert self._lock is not None
        self._lock.execute("ROLLBACK")
        self._lock.close()
        self._lock = None

    def close(self) -> None:
        if self._lock is not None:
            self.end()


def _database(
    request: pytest.FixtureRequest, backend: backends.Backend, migrate: Callable[[Engine], None]
) -> Iterator[OutageDatabase]:
    if backend.name == "sqlite":
        outage = OutageDatabase(f"{backend.database_url}?timeout={SQLITE_BUSY_TIMEOUT}")
    else:
        cluster: Cluster = request.getfixturevalue("private_cluster")
        url = cluster.create_database(f"outage_{uuid.uuid4().hex[:10]}")
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        outage = OutageDatabase(url, cluster)
    yield outage
    outage.close()


@pytest.fixture
def outage_database(request: pytest.FixtureRequest, backend: backends.Backend) -> Iterator[OutageDatabase]:
    """The IdP's database for a test that takes it away (same back end as the test's ``backend``)."""
    yield from _database(request, backend, backends.IDP.migrate)


@pytest.fixture
def portal_outage_database(
    request: pytest.FixtureRequest, portal_backend: backends.Backend
) -> Iterator[OutageDatabase]:
    """The portal's database for a test that takes it away (same back end as the test's ``portal_backend``)."""
    yield from _database(request, portal_backend, backends.PORTAL.migrate)


def failed_rounds(records: list[Any], worker: str) -> int:
    """How many rounds of ``worker`` the log says failed (:mod:`infra.worker`)."""
    return sum(1 for record in records if record.getMessage().startswith(f"{worker}: round failed"))
