"""The back-channel logout worker (``idp oidc deliver-logouts``) through a database outage and through a client
that is down: it never exits, and every notice reaches its client once both are back."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from idp.db import get_db
from idp.oidc.backchannel import LogoutNotifier
from idp.oidc.models import OidcLogoutNotice
from infra.worker import run_until_stopped
from tests.delivery_servers import wait_for
from tests.oidc_helpers import Flow, LogoutReceiver, make_client
from tests.outages import OutageDatabase, cluster_directory, failed_rounds, outage_database, private_cluster

__all__ = ["cluster_directory", "outage_database", "private_cluster"]
pytest_plugins = ["tests.oidc_fixtures"]

WORKER = "back-channel logout worker"


@pytest.fixture
def app_config(app_config: dict[str, Any], outage_database: OutageDatabase) -> dict[str, Any]:
    return {**app_config, "DATABASE_URL": outage_database.url}


def sign_in_and_out(flow: Flow, app: Flask, voters: Any, receiver: LogoutReceiver) -> None:
    rp = make_client(app, backchannel_logout_uri=receiver.uri)
    tokens = flow.tokens(rp, voters.create())
    assert flow.client.get("/logout/end", query_string={"id_token_hint": tokens["id_token"]}).status_code == 200


def notices(app: Flask) -> list[tuple[str, int]]:
    with app.app_context(), get_db(app).transaction() as session:
        return [tuple(row) for row in session.execute(select(OidcLogoutNotice.status, OidcLogoutNotice.attempts))]


def test_the_worker_outlives_a_database_outage_and_notifies_afterwards(
    app: Flask,
    flow: Flow,
    voters: Any,
    logout_receiver: LogoutReceiver,
    outage_database: OutageDatabase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="infra.worker")
    stop = threading.Event()
    notifier = LogoutNotifier(app)
    thread = threading.Thread(
        target=run_until_stopped, args=(notifier.drain,), kwargs={"name": WORKER, "every": 0.1, "stop": stop}
    )
    thread.start()
    try:
        outage_database.begin()
        assert wait_for(lambda: failed_rounds(caplog.records, WORKER) >= 2, 20), "no failed round"
        assert thread.is_alive()
        outage_database.end()
        sign_in_and_out(flow, app, voters, logout_receiver)
        assert wait_for(lambda: len(logout_receiver.received) == 1, 15), "no notice after the outage"
    finally:
        stop.set()
        thread.join(10)
    assert wait_for(lambda: notices(app) == [("sent", 1)])


def test_a_client_down_gets_its_notices_when_it_is_back(
    app: Flask, flow: Flow, voters: Any, outage_database: OutageDatabase
) -> None:
    receiver = LogoutReceiver()
    port = receiver.server.server_address[1]
    sign_in_and_out(flow, app, voters, receiver)
    receiver.close()  # the client is down: its notice waits
    notifier = LogoutNotifier(app)
    for _ in range(3):
        notifier.drain()
        with app.app_context(), get_db(app).transaction() as session:
            notice = session.execute(select(OidcLogoutNotice)).scalar_one()
            assert notice.status == "pending" and notice.last_error == "ConnectionError"
            wait = notice.next_attempt_at - dt.datetime.now(dt.UTC)
            assert dt.timedelta(0) < wait <= dt.timedelta(seconds=60), "retries are at most a minute apart"
            session.execute(update(OidcLogoutNotice).values(next_attempt_at=dt.datetime.now(dt.UTC)))
    back = LogoutReceiver(port=port)
    try:
        assert notifier.drain() == 1
        assert len(back.received) == 1
        assert notices(app) == [("sent", 4)]
    finally:
        back.close()
