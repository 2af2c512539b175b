"""Refresh tokens (conformance: oidcc-refresh-token): rotated on every use, reuse revokes the whole grant, the
refreshed ID token keeps sub and auth_time and drops the nonce (OIDC Core 12.2)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select, update

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.models import OidcToken
from tests.oidc_helpers import make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_refresh_rotates_and_returns_a_new_id_token(flow, rp, voters):
    first = flow.tokens(rp, voters.create())
    response = flow.refresh(rp, first["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    old, new = verify(flow.client, first["id_token"]), verify(flow.client, second["id_token"])
    assert new["sub"] == old["sub"] and new["aud"] == old["aud"] and new["iss"] == old["iss"]
    assert new["auth_time"] == old["auth_time"]
    assert new["sid"] == old["sid"]
    assert "nonce" not in new
    # The access token obtained before the refresh keeps working until it expires.
    assert flow.client.get("/userinfo", headers=bearer(first["access_token"])).status_code == 200
    assert flow.client.get("/userinfo", headers=bearer(second["access_token"])).status_code == 200


def test_reuse_of_a_rotated_refresh_token_revokes_the_grant(app, flow, rp, voters):
    first = flow.tokens(rp, voters.create())
    second = flow.refresh(rp, first["refresh_token"]).get_json()
    replay = flow.refresh(rp, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    # Everything of the grant is revoked, including what the legitimate rotation obtained.
    assert flow.refresh(rp, second["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert flow.client.get("/userinfo", headers=bearer(second["access_token"])).status_code == 401
    assert flow.client.get("/userinfo", headers=bearer(first["access_token"])).status_code == 401
    with app.app_context(), get_db(app).transaction() as session:
        assert "token.refresh_reused" in set(session.execute(select(AuditEvent.type)).scalars())


def test_refresh_token_of_another_client_is_refused(app, flow, rp, voters):
    other = make_client(app)
    tokens = flow.tokens(rp, voters.create())
    assert flow.refresh(other, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    # ... and the legitimate client can still use it.
    assert flow.refresh(rp, tokens["refresh_token"]).status_code == 200


def test_refresh_may_narrow_the_scope_but_not_widen_it(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create(), scope="openid email")
    narrowed = flow.refresh(rp, tokens["refresh_token"], scope="openid")
    assert narrowed.status_code == 200
    assert narrowed.get_json()["scope"] == "openid"
    widened = flow.refresh(rp, narrowed.get_json()["refresh_token"], scope="openid email profile")
    assert widened.get_json()["error"] == "invalid_scope"


def test_narrowed_refresh_keeps_the_scope_of_the_grant(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create(), scope="openid email")
    narrowed = flow.refresh(rp, tokens["refresh_token"], scope="openid").get_json()
    again = flow.refresh(rp, narrowed["refresh_token"]).get_json()
    assert again["scope"] == "openid email"


def test_expired_refresh_token_is_refused(app, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            update(OidcToken)
            .where(OidcToken.kind == "refresh")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_rotation_does_not_extend_the_grant(app, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    flow.refresh(rp, tokens["refresh_token"])
    with app.app_context(), get_db(app).transaction() as session:
        expiries = set(session.execute(select(OidcToken.expires_at).where(OidcToken.kind == "refresh")).scalars())
    assert len(expiries) == 1


def test_public_client_refreshes_with_its_client_id(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="none")
    tokens = flow.tokens(rp, voters.create())
    assert flow.refresh(rp, tokens["refresh_token"]).status_code == 200


def test_refresh_is_audited_with_both_jtis(app, flow, rp, voters):
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    flow.refresh(rp, tokens["refresh_token"])
    with app.app_context(), get_db(app).transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.type == "token.refreshed")).scalar_one()
    assert event.subject == voter.subject and event.client_id == rp.client_id
    assert '"previous_jti"' in event.data and '"jti"' in event.data
    assert tokens["refresh_token"] not in event.data and tokens["access_token"] not in event.data


def test_parallel_uses_of_one_refresh_token_rotate_it_once_then_revoke_the_grant(app, flow, rp, voters):
    """Eight requests at once with one refresh token: exactly one rotation; the seven others are reuses, refused
    (``invalid_grant``) with the grant revoked, committed although they answer an error, so the rotation's tokens
    end revoked too."""
    first = flow.tokens(rp, voters.create())
    data = flow.authenticate(rp, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    headers = flow.auth_headers(rp)
    start = threading.Barrier(8)

    def use(_: int) -> tuple[int, dict[str, Any]]:
        client = app.test_client()
        start.wait(timeout=30)
        answer = client.post("/token", data=data, headers=headers)
        return answer.status_code, answer.get_json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(use, range(8)))
    assert sorted(status for status, _ in answers) == [200] + [400] * 7
    assert all(body["error"] == "invalid_grant" for status, body in answers if status == 400)
    rotated = next(body for status, body in answers if status == 200)
    assert flow.refresh(rp, rotated["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert flow.client.get("/userinfo", headers=bearer(rotated["access_token"])).status_code == 401
    with app.app_context(), get_db(app).transaction() as session:
        live = session.execute(select(OidcToken).where(OidcToken.revoked_at.is_(None))).scalars().all()
        types = list(session.execute(select(AuditEvent.type).where(AuditEvent.client_id == rp.client_id)).scalars())
    assert live == []
    # A use that reads the token once its grant is revoked is refused as a revoked token, not as a reuse: how many
    # of the seven saw it rotated but not yet revoked depends on the interleaving.
    assert types.count("token.refreshed") == 1 and 1 <= types.count("token.refresh_reused") <= 7


def test_a_replay_revokes_durably_and_commits_nothing_else(app, flow, rp, voters):
    """The replayed request answers an error, so its own writes are rolled back; the grant's revocation and its two
    audit events are committed on their own (idp.oidc.boundary)."""
    first = flow.tokens(rp, voters.create())
    assert flow.refresh(rp, first["refresh_token"]).status_code == 200
    with app.app_context(), get_db(app).transaction() as session:
        before = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    replay = flow.refresh(rp, first["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    with app.app_context(), get_db(app).transaction() as session:
        after = list(session.execute(select(AuditEvent.type).order_by(AuditEvent.id).offset(before)).scalars())
        live = session.execute(select(OidcToken).where(OidcToken.revoked_at.is_(None))).scalars().all()
    assert after == ["token.revoked", "token.refresh_reused"]
    assert live == []
