"""The lean path of userinfo and introspection (idp.oidc.lean): it answers exactly what the Flask views answer, and
leaves every other case to them."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import func, select, update
from werkzeug.test import EnvironBuilder

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc import direct_read
from idp.oidc.models import OidcClient, OidcToken
from idp.oidc.provider import get_provider
from tests.idp.oidc.conftest import Counted
from tests.oidc_helpers import make_client, make_service_client

pytest_plugins = ["tests.oidc_fixtures"]

Answer = tuple[str, list[tuple[str, str]], bytes]


def call(wsgi: Any, environ: dict[str, Any]) -> Answer:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = b"".join(wsgi(environ, start_response))
    return seen["status"], sorted(seen["headers"]), body


def userinfo_environ(token: str, authorization: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": authorization or f"Bearer {token}"}
    return EnvironBuilder(path="/userinfo", method="GET", headers=headers).get_environ()


def introspection_environ(rp: Any, body: str, authorization: str | None = None) -> dict[str, Any]:
    """``authorization``: None for the client's Basic credentials, "" for no header."""
    basic = "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    authorization = basic if authorization is None else authorization
    return EnvironBuilder(
        path="/introspect",
        method="POST",
        headers={"Authorization": authorization} if authorization else {},
        data=body,
        content_type="application/x-www-form-urlencoded",
    ).get_environ()


def both(app: Flask, flask_side: Counted, make_environ: Any) -> tuple[Answer, Answer]:
    """The lean path's answer, then Flask's alone, to the same request (each its own environ)."""
    lean = get_provider(app).lean
    before = flask_side.calls
    lean_answer = call(lean, make_environ())
    assert flask_side.calls == before, "the lean path handed the request to Flask"
    return lean_answer, call(flask_side.app, make_environ())


def events(app: Flask, kind: str) -> int:
    with app.app_context(), get_db(app).transaction() as session:
        return int(session.scalar(select(func.count()).where(AuditEvent.type == kind)) or 0)


def test_userinfo_same_answer_as_flask(app, flow, rp, voters, flask_side):
    tokens = flow.tokens(rp, voters.create())
    lean, reference = both(app, flask_side, lambda: userinfo_environ(tokens["access_token"]))
    assert lean[0] == "200 OK" and lean == reference
    assert dict(lean[1])["Content-Type"] == "application/json" and dict(lean[1])["Cache-Control"] == "no-store"
    assert b'"sub"' in lean[2] and b'"email"' in lean[2]


def test_userinfo_pairwise_subject_same_as_flask(app, flow, voters, flask_side):
    rp = make_client(app, first_party=False, subject_type="pairwise")
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    lean, reference = both(app, flask_side, lambda: userinfo_environ(tokens["access_token"]))
    assert lean[0] == "200 OK" and lean == reference
    assert voter.subject.encode() not in lean[2]


def test_introspection_same_answer_and_one_event_per_token(app, flow, rp, voters, flask_side):
    tokens = flow.tokens(rp, voters.create())
    before = events(app, "token.introspected")
    for token in (tokens["access_token"], tokens["refresh_token"]):
        lean, reference = both(app, flask_side, lambda t=token: introspection_environ(rp, f"token={t}"))
        assert lean[0] == "200 OK" and lean == reference
        assert b'"active": true' in lean[2]
    # Each token's active answer recorded once, by the path that gave it first (the lean one): Flask's same answer
    # after it is not recorded again (tests/idp/oidc/test_introspection_audit.py).
    assert events(app, "token.introspected") == before + 2


