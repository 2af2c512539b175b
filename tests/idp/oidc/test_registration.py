"""Dynamic client registration (RFC 7591) behind an initial access token: registered clients are third-party,
pairwise by default, and work at once."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc import clients
from idp.oidc.models import OidcClient
from tests.oidc_helpers import RP, verify

pytest_plugins = ["tests.oidc_fixtures"]

TOKEN = "initial-access-token-for-tests-0123456789"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REGISTRATION_TOKEN": TOKEN}


def register(flow, metadata, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return flow.client.post("/register", json=metadata, headers=headers)


def test_registration_creates_a_working_third_party_client(app, flow, voters):
    response = register(
        flow,
        {
            "client_name": "Application académique",
            "redirect_uris": ["https://app.ac-exemple.fr/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "post_logout_redirect_uris": ["https://app.ac-exemple.fr/bye"],
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["client_id"] and body["client_secret"] and body["client_secret_expires_at"] == 0
    assert body["subject_type"] == "pairwise"
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["id_token_signed_response_alg"] == "RS256"
    assert set(body["scope"].split()) == {"openid", "profile", "email", "academie"}
    with app.app_context(), get_db(app).transaction() as session:
        client = clients.find(session, body["client_id"])
        assert client is not None and not client.first_party and client.registered_by == "registration"
        event = session.execute(select(AuditEvent).where(AuditEvent.type == "client.registered")).scalar_one()
        assert body["client_secret"] not in event.data
    rp = RP(body["client_id"], body["client_secret"], "https://app.ac-exemple.fr/cb", "client_secret_basic")
    voter = voters.create()
    tokens = flow.tokens(rp, voter)  # consent screen on the way
    assert verify(flow.client, tokens["id_token"])["sub"] != voter.subject


def test_public_client_registration_gets_no_secret(flow):
    body = register(
        flow, {"redirect_uris": ["https://spa.example.fr/cb"], "token_endpoint_auth_method": "none"}
    ).get_json()
    assert "client_secret" not in body and body["token_endpoint_auth_method"] == "none"


def test_private_key_jwt_registration(flow):
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    body = register(
        flow,
        {
            "redirect_uris": ["https://app.example.fr/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.as_dict(private=False)]},
        },
    ).get_json()
    assert "client_secret" not in body and body["jwks"]["keys"][0]["x"] == key.as_dict()["x"]


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x"])
def test_registration_needs_the_initial_access_token(flow, token):
    response = register(flow, {"redirect_uris": ["https://app.example.fr/cb"]}, token=token)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({}, "invalid_request"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://app.example.fr/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example.fr/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://app.example.fr/cb"}, "invalid_redirect_uri"),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "grant_types": ["client_credentials"]},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": ["https://app.example.fr/cb"], "response_types": ["token"]}, "invalid_client_metadata"),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "token_endpoint_auth_method": "client_secret_jwt"},
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "id_token_signed_response_alg": "HS256"},
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "id_token_signed_response_alg": "none"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": ["https://app.example.fr/cb"], "subject_type": "secret"}, "invalid_client_metadata"),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "jwks_uri": "https://app.example.fr/jwks"},
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": ["https://a.example.fr/cb", "https://b.example.fr/cb"]}, "invalid_client_metadata"),
        (
            {"redirect_uris": ["https://app.example.fr/cb"], "id_token_encrypted_response_alg": "RSA-OAEP"},
            "invalid_client_metadata",
        ),
    ],
)
def test_invalid_metadata(flow, metadata, error):
    response = register(flow, metadata)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == error


def test_body_that_is_not_json(flow):
    response = flow.client.post("/register", data="redirect_uris=x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


class SectorDocument:
    def __init__(self, uris):
        document = json.dumps(uris).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/sector.json"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_sector_identifier_uri_is_fetched_and_checked(app, flow):
    uris = ["https://a.example.fr/cb", "https://b.example.fr/cb"]
    document = SectorDocument(uris)
    try:
        body = register(flow, {"redirect_uris": uris, "sector_identifier_uri": document.uri}).get_json()
        assert body["sector_identifier_uri"] == document.uri
        with app.app_context(), get_db(app).transaction() as session:
            assert clients.find(session, body["client_id"]).sector_identifier == "127.0.0.1"
        refused = register(
            flow, {"redirect_uris": [*uris, "https://c.example.fr/cb"], "sector_identifier_uri": document.uri}
        )
        assert refused.get_json()["error"] == "invalid_client_metadata"
    finally:
        document.close()


def test_registration_is_closed_without_a_configured_token(app_config, flow):
    from idp import create_app

    closed = create_app({**app_config, "REGISTRATION_TOKEN": None})
    response = closed.test_client().post(
        "/register", json={"redirect_uris": ["https://a.example.fr/cb"]}, headers={"Authorization": "Bearer anything"}
    )
    assert response.status_code == 401
    get_db(closed).dispose()


@pytest.mark.parametrize("subject_type", ["public", "Public", "", "plain", "pairwise "])
def test_a_registered_client_cannot_ask_for_anything_but_pairwise_subjects(app, flow, subject_type):
    """The public ``sub`` is the one first-party clients get: a third party that obtained it could correlate
    voters with them. Registration refuses it with RFC 7591's ``invalid_client_metadata`` and creates nothing."""
    with app.app_context(), get_db(app).transaction() as session:
        before = session.execute(select(func.count()).select_from(OidcClient)).scalar_one()
    response = register(flow, {"redirect_uris": ["https://app.ac-exemple.fr/cb"], "subject_type": subject_type})
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "invalid_client_metadata" and "pairwise" in body["error_description"]
    with app.app_context(), get_db(app).transaction() as session:
        assert session.execute(select(func.count()).select_from(OidcClient)).scalar_one() == before


def test_asking_for_pairwise_subjects_explicitly_is_fine(flow):
    response = register(flow, {"redirect_uris": ["https://app.ac-exemple.fr/cb"], "subject_type": "pairwise"})
    assert response.status_code == 201 and response.get_json()["subject_type"] == "pairwise"
