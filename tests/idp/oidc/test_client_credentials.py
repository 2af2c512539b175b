"""The client_credentials grant for ministry services calling each other: a service registered for it (command
line and RFC 7591) gets an access token for itself, scopes within its registration, no subject, no refresh token,
no ID token, audited; every other client or request is refused with the standard OAuth error."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.cli import clients_group
from idp.oidc.models import OidcToken
from tests.idp.oidc.test_statements import recording
from tests.oidc_helpers import RP, make_client, make_service_client

pytest_plugins = ["tests.oidc_fixtures"]

SERVICE_SCOPES = "scrutins:lecture participation:lecture resultats:ecriture"
REGISTRATION_TOKEN = "initial-access-token-for-tests-0123456789"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SERVICE_SCOPES": SERVICE_SCOPES, "REGISTRATION_TOKEN": REGISTRATION_TOKEN}


@pytest.fixture
def service(app, flow) -> RP:
    """A service registered for two of the three service scopes."""
    return make_service_client(app, "scrutins:lecture participation:lecture", client_name="Service des résultats")


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def ask(flow, rp: RP, **data: str):
    return flow.client.post(
        "/token", data={"grant_type": "client_credentials", **data}, headers=basic(rp.client_id, rp.secret)
    )


def events(app, type_: str) -> list[AuditEvent]:
    with app.app_context(), get_db(app).transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.type == type_)).scalars())


def test_a_service_gets_a_token_for_its_registered_scopes_without_a_subject(app, flow, service):
    with recording(app) as recorded:
        response = ask(flow, service)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "scrutins:lecture participation:lecture"
    assert body["expires_in"] == app.config["ACCESS_TOKEN_TTL"]
    assert "refresh_token" not in body and "id_token" not in body
    assert response.headers["Cache-Control"] == "no-store"
    assert (recorded.begins, recorded.commits) == (1, 1)
    # Introspected by the service: active, its client, its scopes, and no subject nor authentication.
    introspected = flow.client.post(
        "/introspect", data={"token": body["access_token"]}, headers=basic(service.client_id, service.secret)
    ).get_json()
    assert introspected["active"] is True
    assert introspected["client_id"] == service.client_id
    assert introspected["scope"] == body["scope"]
    assert introspected["token_type"] == "Bearer"
    assert not {"sub", "auth_time", "acr"} & set(introspected)
    with app.app_context(), get_db(app).transaction() as session:
        row = session.execute(select(OidcToken).where(OidcToken.client_id == service.client_id)).scalar_one()
        assert (row.kind, row.voter_id, row.subject, row.auth_time, row.acr) == ("access", None, None, None, None)
        assert row.token_hash != body["access_token"].encode()
    # Audited with its grant type, in the same transaction, without the token itself.
    (issued,) = [e for e in events(app, "token.issued") if e.client_id == service.client_id]
    data = json.loads(issued.data)
    assert issued.subject is None
    assert data["grant_type"] == "client_credentials" and data["jti"] == row.jti
    assert data["scope"] == body["scope"]
    assert body["access_token"] not in issued.data


def test_a_narrower_scope_is_granted_as_asked(flow, service):
    response = ask(flow, service, scope="participation:lecture")
    assert response.status_code == 200
    assert response.get_json()["scope"] == "participation:lecture"


@pytest.mark.parametrize(
    "scope", ["resultats:ecriture", "scrutins:lecture resultats:ecriture", "openid", "profile", "inconnu"]
)
def test_a_scope_outside_the_registration_is_invalid_scope(app, flow, service, scope):
    response = ask(flow, service, scope=scope)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"
    with app.app_context(), get_db(app).transaction() as session:
        assert session.execute(select(OidcToken).where(OidcToken.client_id == service.client_id)).first() is None


def test_a_client_not_registered_for_the_grant_is_unauthorized_client(flow, rp):
    response = ask(flow, rp)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_a_public_client_is_refused(app, flow):
    public = make_client(app, token_endpoint_auth_method="none")
    response = flow.client.post("/token", data={"grant_type": "client_credentials", "client_id": public.client_id})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_wrong_secret_is_invalid_client(flow, service):
    response = flow.client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(service.client_id, "not-the-secret")
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_service_token_opens_no_userinfo_and_is_revocable(app, flow, service):
    token = ask(flow, service).get_json()["access_token"]
    userinfo = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert userinfo.status_code == 403
    assert userinfo.get_json()["error"] == "insufficient_scope"
    auth = basic(service.client_id, service.secret)
    assert flow.client.post("/revoke", data={"token": token}, headers=auth).status_code == 200
    assert flow.client.post("/introspect", data={"token": token}, headers=auth).get_json() == {"active": False}


def test_registration_rules_of_a_service(app, flow):
    from idp.oidc.clients import ClientSettings, ClientSettingsError, create

    def problems(**overrides):
        values = {
            "client_name": "Service",
            "redirect_uris": [],
            "response_types": [],
            "grant_types": ["client_credentials"],
            "scope": "scrutins:lecture",
            **overrides,
        }
        with app.app_context(), get_db(app).transaction() as session:
            try:
                create(session, ClientSettings(**values), app.config)
            except ClientSettingsError as exc:
                return " ".join(exc.problems)
        return ""

    assert problems() == ""
    assert "client_credentials goes alone" in problems(grant_types=["client_credentials", "authorization_code"])
    assert "must authenticate" in problems(token_endpoint_auth_method="none")
    assert "no redirect_uris" in problems(redirect_uris=["https://service.example.fr/cb"])
    assert "not allowed: openid" in problems(scope="openid scrutins:lecture")
    assert "not allowed: resultats:lire" in problems(scope="resultats:lire")
    assert "at least one" in problems(scope="")


def test_the_command_line_registers_a_service(app, flow):
    result = app.test_cli_runner().invoke(
        clients_group,
        [
            "create",
            "--name",
            "Service des résultats",
            "--grant-type",
            "client_credentials",
            "--scope",
            "resultats:ecriture",
            "--client-id",
            "service-resultats",
        ],
    )
    assert result.exit_code == 0, result.output
    secret = re.search(r"client_secret: (\S+)", result.output).group(1)
    service = RP("service-resultats", secret, "", "client_secret_basic")
    response = ask(flow, service)
    assert response.status_code == 200
    assert response.get_json()["scope"] == "resultats:ecriture"
    listed = app.test_cli_runner().invoke(clients_group, ["list"]).output
    assert re.search(r"^service-resultats\s+actif\s+service\s", listed, re.MULTILINE)
    refused = app.test_cli_runner().invoke(
        clients_group, ["create", "--name", "Service", "--grant-type", "client_credentials", "--scope", "openid"]
    )
    assert refused.exit_code != 0
    assert "among the service scopes" in refused.output


def test_rfc_7591_registration_of_a_service(flow):
    headers = {"Authorization": f"Bearer {REGISTRATION_TOKEN}"}
    answer = flow.client.post(
        "/register",
        json={"client_name": "Service", "grant_types": ["client_credentials"], "scope": "participation:lecture"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    registered = answer.get_json()
    assert registered["grant_types"] == ["client_credentials"] and registered["redirect_uris"] == []
    service = RP(registered["client_id"], registered["client_secret"], "", "client_secret_basic")
    assert ask(flow, service).get_json()["scope"] == "participation:lecture"
    refused = flow.client.post(
        "/register",
        json={"client_name": "Service", "grant_types": ["client_credentials"], "scope": "openid email"},
        headers=headers,
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_client_metadata"


def test_discovery_advertises_the_grant(flow):
    assert (
        "client_credentials" in flow.client.get("/.well-known/openid-configuration").get_json()["grant_types_supported"]
    )


def test_two_services_racing_get_distinct_tokens(app, flow, service):
    """Concurrent requests of one service: each its own token row and audit event (no shared state)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> str:
        client = app.test_client()
        answer = client.post(
            "/token", data={"grant_type": "client_credentials"}, headers=basic(service.client_id, service.secret)
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return str(answer.get_json()["access_token"])

    with ThreadPoolExecutor(4) as pool:
        issued = list(pool.map(one, range(8)))
    assert len(set(issued)) == 8
    assert len([e for e in events(app, "token.issued") if e.client_id == service.client_id]) == 8