def test_introspection_of_dead_tokens_same_answer(app, flow, rp, voters, flask_side):
    tokens = flow.tokens(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            update(OidcToken)
            .where(OidcToken.kind == "access")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    flow.client.post("/revoke", data={"token": tokens["refresh_token"]}, headers=flow.auth_headers(rp))
    for token in (tokens["access_token"], tokens["refresh_token"]):
        lean, reference = both(app, flask_side, lambda t=token: introspection_environ(rp, f"token={t}"))
        assert lean == ("200 OK", reference[1], b'{"active": false}') == reference


@pytest.mark.parametrize(
    "case",
    ["unknown", "expired", "trailing space", "lowercase scheme twice", "signed", "disabled client", "no openid"],
)
def test_userinfo_other_cases_go_to_flask(app, flow, voters, flask_side, case):
    rp = make_client(app, userinfo_signed_response_alg="ES256") if case == "signed" else make_client(app)
    tokens = flow.tokens(rp, voters.create(), scope="openid profile")
    token = tokens["access_token"]
    authorization = None
    if case == "unknown":
        token = "inconnu"
    elif case == "trailing space":
        authorization = f"Bearer {token} "
    elif case == "lowercase scheme twice":
        authorization = f"bearer  {token}"
    elif case in ("expired", "disabled client", "no openid"):
        with app.app_context(), get_db(app).transaction() as session:
            if case == "expired":
                session.execute(update(OidcToken).values(expires_at=dt.datetime.now(dt.UTC)))
            elif case == "disabled client":
                session.execute(update(OidcClient).values(disabled_at=dt.datetime.now(dt.UTC)))
            else:
                session.execute(update(OidcToken).values(scope="profile"))
    before = flask_side.calls
    response = flow.client.get("/userinfo", headers={"Authorization": authorization or f"Bearer {token}"})
    assert flask_side.calls == before + 1
    if case == "signed":
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/jwt"
    elif case == "lowercase scheme twice":
        assert response.status_code == 200  # Authlib's parser accepts it: so does the provider, through Flask
    elif case == "no openid":
        assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"
    else:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "case", ["unknown token", "other client", "wrong secret", "duplicate token", "extra parameter", "post method"]
)
def test_introspection_other_cases_go_to_flask(app, flow, rp, voters, flask_side, case):
    tokens = flow.tokens(rp, voters.create())
    token = tokens["access_token"]
    client, body, authorization = rp, f"token={token}", None
    expected: tuple[int, Any] = (200, {"active": False})
    if case == "unknown token":
        body = "token=inconnu"
    elif case == "other client":
        client = make_client(app)
    elif case == "wrong secret":
        authorization = "Basic " + base64.b64encode(f"{rp.client_id}:faux".encode()).decode()
        expected = (401, "invalid_client")
    elif case == "duplicate token":
        body = f"token={token}&token=inconnu"
        expected = (200, True)
    elif case == "extra parameter":
        body = f"token={token}&client_id={rp.client_id}"
        expected = (200, True)
    elif case == "post method":
        client = make_client(app, token_endpoint_auth_method="client_secret_post")
        token = flow.tokens(client, voters.create())["access_token"]
        body = f"token={token}&client_id={client.client_id}&client_secret={client.secret}"
        authorization = ""
        expected = (200, True)
    before = flask_side.calls
    status, _, answer = call(get_provider(app).lean, introspection_environ(client, body, authorization))
    assert flask_side.calls == before + 1
    parsed = json.loads(answer)
    assert int(status.split()[0]) == expected[0]
    if expected[1] is True:
        assert parsed["active"] is True
    elif isinstance(expected[1], str):
        assert parsed["error"] == expected[1]
    else:
        assert parsed == expected[1]


def refresh_environ(rp: Any, body: str) -> dict[str, Any]:
    environ = introspection_environ(rp, body)
    environ["PATH_INFO"] = "/token"
    return environ


def claims_of(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def refreshed_events(app: Flask) -> list[dict[str, Any]]:
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.type == "token.refreshed").order_by(AuditEvent.id))
        return [{"subject": e.subject, "client_id": e.client_id, **json.loads(e.data)} for e in rows]


def test_refresh_same_answer_as_flask(app, flow, rp, voters, flask_side):
    voter = voters.create()
    first, second = flow.tokens(rp, voter), flow.tokens(rp, voter)
    environs = iter(
        [
            refresh_environ(rp, f"grant_type=refresh_token&refresh_token={first['refresh_token']}"),
            refresh_environ(rp, f"grant_type=refresh_token&refresh_token={second['refresh_token']}"),
        ]
    )
    lean, reference = both(app, flask_side, environs.__next__)
    assert lean[0] == reference[0] == "200 OK"
    assert [h for h in lean[1] if h[0] != "Content-Length"] == [h for h in reference[1] if h[0] != "Content-Length"]
    ours, theirs = json.loads(lean[2]), json.loads(reference[2])
    assert (
        set(ours) == set(theirs) == {"token_type", "access_token", "expires_in", "scope", "refresh_token", "id_token"}
    )
    assert {k: ours[k] for k in ("token_type", "expires_in", "scope")} == {
        k: theirs[k] for k in ("token_type", "expires_in", "scope")
    }
    ours_claims, theirs_claims = claims_of(ours["id_token"]), claims_of(theirs["id_token"])
    assert set(ours_claims) == set(theirs_claims) and "nonce" not in ours_claims
    for name in ("iss", "sub", "aud", "auth_time", "acr", "amr"):
        assert ours_claims[name] == theirs_claims[name]
    lean_event, flask_event = refreshed_events(app)[-2:]
    assert set(lean_event) == set(flask_event)
    assert lean_event["subject"] == voter.subject and lean_event["scope"] == ours["scope"]
    # The new tokens work, through either path.
    assert flow.client.get("/userinfo", headers={"Authorization": f"Bearer {ours['access_token']}"}).status_code == 200
    again = call(
        get_provider(app).lean, refresh_environ(rp, f"grant_type=refresh_token&refresh_token={ours['refresh_token']}")
    )
    assert again[0] == "200 OK"


