"""The lean path of the authorization_code grant (idp.oidc.lean): the portal's code exchange answered before Flask,
with the same answer, headers, stored tokens and audit event as the Flask views; every other case, and the loser
of a race or a replayed code, left to them (which refuse it and revoke the grant)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import select, update
from werkzeug.test import EnvironBuilder

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.models import OidcAuthorizationCode, OidcToken
from idp.oidc.provider import get_provider
from tests.idp.oidc.test_lean import Answer, both, call, claims_of, issued_events
from tests.oidc_helpers import RP, Authorization, Flow, make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def exchange_form(rp: RP, authorization: Authorization, **changes: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": authorization.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": authorization.verifier,
        **changes,
    }
    return {name: value for name, value in form.items() if value is not None}


def token_environ(rp: RP, form: dict[str, str], *, basic: bool = True) -> dict[str, Any]:
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    return EnvironBuilder(
        path="/token",
        method="POST",
        headers=headers,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
    ).get_environ()


def stored(app: Flask, access_token: str) -> dict[str, Any]:
    """The stored rows of a grant, by kind, without what differs between two grants (ids, digests, times)."""
    from idp.oidc.crypto import digest

    with app.app_context(), get_db(app).transaction() as session:
        access = session.scalars(select(OidcToken).where(OidcToken.token_hash == digest(access_token))).one()
        rows = session.scalars(select(OidcToken).where(OidcToken.grant_id == access.grant_id)).all()
        return {
            row.kind: {
                "client_id": row.client_id,
                "voter_id": row.voter_id,
                "subject": row.subject,
                "scope": row.scope,
                "auth_time": row.auth_time,
                "acr": row.acr,
                "amr": row.amr,
                "lifetime": round((row.expires_at - row.issued_at).total_seconds()),
                "dead": (row.revoked_at, row.rotated_at),
            }
            for row in rows
        }


def test_code_exchange_same_answer_as_flask(app, flow, rp, voters, flask_side):
    voter = voters.create()
    first, second = flow.authorize(rp, voter), flow.authorize(rp, voter)
    environs = iter([token_environ(rp, exchange_form(rp, a)) for a in (first, second)])
    lean, reference = both(app, flask_side, environs.__next__)
    assert lean[0] == reference[0] == "200 OK"
    assert [h for h in lean[1] if h[0] != "Content-Length"] == [h for h in reference[1] if h[0] != "Content-Length"]
    assert dict(lean[1])["Cache-Control"] == "no-store" and dict(lean[1])["Pragma"] == "no-cache"
    ours, theirs = json.loads(lean[2]), json.loads(reference[2])
    assert (
        set(ours) == set(theirs) == {"token_type", "access_token", "expires_in", "scope", "refresh_token", "id_token"}
    )
    assert {k: ours[k] for k in ("token_type", "expires_in", "scope")} == {
        k: theirs[k] for k in ("token_type", "expires_in", "scope")
    }
    # The ID token verifies against the published keys, with the authorization request's nonce, as Flask's.
    claims = verify(flow.client, ours["id_token"])
    theirs_claims = claims_of(theirs["id_token"])
    assert set(claims) == set(theirs_claims) and claims["nonce"] == first.sent["nonce"]
    assert theirs_claims["nonce"] == second.sent["nonce"] and claims["sid"] and claims["at_hash"]
    for name in ("iss", "sub", "aud", "auth_time", "acr", "amr", "sid"):
        assert claims[name] == theirs_claims[name], name
    assert claims["exp"] - claims["iat"] == theirs_claims["exp"] - theirs_claims["iat"]
    # The same rows stored, the same audit event.
    assert stored(app, ours["access_token"]) == stored(app, theirs["access_token"])
    lean_event, flask_event = issued_events(app, rp.client_id)[-2:]
    assert set(lean_event) == set(flask_event) and lean_event["subject"] == voter.subject
    assert lean_event["jti"] != flask_event["jti"] and lean_event["scope"] == ours["scope"]
    # The tokens work: userinfo, then the refresh grant.
    assert flow.client.get("/userinfo", headers={"Authorization": f"Bearer {ours['access_token']}"}).status_code == 200
    assert flow.refresh(rp, ours["refresh_token"]).status_code == 200


def test_client_without_refresh_grant_same_answer_as_flask(app, flow, voters, flask_side):
    rp = make_client(app, grant_types=["authorization_code"])
    voter = voters.create()
    first, second = flow.authorize(rp, voter, scope="openid email"), flow.authorize(rp, voter, scope="openid email")
    environs = iter([token_environ(rp, exchange_form(rp, a)) for a in (first, second)])
    lean, reference = both(app, flask_side, environs.__next__)
    ours, theirs = json.loads(lean[2]), json.loads(reference[2])
    assert set(ours) == set(theirs) == {"token_type", "access_token", "expires_in", "scope", "id_token"}
    assert ours["scope"] == theirs["scope"] == "openid email"
    assert stored(app, ours["access_token"]) == stored(app, theirs["access_token"])
    assert set(stored(app, ours["access_token"])) == {"access"}


@pytest.mark.parametrize("scope", ["openid profile email academie", "openid email"])
def test_a_client_registered_for_it_gets_userinfo_claims_in_its_id_token(app, flow, voters, flask_side, scope):
    """``id_token_claims``: the code grant's ID token carries what userinfo answers for the same scopes, on the lean
    path and through Flask alike; a refreshed ID token does not, nor does another client's."""
    rp = make_client(app, id_token_claims=True)
    voter = voters.create(family_name="JULLIEN", first_names="Claire", gender="F", academie="dijon")
    first, second = flow.authorize(rp, voter, scope=scope), flow.authorize(rp, voter, scope=scope)
    environs = iter([token_environ(rp, exchange_form(rp, a)) for a in (first, second)])
    lean, reference = both(app, flask_side, environs.__next__)
    ours, theirs = json.loads(lean[2]), json.loads(reference[2])
    userinfo = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {ours['access_token']}"}).get_json()
    assert userinfo["email"] == voter.identifier and ("academie" in userinfo) == ("academie" in scope)
    protocol = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
    for token in (ours, theirs):
        claims = verify(flow.client, token["id_token"])
        assert set(claims) == protocol | set(userinfo)
        assert {name: claims[name] for name in userinfo} == userinfo
    refreshed = flow.refresh(rp, ours["refresh_token"]).get_json()
    assert "email" not in claims_of(refreshed["id_token"])
    other_rp = make_client(app)
    other = flow.authorize(other_rp, voter, scope=scope)
    plain = json.loads(call(get_provider(app).lean, token_environ(other_rp, exchange_form(other_rp, other)))[2])
    assert set(claims_of(plain["id_token"])) == protocol


