"""Which introspections the audit log holds (``token.introspected``): for a client's own token, the first time it is
told the token is active and the first time it is told it is inactive, each once however many times it asks and
however many requests race; an unknown token, or another client's, every time. On both paths: the lean one
(``client_secret_basic``, idp.oidc.lean) and Flask's (``client_secret_post`` is left to it)."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import insert, select, text

from idp.db import get_db
from idp.migrate import alembic_config, upgrade
from idp.models import AuditEvent
from idp.oidc.models import OidcClient, OidcToken
from idp.oidc.provider import get_provider
from tests.idp.staff.test_accounts import migration_engine
from tests.oidc_helpers import make_client

pytest_plugins = ["tests.oidc_fixtures"]

RACERS = 8
PROCESSES = 4


@pytest.fixture(params=["client_secret_basic", "client_secret_post"])
def resource(request: pytest.FixtureRequest, app: Flask) -> Any:
    """A resource server's client: Basic credentials take the lean path, the form's go to Flask."""
    return make_client(app, token_endpoint_auth_method=request.param)


@pytest.fixture
def flask_side_calls(app: Flask) -> Any:
    """How many requests the lean path handed to Flask since the fixture was set up."""
    lean = get_provider(app).lean
    inner = lean.app
    calls = [0]

    def counted(environ: Any, start_response: Any) -> Any:
        calls[0] += 1
        return inner(environ, start_response)

    lean.app = counted
    yield lambda: calls[0]
    lean.app = inner


def introspect(flow: Any, rp: Any, token: str, client: Any = None) -> dict[str, Any]:
    response = (client or flow.client).post(
        "/introspect", data=flow.authenticate(rp, {"token": token}), headers=flow.auth_headers(rp)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def introspections(app: Flask, client_id: str) -> list[dict[str, Any]]:
    """The ``token.introspected`` events of a client, in order: their data (jti, active)."""
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.execute(
            select(AuditEvent.data)
            .where(AuditEvent.type == "token.introspected", AuditEvent.client_id == client_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        ).scalars()
        return [json.loads(data) for data in rows]


def jti_of(app: Flask, client_id: str, kind: str) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        return str(
            session.execute(
                select(OidcToken.jti).where(OidcToken.client_id == client_id, OidcToken.kind == kind)
            ).scalar_one()
        )


def test_repeated_answer_is_recorded_once_and_its_change_once(app, flow, voters, resource):
    tokens = flow.tokens(resource, voters.create())
    jti = jti_of(app, resource.client_id, "access")
    for _ in range(3):
        assert introspect(flow, resource, tokens["access_token"])["active"] is True
    assert introspections(app, resource.client_id) == [{"jti": jti, "active": True}]
    # The answer changes (revoked): recorded once, then its repetitions are not.
    flow.client.post(
        "/revoke",
        data=flow.authenticate(resource, {"token": tokens["access_token"]}),
        headers=flow.auth_headers(resource),
    )
    for _ in range(3):
        assert introspect(flow, resource, tokens["access_token"]) == {"active": False}
    assert introspections(app, resource.client_id) == [{"jti": jti, "active": True}, {"jti": jti, "active": False}]


def test_each_token_has_its_own_record(app, flow, voters, resource):
    tokens = flow.tokens(resource, voters.create())
    for token in (tokens["access_token"], tokens["refresh_token"], tokens["access_token"], tokens["refresh_token"]):
        assert introspect(flow, resource, token)["active"] is True
    recorded = introspections(app, resource.client_id)
    assert [event["jti"] for event in recorded] == [
        jti_of(app, resource.client_id, "access"),
        jti_of(app, resource.client_id, "refresh"),
    ]


def test_one_path_after_the_other_records_once(app, flow, voters, flask_side_calls):
    """The mark is the token's, whichever path answered: the lean path first, then Flask (a parameter the lean path
    does not take sends the same client's request there)."""
    rp = make_client(app, token_endpoint_auth_method="client_secret_basic")
    tokens = flow.tokens(rp, voters.create())
    handed = flask_side_calls()
    assert introspect(flow, rp, tokens["access_token"])["active"] is True
    assert flask_side_calls() == handed
    response = flow.client.post(
        "/introspect", data={"token": tokens["access_token"], "extra": "1"}, headers=flow.auth_headers(rp)
    )
    assert response.get_json()["active"] is True and flask_side_calls() == handed + 1
    assert len(introspections(app, rp.client_id)) == 1


def test_unknown_and_foreign_tokens_are_recorded_every_time(app, flow, voters, resource):
    other = make_client(app)
    foreign = flow.tokens(other, voters.create())["access_token"]
    for token in ("inconnu-" + "0" * 40, foreign, "inconnu-" + "0" * 40, foreign):
        assert introspect(flow, resource, token) == {"active": False}
    assert introspections(app, resource.client_id) == [{"jti": None, "active": False}] * 4
    assert introspections(app, other.client_id) == []