def test_refresh_reuse_after_lean_rotation_revokes_the_grant(app, flow, rp, voters, flask_side):
    tokens = flow.tokens(rp, voters.create())
    body = f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}"
    before = flask_side.calls
    status, _, answer = call(get_provider(app).lean, refresh_environ(rp, body))
    assert status == "200 OK" and flask_side.calls == before
    new = json.loads(answer)
    replay = call(get_provider(app).lean, refresh_environ(rp, body))
    assert flask_side.calls == before + 1  # the reuse is the grant's code's to handle
    assert replay[0] == "400 BAD REQUEST" and json.loads(replay[2])["error"] == "invalid_grant"
    introspected = call(get_provider(app).lean, introspection_environ(rp, f"token={new['access_token']}"))
    assert json.loads(introspected[2]) == {"active": False}
    assert events(app, "token.refresh_reused") == 1


@pytest.mark.parametrize("case", ["scope", "post method", "unknown", "access token", "no refresh grant"])
def test_refresh_other_cases_go_to_flask(app, flow, rp, voters, flask_side, case):
    client = rp
    if case == "post method":
        client = make_client(app, token_endpoint_auth_method="client_secret_post")
    tokens = flow.tokens(client, voters.create())
    body = f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}"
    expected = "200 OK"
    if case == "scope":
        body += "&scope=openid"
    elif case == "unknown":
        body = "grant_type=refresh_token&refresh_token=inconnu"
        expected = "400 BAD REQUEST"
    elif case == "access token":
        body = f"grant_type=refresh_token&refresh_token={tokens['access_token']}"
        expected = "400 BAD REQUEST"
    elif case == "no refresh grant":
        with app.app_context(), get_db(app).transaction() as session:
            session.execute(
                update(OidcClient)
                .where(OidcClient.client_id == rp.client_id)
                .values(grant_types=["authorization_code"])
            )
        expected = "400 BAD REQUEST"
    environ = refresh_environ(client, body)
    if case == "post method":
        environ = form_credentials_environ(client, body)
    before = flask_side.calls
    status, _, answer = call(get_provider(app).lean, environ)
    assert flask_side.calls == before + 1
    assert status == expected, answer
    if case == "scope":
        assert json.loads(answer)["scope"] == "openid"


SERVICE_SCOPES = "mesure:lecture mesure:ecriture"


@pytest.fixture
def service(app: Flask) -> Any:
    """A ministry service registered for the client_credentials grant and both service scopes."""
    app.config["SERVICE_SCOPES"] = SERVICE_SCOPES
    return make_service_client(app, SERVICE_SCOPES)


def form_credentials_environ(client: Any, body: str) -> dict[str, Any]:
    """A token request authenticated by ``client_secret_post`` (the lean path leaves it to Flask)."""
    return EnvironBuilder(
        path="/token",
        method="POST",
        data=f"{body}&client_id={client.client_id}&client_secret={client.secret}",
        content_type="application/x-www-form-urlencoded",
    ).get_environ()


def service_environ(rp: Any, body: str) -> dict[str, Any]:
    return refresh_environ(rp, body)


def issued_events(app: Flask, client_id: str) -> list[dict[str, Any]]:
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "token.issued", AuditEvent.client_id == client_id)
            .order_by(AuditEvent.id)
        )
        return [{"subject": e.subject, **json.loads(e.data)} for e in rows]