def test_a_replayed_code_goes_to_flask_which_revokes_the_lean_tokens(app, flow, rp, voters, flask_side):
    authorization = flow.authorize(rp, voters.create())
    form = exchange_form(rp, authorization)
    lean = get_provider(app).lean
    before = flask_side.calls
    status, _, body = call(lean, token_environ(rp, form))
    assert status == "200 OK" and flask_side.calls == before
    tokens = json.loads(body)
    replay = call(lean, token_environ(rp, form))
    assert flask_side.calls == before + 1
    assert replay[0] == "400 BAD REQUEST" and json.loads(replay[2])["error"] == "invalid_grant"
    assert (
        flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    )
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    with app.app_context(), get_db(app).transaction() as session:
        kinds = list(session.scalars(select(AuditEvent.type).where(AuditEvent.client_id == rp.client_id)))
    assert kinds.count("oidc.code_reused") == 1 and kinds.count("token.issued") == 1


def test_simultaneous_redemptions_one_lean_winner_the_others_refused_by_flask(app, flow, rp, voters, flask_side):
    """Eight requests at once with one code: the lean path serves one, hands the seven others to Flask (a race lost
    on the mark, or the code read used), which refuses them and revokes the grant, the winner's tokens included."""
    authorization = flow.authorize(rp, voters.create())
    form = exchange_form(rp, authorization)
    lean = get_provider(app).lean
    before = flask_side.calls
    start = threading.Barrier(8)

    def redeem(_: int) -> Answer:
        environ = token_environ(rp, form)
        start.wait(timeout=30)
        return call(lean, environ)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(redeem, range(8)))
    assert sorted(status for status, _, _ in answers) == ["200 OK"] + ["400 BAD REQUEST"] * 7
    assert flask_side.calls == before + 7
    assert all(json.loads(body)["error"] == "invalid_grant" for status, _, body in answers if status != "200 OK")
    with app.app_context(), get_db(app).transaction() as session:
        tokens = session.scalars(select(OidcToken).where(OidcToken.client_id == rp.client_id)).all()
        kinds = list(session.scalars(select(AuditEvent.type).where(AuditEvent.client_id == rp.client_id)))
    assert len(tokens) == 2 and all(t.revoked_at is not None for t in tokens)
    assert kinds.count("token.issued") == 1 and kinds.count("oidc.code_reused") == 7