def test_racing_introspections_record_once(app, flow, voters, resource):
    """Eight requests at once for a token never introspected (a resource server's burst): one event, every answer
    active; then its revocation raced the same way: one more."""
    tokens = flow.tokens(resource, voters.create())
    start = threading.Barrier(RACERS)

    def racer(_: int) -> dict[str, Any]:
        client = app.test_client()
        start.wait(timeout=30)
        return introspect(flow, resource, tokens["access_token"], client)

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(racer, range(RACERS)))
    assert all(answer["active"] is True for answer in answers)
    assert [event["active"] for event in introspections(app, resource.client_id)] == [True]
    flow.client.post(
        "/revoke",
        data=flow.authenticate(resource, {"token": tokens["access_token"]}),
        headers=flow.auth_headers(resource),
    )
    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(racer, range(RACERS)))
    assert answers == [{"active": False}] * RACERS
    assert [event["active"] for event in introspections(app, resource.client_id)] == [True, False]


def test_the_mark_and_the_event_are_one_transaction(app, flow, voters, resource, monkeypatch):
    """An event that cannot be written leaves no mark: the next introspection records it."""
    tokens = flow.tokens(resource, voters.create())
    import idp.oidc.tokens as tokens_module

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(tokens_module, "record", failing)  # Flask's path
    monkeypatch.setattr(tokens_module, "queue_record", failing)  # the lean path's, pipelined
    failed = flow.client.post(
        "/introspect",
        data=flow.authenticate(resource, {"token": tokens["access_token"]}),
        headers=flow.auth_headers(resource),
    )
    assert failed.status_code == 500  # the lean path handed it to Flask, which failed the same way and rolled back
    monkeypatch.undo()
    with app.app_context(), get_db(app).transaction() as session:
        marks = session.execute(
            select(OidcToken.introspected_active_at).where(OidcToken.client_id == resource.client_id)
        ).scalars()
        assert list(marks) == [None, None]
    assert introspect(flow, resource, tokens["access_token"])["active"] is True
    assert [event["active"] for event in introspections(app, resource.client_id)] == [True]


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_migration_0010_adds_the_marks_and_keeps_the_tokens(tmp_path, backend_name):
    """0009 -> 0010 -> 0009 -> 0010 with a token: it starts with neither mark (its next introspection is recorded),
    and going down keeps it."""
    with migration_engine(tmp_path, backend_name, "idp_migration_0010_introspection") as engine:
        upgrade(engine, "0009")
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        with engine.begin() as connection:
            connection.execute(
                insert(OidcClient.__table__).values(
                    client_id="client-fictif",
                    client_name="Client fictif",
                    redirect_uris=[],
                    grant_types=["client_credentials"],
                    response_types=[],
                    token_endpoint_auth_method="client_secret_basic",
                    scope="mesure:lecture",
                    subject_type="public",
                    access_token_ttl=600,
                    refresh_token_ttl=3600,
                    id_token_ttl=600,
                    created_at=now,
                )
            )
            connection.execute(
                text(
                    "INSERT INTO oidc_token (kind, token_hash, jti, grant_id, client_id, scope, amr, issued_at,"
                    " expires_at) VALUES ('access', :hash, 'jti-fictif', 'grant-fictif', 'client-fictif',"
                    " 'mesure:lecture', '[]', :at, :at)"
                ),
                {"hash": bytes(32), "at": now.replace(tzinfo=None)},
            )
        marks = text("SELECT jti, introspected_active_at, introspected_inactive_at FROM oidc_token")
        for _ in range(2):
            upgrade(engine, "0010")
            with engine.connect() as connection:
                assert connection.execute(marks).all() == [("jti-fictif", None, None)]
            command.downgrade(alembic_config(engine), "0009")
            with engine.connect() as connection:
                assert connection.execute(text("SELECT jti FROM oidc_token")).scalars().all() == ["jti-fictif"]


def test_racing_processes_record_once(app, flow, voters, resource):
    """The same race between processes (each its own pool of connections, as the web server's workers): four
    processes forked with the app introspect a fresh token at once: one event."""
    tokens = flow.tokens(resource, voters.create())
    data = flow.authenticate(resource, {"token": tokens["access_token"]})
    headers = flow.auth_headers(resource)
    get_db(app).engine.dispose()  # no connection shared with the children
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSES)

    def racer() -> None:
        get_db(app).engine.dispose(close=False)  # the parent's connections are not this process's
        start.wait(timeout=30)
        response = app.test_client().post("/introspect", data=data, headers=headers)
        os._exit(0 if response.status_code == 200 and response.get_json()["active"] is True else 1)

    children = [context.Process(target=racer) for _ in range(PROCESSES)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0] * PROCESSES
    assert [event["active"] for event in introspections(app, resource.client_id)] == [True]