@pytest.mark.parametrize(
    "body", ["grant_type=client_credentials", "grant_type=client_credentials&scope=mesure:lecture"]
)
def test_client_credentials_same_answer_as_flask(app, flow, service, flask_side, body):
    lean, reference = both(app, flask_side, lambda: service_environ(service, body))
    assert lean[0] == reference[0] == "200 OK"
    assert [h for h in lean[1] if h[0] != "Content-Length"] == [h for h in reference[1] if h[0] != "Content-Length"]
    ours, theirs = json.loads(lean[2]), json.loads(reference[2])
    assert set(ours) == set(theirs) == {"token_type", "access_token", "expires_in", "scope"}
    assert {k: ours[k] for k in ("token_type", "expires_in", "scope")} == {
        k: theirs[k] for k in ("token_type", "expires_in", "scope")
    }
    assert ours["scope"] == ("mesure:lecture" if "scope=" in body else SERVICE_SCOPES)
    lean_event, flask_event = issued_events(app, service.client_id)[-2:]
    assert set(lean_event) == set(flask_event) and lean_event["subject"] is None
    assert lean_event["grant_type"] == "client_credentials" and lean_event["scope"] == ours["scope"]
    # The same row as Flask's: introspected through either path alike, no subject.
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.scalars(select(OidcToken).where(OidcToken.client_id == service.client_id)).all()
        columns = [c.name for c in OidcToken.__table__.c if c.name not in ("id", "token_hash", "jti", "grant_id")]
        shapes = [
            {name: getattr(row, name) for name in columns if name not in ("issued_at", "expires_at")} for row in rows
        ]
        assert len(rows) == 2 and shapes[0] == shapes[1]
        assert rows[0].expires_at - rows[0].issued_at == rows[1].expires_at - rows[1].issued_at
    introspected = call(get_provider(app).lean, introspection_environ(service, f"token={ours['access_token']}"))
    assert json.loads(introspected[2])["active"] is True and "sub" not in json.loads(introspected[2])


@pytest.mark.parametrize(
    "case", ["not registered", "other scope", "empty scope", "wrong secret", "extra parameter", "post method"]
)
def test_client_credentials_other_cases_go_to_flask(app, flow, rp, service, flask_side, case):
    client, body = service, "grant_type=client_credentials"
    expected: tuple[str, str | None] = ("200 OK", None)
    if case == "not registered":
        client = rp
        expected = ("400 BAD REQUEST", "unauthorized_client")
    elif case == "other scope":
        body += "&scope=mesure:lecture%20openid"
        expected = ("400 BAD REQUEST", "invalid_scope")
    elif case == "empty scope":
        body += "&scope="
    elif case == "wrong secret":
        client = dataclasses.replace(service, secret="faux")
        expected = ("401 UNAUTHORIZED", "invalid_client")
    elif case == "extra parameter":
        body += "&resource=https://api.example"
    environ = service_environ(client, body)
    if case == "post method":
        client = make_service_client(app, SERVICE_SCOPES, token_endpoint_auth_method="client_secret_post")
        environ = form_credentials_environ(client, body)
    before = flask_side.calls
    status, _, answer = call(get_provider(app).lean, environ)
    assert flask_side.calls == before + 1
    assert status == expected[0], answer
    if expected[1] is not None:
        assert json.loads(answer)["error"] == expected[1]
    else:
        assert json.loads(answer)["token_type"] == "Bearer"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite reads through SQLAlchemy
def test_a_failed_direct_read_goes_to_flask_and_leaves_its_connection_out_of_the_pool(
    app, backend, flow, rp, voters, flask_side, monkeypatch
):
    """On PostgreSQL the lean path reads through psycopg directly (idp.oidc.direct_read): a connection that fails
    there is invalidated (never handed to the next request) and Flask answers the request."""
    tokens = flow.tokens(rp, voters.create())
    seen: list[Any] = []
    original = direct_read.execute

    def failing_once(cursor: Any, sql: str, params: Any) -> Any:
        seen.append(cursor.connection)
        if len(seen) == 1:
            raise psycopg.OperationalError("connexion perdue (test)")
        return original(cursor, sql, params)

    monkeypatch.setattr(direct_read, "execute", failing_once)
    reference = call(flask_side.app, userinfo_environ(tokens["access_token"]))
    before = flask_side.calls
    first = call(get_provider(app).lean, userinfo_environ(tokens["access_token"]))
    assert flask_side.calls == before + 1 and first == reference and first[0] == "200 OK"
    assert seen[0].closed, "the failed connection was closed, not put back in the pool"
    second = call(get_provider(app).lean, userinfo_environ(tokens["access_token"]))
    assert flask_side.calls == before + 1 and second == reference
    assert seen[1] is not seen[0]
