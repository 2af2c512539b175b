"""SQL statements and transactions per request on the provider's hot paths, counted with SQLAlchemy's
``before_cursor_execute`` event: the exact count per path, so that a query added to a path fails here rather than
only showing in ``python -m benchmarks.oidc_throughput``. Also the per-process snapshot of the signing keys: no
query for the JWKS or a signature, a new key picked up at its ``not_before``, a write by another process seen
within the snapshot's lifetime."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import importlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert, update
from sqlalchemy.orm import Session

from idp.db import get_db
from idp.oidc import direct_read
from idp.oidc import keys as keys_module
from idp.oidc.cli import keys as keys_command
from idp.oidc.keys import generate
from idp.oidc.models import OidcSigningKey
from idp.oidc.provider import get_provider
from tests.oidc_helpers import header_of, install_keys, make_client, make_service_client, verify

pytest_plugins = ["tests.oidc_fixtures"]
#: The module hashchain.append (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SERVICE_SCOPES": "mesure:lecture"}


#: Refresh grant, one transaction, exactly: the token with its client and voter in one join (read before the client
#: authenticates, which then needs no query of its own); mark it rotated; the new access and refresh tokens (one
#: multi-row INSERT, on SQLite too since the lean path, idp.oidc.lean); the audit event (the chain head, then the
#: insert: on PostgreSQL the chain's advisory lock and its head travel in one query). SQLite counts its
#: ``BEGIN IMMEDIATE``. No signing-key query: the key comes from the per-process snapshot.
REFRESH_STATEMENTS = {"sqlite": 6, "postgresql": 5}
#: Userinfo: the token with its client and voter, in one SELECT (+ SQLite's BEGIN); on PostgreSQL outside any
#: transaction (no BEGIN and ROLLBACK round trips around it) and through psycopg directly: no SQLAlchemy transaction.
USERINFO_STATEMENTS = {"sqlite": 2, "postgresql": 1}
USERINFO_BEGINS = {"sqlite": 1, "postgresql": 0}
#: Introspection, the first time its answer is given for the token: the token with its holders (its client is the
#: one that authenticates; outside any transaction on PostgreSQL, SQLite's deferred BEGIN), then one transaction:
#: the token's mark of this answer and the audit event (chain head and insert, after SQLite's ``BEGIN IMMEDIATE``;
#: PostgreSQL's lock and head in one query).
INTROSPECTION_STATEMENTS = {"sqlite": 6, "postgresql": 4}
#: Introspection again, the same answer: the read alone (as userinfo's), nothing written.
INTROSPECTION_AGAIN_STATEMENTS = {"sqlite": 2, "postgresql": 1}
#: client_credentials: the client, the token, the audit event (as above).
CLIENT_CREDENTIALS_STATEMENTS = {"sqlite": 5, "postgresql": 4}
#: The authorization_code grant (the portal's callbacks), one transaction: the code with its client and voter in
#: one join, the code marked used, the access and refresh tokens in one INSERT, the audit event (as above); SQLite
#: counts its ``BEGIN IMMEDIATE``. No signing-key query, no client or voter read apart.
CODE_STATEMENTS = {"sqlite": 6, "postgresql": 5}


@dataclass
class Recorded:
    statements: list[str] = field(default_factory=list)
    begins: int = 0
    commits: int = 0

    def touching(self, table: str) -> list[str]:
        return [s for s in self.statements if table in s]


@contextlib.contextmanager
def recording(app: Flask) -> Iterator[Recorded]:
    """The statements sent through SQLAlchemy (its cursor events) and through psycopg directly (the lean path's
    reads on PostgreSQL, idp.oidc.direct_read; the pipelined writes and audit append, hashchain.append.send), the
    transactions SQLAlchemy began and committed."""
    engine = get_db(app).engine
    found = Recorded()
    direct = direct_read.execute
    pipelined = appending.send

    def direct_execute(cursor: Any, sql: str, params: Any) -> Any:
        found.statements.append(sql)
        return direct(cursor, sql, params)

    def pipelined_send(cursor: Any, sql: str, params: Any) -> None:
        found.statements.append(sql)
        pipelined(cursor, sql, params)

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        found.statements.append(statement)

    def on_begin(conn: Any) -> None:
        found.begins += 1

    def on_commit(conn: Any) -> None:
        found.commits += 1

    listeners = [("before_cursor_execute", on_execute), ("begin", on_begin), ("commit", on_commit)]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    direct_read.execute = direct_execute
    appending.send = pipelined_send
    try:
        yield found
    finally:
        direct_read.execute = direct
        appending.send = pipelined
        for name, listener in listeners:
            event.remove(engine, name, listener)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(rp: Any) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()}


def test_refresh_grant_is_one_transaction_within_its_statement_bound(app, backend, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    with recording(app) as recorded:
        response = flow.refresh(rp, tokens["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(recorded.statements) == REFRESH_STATEMENTS[backend.name], recorded.statements
    assert (recorded.begins, recorded.commits) == (1, 1)
    assert recorded.touching("oidc_signing_key") == []
    assert len(recorded.touching("SELECT oidc_token")) == 1, "the new access token is not read back"
    # Same answer as before the change: a verifiable ID token for the same subject, the rotation recorded.
    refreshed = response.get_json()
    assert verify(flow.client, refreshed["id_token"])["sub"] == verify(flow.client, tokens["id_token"])["sub"]
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_userinfo_reads_the_token_its_client_and_its_voter_in_one_statement(app, backend, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    with recording(app) as recorded:
        response = flow.client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.get_json()["family_name"] == "TESTEUR"
    assert len(recorded.statements) == USERINFO_STATEMENTS[backend.name], recorded.statements
    assert (recorded.begins, recorded.commits) == (USERINFO_BEGINS[backend.name], 0)


def test_introspection_writes_once_per_answer_within_its_statement_bound(app, backend, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    checkouts: list[Any] = []
    engine = get_db(app).engine

    def checked_out(*args: Any) -> None:
        checkouts.append(args)

    event.listen(engine, "checkout", checked_out)
    try:
        with recording(app) as recorded:
            response = flow.client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(rp))
    finally:
        event.remove(engine, "checkout", checked_out)
    assert response.get_json()["active"] is True
    # On PostgreSQL the first answer's write goes on the read's own connection: one checkout, not two.
    assert len(checkouts) == (1 if backend.name == "postgresql" else 2)
    assert len(recorded.statements) == INTROSPECTION_STATEMENTS[backend.name], recorded.statements
    # The read as userinfo's (no SQLAlchemy transaction on PostgreSQL), then the write transaction.
    assert (recorded.begins, recorded.commits) == (USERINFO_BEGINS[backend.name] + 1, 1)
    assert len(recorded.touching("INSERT INTO audit_event")) == 1, "the first answer is an audit event"
    assert len(recorded.touching("UPDATE oidc_token SET introspected_active_at")) == 1
    with recording(app) as again:
        response = flow.client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(rp))
    assert response.get_json()["active"] is True
    assert len(again.statements) == INTROSPECTION_AGAIN_STATEMENTS[backend.name], again.statements
    assert (again.begins, again.commits) == (USERINFO_BEGINS[backend.name], 0)


def test_client_credentials_is_one_transaction_of_exactly_its_statements(app, backend, flow):
    service = make_service_client(app, "mesure:lecture")
    with recording(app) as recorded:
        response = flow.client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(service))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(recorded.statements) == CLIENT_CREDENTIALS_STATEMENTS[backend.name], recorded.statements
    assert (recorded.begins, recorded.commits) == (1, 1)
    assert len(recorded.touching("INSERT INTO audit_event")) == 1


def test_jwks_and_signed_userinfo_query_no_key_once_the_snapshot_is_read(app, flow, voters):
    rp = make_client(app, userinfo_signed_response_alg="RS256")
    tokens = flow.tokens(rp, voters.create())
    flow.client.get("/jwks.json")
    with recording(app) as recorded:
        jwks = flow.client.get("/jwks.json")
        signed = flow.client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert recorded.touching("oidc_signing_key") == []
    assert sorted(k["alg"] for k in jwks.get_json()["keys"]) == ["ES256", "RS256"]
    assert signed.mimetype == "application/jwt"
    assert verify(flow.client, signed.get_data(as_text=True))["aud"] == rp.client_id


def test_an_announced_key_signs_from_its_not_before_without_rereading_the_keys(app, flow, rp, voters):
    before = flow.tokens(rp, voters.create())
    result = app.test_cli_runner().invoke(keys_command, ["rotate", "--alg", "ES256", "--delay", "1"])
    assert result.exit_code == 0, result.output
    # The rotation, committed in this process, replaced the snapshot: the new key is published at once...
    new_kid = next(
        k["kid"]
        for k in flow.client.get("/jwks.json").get_json()["keys"]
        if k["alg"] == "ES256" and k["kid"] != header_of(before["id_token"])["kid"]
    )
    time.sleep(1.1)
    with recording(app) as recorded:
        after = flow.refresh(rp, before["refresh_token"]).get_json()
    # ... and signs from its not_before, decided at the instant of signing from the same snapshot.
    assert recorded.touching("oidc_signing_key") == []
    assert header_of(after["id_token"])["kid"] == new_kid
    assert verify(flow.client, after["id_token"])["aud"] == rp.client_id


def test_a_key_change_by_another_process_is_seen_within_the_snapshot_lifetime(make_app):
    # An activation delay of 16 s: JWKS max-age 4 s, snapshot 2 s.
    other = make_app(KEY_ACTIVATION_DELAY=16)
    install_keys(other)
    keys = get_provider(other).keys
    assert keys.ring_seconds == 2 < keys.jwks_max_age < other.config["KEY_ACTIVATION_DELAY"]
    client = other.test_client()
    assert len(client.get("/jwks.json").get_json()["keys"]) == 2
    # Another process retires the RS256 key: a write this process's session events cannot see (Core, not ORM).
    with get_db(other).engine.begin() as conn:
        conn.execute(
            update(OidcSigningKey.__table__)
            .where(OidcSigningKey.__table__.c.alg == "RS256")
            .values(retire_after=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert len(client.get("/jwks.json").get_json()["keys"]) == 2, "served from the snapshot"
    time.sleep(2.1)
    assert [k["alg"] for k in client.get("/jwks.json").get_json()["keys"]] == ["ES256"]


def test_keys_created_by_another_process_are_used_at_once(app, client):
    """A snapshot without keys is never trusted: ``idp keys init`` run by another process (a Core insert here,
    which this process's session events do not see) is picked up by the next request."""
    assert client.get("/jwks.json").get_json() == {"keys": []}
    manager = get_provider(app).keys
    key = generate("ES256")
    assert key.kid is not None
    with get_db(app).engine.begin() as conn:
        conn.execute(
            insert(OidcSigningKey.__table__).values(
                kid=key.kid,
                alg="ES256",
                public_jwk=dict(key.as_dict(private=False)),
                private_jwk_encrypted=manager.cipher.encrypt(key.kid, json.dumps(key.as_dict(private=True)).encode()),
                not_before=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
            )
        )
    assert [k["kid"] for k in client.get("/jwks.json").get_json()["keys"]] == [key.kid]
    with app.app_context(), get_db(app).transaction() as session:
        assert manager.signing_key(session, "ES256").kid == key.kid


def test_the_key_write_listeners_are_the_applications_own(make_app):
    """Key writes are counted on each application's sessions, never on SQLAlchemy's global ``Session`` (which would
    see every ORM statement of the process, the portal's too): a rotation drops the snapshot of the application
    that made it at once; another application, even in the same process, sees it when its snapshot expires."""
    rotating = make_app(KEY_ACTIVATION_DELAY=16)
    other = make_app(KEY_ACTIVATION_DELAY=16)
    assert not event.contains(Session, "after_flush", keys_module._note_flushed_key_write)
    assert not event.contains(Session, "do_orm_execute", keys_module._note_bulk_key_write)
    assert event.contains(get_db(rotating).sessionmaker, "after_flush", keys_module._note_flushed_key_write)
    install_keys(rotating)
    rotating_client, other_client = rotating.test_client(), other.test_client()
    assert len(rotating_client.get("/jwks.json").get_json()["keys"]) == 2
    assert len(other_client.get("/jwks.json").get_json()["keys"]) == 2
    generation = get_provider(other).keys.writes.generation
    result = rotating.test_cli_runner().invoke(keys_command, ["rotate", "--alg", "ES256"])
    assert result.exit_code == 0, result.output
    assert len(rotating_client.get("/jwks.json").get_json()["keys"]) == 3, "its own write: the snapshot dropped"
    assert len(other_client.get("/jwks.json").get_json()["keys"]) == 2, "another application: its snapshot served"
    assert get_provider(other).keys.writes.generation == generation
    time.sleep(2.1)
    assert len(other_client.get("/jwks.json").get_json()["keys"]) == 3


def test_the_hot_paths_compile_no_statement_once_warm(app, backend, flow, rp, voters):
    """Every statement of userinfo, introspection and both token grants comes from SQLAlchemy's compiled cache once
    each path ran once: a statement without a cache key (a multi-row ``insert().values([...])`` has none) was
    compiled again on every request, about a third of the refresh grant's Python time."""
    service = make_service_client(app, "mesure:lecture")

    def each_path(tokens: dict[str, Any]) -> None:
        refreshed = flow.refresh(rp, tokens["refresh_token"]).get_json()
        access = refreshed["access_token"]
        assert flow.client.get("/userinfo", headers=bearer(access)).status_code == 200
        for _ in range(2):  # the first answer, recorded; then the same answer, read only
            response = flow.client.post("/introspect", data={"token": access}, headers=basic(rp))
            assert response.get_json()["active"] is True
        issued = flow.client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(service))
        assert issued.status_code == 200

    each_path(flow.tokens(rp, voters.create()))
    tokens = flow.tokens(rp, voters.create())  # the sign-in's statements are not the token endpoints'
    engine = get_db(app).engine
    compiled: list[tuple[str, Any]] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if context is not None and context.compiled is not None:
            compiled.append((statement, context.cache_hit))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        with recording(app) as recorded:
            each_path(tokens)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert recorded.touching("INSERT INTO oidc_token"), "the paths ran"
    missed = [(statement[:80], hit.name) for statement, hit in compiled if hit.name != "CACHE_HIT"]
    # On PostgreSQL the grants' statements are compiled once per engine and sent through psycopg
    # (idp.oidc.direct_read), the introspection's mark too, the audit appends' are hashchain's own text: none is left.
    assert len(compiled) >= (8 if backend.name == "sqlite" else 0) and missed == [], missed


def test_code_grant_is_one_transaction_within_its_statement_bound(app, backend, flow, rp, voters):
    voter = voters.create()
    flow.tokens(rp, voter)  # the signing keys' per-process snapshot taken
    authorization = flow.authorize(rp, voter)
    with recording(app) as recorded:
        response = flow.exchange(rp, authorization)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(recorded.statements) == CODE_STATEMENTS[backend.name], "\n".join(s[:90] for s in recorded.statements)
    assert (recorded.begins, recorded.commits) == (1, 1)
    assert recorded.touching("oidc_signing_key") == []
    assert len(recorded.touching("INSERT INTO oidc_token")) == 1, "both tokens in one INSERT"
