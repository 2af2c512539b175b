"""The portal on a PostgreSQL of the test's own that restarts (``pg_ctl restart -m fast``), stops, or loses its
primary to a streaming replica promoted in its place. The voter gets the French 503 page while it is down, the
pool recovers alone once it is back, a multi-host URL (``target_session_attrs=read-write``) follows the promoted
replica, and with synchronous replication no ballot or émargement the voter was told about is missing.

PostgreSQL only: SQLite has no server to restart or replace (its outage, a lock, is in test_workers_outage.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Column, Integer, MetaData, Table, func, select

from infra.db import Database
from relying_party import create_app
from relying_party.db import get_db
from relying_party.models import Ballot, Emargement, utcnow
from tests import backends
from tests.postgres_clusters import Cluster, cluster_directory, multi_host_url, private_cluster
from tests.redis_servers import assert_unavailable_page
from tests.relying_party.conftest import close
from tests.relying_party.helpers import CLAIRE, MARC, sign_in, standard_document
from tests.relying_party.voting import load_keyed, vote

__all__ = ["cluster_directory", "private_cluster"]

#: The portal's settings of these tests are those of its PostgreSQL back end (then the database is replaced).
on_postgresql = pytest.mark.parametrize("portal_backend", ["postgresql"], indirect=True)


def migrated_database(cluster: Cluster, name: str | None = None) -> str:
    """A database of the portal's schema on ``cluster`` (its name: ``name`` or a fresh one); its URL."""
    url = cluster.create_database(name or f"portal_{uuid.uuid4().hex[:10]}")
    database = Database(url)
    backends.PORTAL.migrate(database.engine)
    database.dispose()
    return url


@pytest.fixture
def on_private(portal_config: dict[str, Any], private_cluster: Cluster) -> Iterator[Flask]:
    application = create_app({**portal_config, "DATABASE_URL": migrated_database(private_cluster)})
    yield application
    close(application)


@on_postgresql
def test_a_restart_costs_the_retry_page_and_the_pool_recovers_alone(
    on_private: Flask, private_cluster: Cluster
) -> None:
    client = on_private.test_client()
    sign_in(client, on_private)
    assert client.get("/mes-scrutins").status_code == 200  # the pool holds connections from now on

    private_cluster.restart("fast")  # every pooled connection is now dead
    started = time.monotonic()
    assert client.get("/mes-scrutins").status_code == 200, "pre-ping replaced the dead connections"
    assert time.monotonic() - started < 2

    private_cluster.stop("fast")
    try:
        started = time.monotonic()
        assert_unavailable_page(client.get("/mes-scrutins"), started)
    finally:
        private_cluster.start()
    started = time.monotonic()
    assert client.get("/mes-scrutins").status_code == 200
    assert time.monotonic() - started < 10


def test_a_transaction_cut_by_a_restart_leaves_nothing_half_written(private_cluster: Cluster) -> None:
    database = Database(private_cluster.create_database(f"atomic_{uuid.uuid4().hex[:10]}"))
    table = Table("pairs", MetaData(), Column("id", Integer, primary_key=True), Column("half", Integer))
    table.metadata.create_all(database.engine)
    written_first_half = threading.Event()
    outcome: list[BaseException] = []

    def write_a_pair() -> None:
        try:
            with database.transaction() as session:
                session.execute(table.insert().values(id=1, half=1))
                session.flush()
                written_first_half.set()
                time.sleep(2)  # the server restarts meanwhile
                session.execute(table.insert().values(id=2, half=2))
        except BaseException as exc:
            outcome.append(exc)

    writer = threading.Thread(target=write_a_pair)
    writer.start()
    assert written_first_half.wait(10)
    private_cluster.restart("fast")
    writer.join(15)
    assert outcome, "the cut transaction failed, it did not commit"
    with database.reader() as session:
        assert session.execute(select(func.count()).select_from(table)).scalar_one() == 0, "nothing half written"
    database.dispose()


@pytest.fixture
def primary_and_replica(cluster_directory: Path) -> Iterator[tuple[Cluster, Cluster]]:
    directory = cluster_directory / f"pair-{uuid.uuid4().hex[:6]}"
    directory.mkdir()
    # Synchronous replication: a commit returns once the replica has flushed it.
    primary = Cluster(directory, settings={"synchronous_standby_names": "'*'"}).init().start()
    replica = Cluster(directory).standby_of(primary).start()
    try:
        deadline = time.monotonic() + 15
        while primary.execute("SELECT sync_state FROM pg_stat_replication") != [("sync",)]:
            assert time.monotonic() < deadline, "the replica is not a synchronous standby"
            time.sleep(0.1)
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()


def counts(app: Flask) -> tuple[int, int]:
    with get_db(app).reader() as session:
        ballots = session.execute(select(func.count()).select_from(Ballot)).scalar_one()
        emargements = session.execute(select(func.count()).select_from(Emargement)).scalar_one()
    return int(ballots), int(emargements)


@on_postgresql
def test_the_portal_follows_a_promoted_replica_and_no_acknowledged_ballot_is_missing(
    portal_config: dict[str, Any], primary_and_replica: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    primary, replica = primary_and_replica
    name = f"portal_{uuid.uuid4().hex[:10]}"
    migrated_database(primary, name)
    wait_for_replay(primary, replica)
    app = create_app({**portal_config, "DATABASE_URL": multi_host_url(name, primary, replica)})
    try:
        load_keyed(app, standard_document(utcnow()), tmp_path / "garants")
        voters = {}
        for email in (CLAIRE, MARC):
            client = app.test_client()
            sign_in(client, app, email=email, vote_level_age=10)
            cast = vote(client, "OPEN", 0)
            assert cast.status_code == 303, "« Votre vote a été enregistré »: acknowledged"
            voters[email] = client
        acknowledged = counts(app)
        assert acknowledged == (2, 2)

        primary.kill()  # the primary is lost with its machine
        lost = time.monotonic()
        replica.promote()
        client = voters[CLAIRE]

        def serves() -> bool:
            return client.get("/je-vote/OPEN/recu").status_code == 200

        deadline = lost + 15
        while not serves():
            assert time.monotonic() < deadline, "the portal did not follow the promoted replica within 15 s"
            time.sleep(0.2)
        assert counts(app) == acknowledged, "synchronous replication: every acknowledged ballot is on the replica"
        # The promoted replica takes new ballots.
        newcomer = app.test_client()
        sign_in(newcomer, app, email="dominique.fictif@ac-dijon.fr", vote_level_age=10)
        assert newcomer.get("/je-vote").status_code == 200
    finally:
        close(app)


def wait_for_replay(primary: Cluster, replica: Cluster) -> None:
    """The replica has replayed everything the primary wrote so far (the database and its schema)."""
    [(lsn,)] = primary.execute("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        [(behind,)] = replica.execute(f"SELECT pg_wal_lsn_diff('{lsn}', pg_last_wal_replay_lsn())")
        if float(str(behind)) <= 0:
            return
        time.sleep(0.1)
    pytest.fail("the replica did not catch up")
