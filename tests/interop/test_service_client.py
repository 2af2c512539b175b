"""A ministry service (client_credentials) against the IdP with panva's openid-client, over real HTTP: the library
obtains tokens with the service's registered and narrower scopes, introspects one, is refused a scope outside its
registration (``invalid_scope``), and revokes the token (interop/service_flow.mjs)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from flask import Flask

from idp.db import get_db
from idp.oidc import clients
from idp.oidc.clients import ClientSettings
from tests.interop.conftest import FLOW_TIMEOUT, INTEROP_DIR

SCOPES = "scrutins:lecture participation:lecture"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "SERVICE_SCOPES": SCOPES + " resultats:ecriture"}


def test_a_service_with_openid_client(app: Flask, live_idp: str, node: str) -> None:
    settings = ClientSettings(
        client_name="Service des statistiques",
        redirect_uris=[],
        response_types=[],
        grant_types=["client_credentials"],
        scope=SCOPES,
    )
    with get_db(app).transaction() as session:
        service, secret = clients.create(session, settings, app.config)
        client_id = service.client_id
    config = {
        "issuer": live_idp,
        "client_id": client_id,
        "client_secret": secret,
        "narrower_scope": "participation:lecture",
        "foreign_scope": "resultats:ecriture",
    }
    done = subprocess.run(
        [node, str(INTEROP_DIR / "service_flow.mjs")],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=FLOW_TIMEOUT,
        cwd=INTEROP_DIR,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True and done.returncode == 0, (report, done.stderr)
    steps = report["steps"]
    assert "client_credentials" in steps["discovery"]["grant_types_supported"]
    granted = steps["client_credentials"]
    assert granted["token_type"].lower() == "bearer"
    assert granted["scope"] == SCOPES
    assert granted["has_refresh_token"] is False and granted["has_id_token"] is False
    assert steps["narrower_scope"]["scope"] == "participation:lecture"
    introspected = steps["introspection"]
    assert introspected["active"] is True and introspected["client_id"] == client_id
    assert introspected["scope"] == SCOPES and introspected["has_jti"] is True
    assert "sub" not in introspected
    assert steps["foreign_scope"] == {"refused": True, "error": "invalid_scope", "status": 400}
    assert steps["revocation"]["active_after"] is False
