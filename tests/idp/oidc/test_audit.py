"""Audit of the provider: every code, token issued, refreshed, revoked, introspected and every consent is an event
with the client, the voter's pseudonymous subject and the jti — never a code or a token."""

from __future__ import annotations

import json

from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from tests.oidc_helpers import make_client

pytest_plugins = ["tests.oidc_fixtures"]


def test_a_whole_session_is_audited_without_any_secret(app, flow, voters):
    rp = make_client(app, first_party=False)
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    refreshed = flow.refresh(rp, tokens["refresh_token"]).get_json()
    flow.client.post("/introspect", data={"token": refreshed["access_token"]}, headers=flow.auth_headers(rp))
    flow.client.post("/revoke", data={"token": refreshed["refresh_token"]}, headers=flow.auth_headers(rp))
    with app.app_context(), get_db(app).transaction() as session:
        events = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    oidc_events = [e for e in events if e.client_id == rp.client_id]
    types = [e.type for e in oidc_events]
    for expected in (
        "consent.granted",
        "oidc.code_issued",
        "token.issued",
        "token.refreshed",
        "token.introspected",
        "token.revoked",
    ):
        assert expected in types, expected
    assert all(e.subject == voter.subject for e in oidc_events)
    issued = json.loads(next(e.data for e in oidc_events if e.type == "token.issued"))
    assert issued["jti"] and issued["refresh_jti"] and issued["expires_at"] and issued["grant"]
    secrets = [
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        tokens["id_token"],
        tokens["_authorization"].code,
        rp.secret,
    ]
    everything = json.dumps([[e.type, e.subject, e.client_id, e.data] for e in events])
    for secret in secrets:
        assert secret not in everything
    assert voter.identifier not in everything