def _expire(app: Flask) -> None:
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            update(OidcAuthorizationCode).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )


#: Each case: what to change, and what Flask answers (status, error).
CASES: dict[str, tuple[str, str | None]] = {
    "no verifier": ("200 OK", None),  # a confidential client may omit PKCE if it sent no challenge
    "wrong verifier": ("400 BAD REQUEST", "invalid_grant"),
    "malformed verifier": ("400 BAD REQUEST", "invalid_request"),
    "wrong redirect_uri": ("400 BAD REQUEST", "invalid_grant"),
    "extra parameter": ("200 OK", None),
    "another client's code": ("400 BAD REQUEST", "invalid_grant"),
    "wrong secret": ("401 UNAUTHORIZED", "invalid_client"),
    "expired": ("400 BAD REQUEST", "invalid_grant"),
    "disabled client": ("401 UNAUTHORIZED", "invalid_client"),
    "pairwise client": ("200 OK", None),
    "post method": ("200 OK", None),
    "unknown code": ("400 BAD REQUEST", "invalid_grant"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_code_exchange_other_cases_go_to_flask(app, flow: Flow, rp, voters, flask_side, case):
    client = rp
    if case == "pairwise client":
        client = make_client(app, first_party=False, subject_type="pairwise")
    elif case == "post method":
        client = make_client(app, token_endpoint_auth_method="client_secret_post")
    extra = {"code_challenge": None, "code_challenge_method": None} if case == "no verifier" else {}
    voter = voters.create()
    authorization = flow.authorize(client, voter, **extra)
    changes: dict[str, str | None] = {
        "no verifier": {"code_verifier": None},
        "wrong verifier": {"code_verifier": "x" * 43},
        "malformed verifier": {"code_verifier": "court"},
        "wrong redirect_uri": {"redirect_uri": client.redirect_uri + "/autre"},
        "extra parameter": {"client_id": client.client_id},
        "unknown code": {"code": "inconnu"},
    }.get(case, {})
    form = exchange_form(client, authorization, **changes)
    environ = token_environ(client, form)
    if case == "another client's code":
        environ = token_environ(make_client(app), form)
    elif case == "wrong secret":
        environ = token_environ(RP(client.client_id, "pas-le-secret", client.redirect_uri, "client_secret_basic"), form)
    elif case == "expired":
        _expire(app)
    elif case == "disabled client":
        from idp.oidc import clients

        with app.app_context(), get_db(app).transaction() as session:
            found = clients.find(session, client.client_id)
            assert found is not None
            clients.disable(session, found)
    elif case == "post method":
        assert client.secret
        environ = token_environ(
            client, {**form, "client_id": client.client_id, "client_secret": client.secret}, basic=False
        )
    before = flask_side.calls
    status, _, body = call(get_provider(app).lean, environ)
    assert flask_side.calls == before + 1, "the lean path answered"
    expected_status, expected_error = CASES[case]
    assert status == expected_status, body
    answer = json.loads(body)
    if expected_error is None:
        assert "id_token" in answer
        if case == "pairwise client":
            assert verify(flow.client, answer["id_token"])["sub"] != voter.subject
    else:
        assert answer["error"] == expected_error
