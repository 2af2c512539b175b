"""``idp clients create/list/show/disable``: every setting as an option, the secret printed once."""

from __future__ import annotations

import json
import re

from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc import clients
from idp.oidc.cli import clients_group
from tests.oidc_helpers import RP, verify

pytest_plugins = ["tests.oidc_fixtures"]


def run(app, *args, ok=True):
    result = app.test_cli_runner().invoke(clients_group, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_create_prints_the_id_and_the_secret_once(app, flow, voters):
    result = run(
        app,
        "create",
        "--name",
        "Portail électeur",
        "--redirect-uri",
        "https://portail.example.fr/cb",
        "--post-logout-redirect-uri",
        "https://portail.example.fr/",
        "--first-party",
        "--client-id",
        "portail-electeur",
    )
    assert "client_id: portail-electeur" in result.output
    secret = re.search(r"client_secret: (\S+)", result.output).group(1)
    shown = run(app, "show", "portail-electeur").output
    assert secret not in shown
    details = json.loads(shown)
    assert details["first_party"] is True and details["subject_type"] == "public"
    assert details["post_logout_redirect_uris"] == ["https://portail.example.fr/"]
    rp = RP("portail-electeur", secret, "https://portail.example.fr/cb", "client_secret_basic")
    voter = voters.create()
    id_token = verify(flow.client, flow.tokens(rp, voter)["id_token"])
    assert id_token["sub"] == voter.subject and "email" not in id_token and details["id_token_claims"] is False
    with app.app_context(), get_db(app).transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.type == "client.created")).scalar_one()
    assert event.client_id == "portail-electeur" and secret not in event.data


def test_claims_in_id_token_is_a_registration_option(app, flow, voters):
    """``--claims-in-id-token``: shown by ``show``, and the sign-in's ID token carries the scopes' claims; without
    it (the first test), the ID token carries none."""
    created = run(
        app,
        "create",
        "--name",
        "Portail électeur",
        "--redirect-uri",
        "https://portail.example.fr/cb",
        "--first-party",
        "--claims-in-id-token",
        "--client-id",
        "portail-revendications",
    )
    secret = re.search(r"client_secret: (\S+)", created.output).group(1)
    assert json.loads(run(app, "show", "portail-revendications").output)["id_token_claims"] is True
    rp = RP("portail-revendications", secret, "https://portail.example.fr/cb", "client_secret_basic")
    voter = voters.create()
    claims = verify(flow.client, flow.tokens(rp, voter)["id_token"])
    assert claims["sub"] == voter.subject and claims["email"] == voter.identifier
    problems = run(
        app, "create", "--name", "Service", "--grant-type", "client_credentials", "--claims-in-id-token", ok=False
    )
    assert problems.exit_code != 0 and "id_token_claims" in problems.output


def test_create_with_every_option(app, tmp_path):
    key = ECKey.generate_key("P-256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    result = run(
        app,
        "create",
        "--name",
        "Service partenaire",
        "--redirect-uri",
        "https://a.example.fr/cb",
        "--redirect-uri",
        "https://b.example.fr/cb",
        "--sector-identifier",
        "example.fr",
        "--backchannel-logout-uri",
        "https://a.example.fr/logout",
        "--grant-type",
        "authorization_code",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        str(jwks),
        "--scope",
        "openid email",
        "--third-party",
        "--subject-type",
        "pairwise",
        "--id-token-alg",
        "RS256",
        "--userinfo-alg",
        "ES256",
        "--access-token-ttl",
        "300",
        "--refresh-token-ttl",
        "3600",
        "--id-token-ttl",
        "120",
    )
    assert "client_secret" not in result.output
    client_id = re.search(r"client_id: (\S+)", result.output).group(1)
    with app.app_context(), get_db(app).transaction() as session:
        client = clients.find(session, client_id)
        assert client.redirect_uris == ["https://a.example.fr/cb", "https://b.example.fr/cb"]
        assert client.sector_identifier == "example.fr" and client.subject_type == "pairwise"
        assert client.backchannel_logout_uri == "https://a.example.fr/logout"
        assert client.grant_types == ["authorization_code"] and client.scope == "openid email"
        assert client.token_endpoint_auth_method == "private_key_jwt" and client.jwks["keys"][0]["kty"] == "EC"
        assert client.id_token_signed_response_alg == "RS256" and client.userinfo_signed_response_alg == "ES256"
        assert (client.access_token_ttl, client.refresh_token_ttl, client.id_token_ttl) == (300, 3600, 120)
        assert not client.first_party


def test_create_refuses_bad_settings_with_every_reason(app):
    result = run(
        app, "create", "--name", "X", "--redirect-uri", "ftp://a.example.fr/cb", "--scope", "openid admin", ok=False
    )
    assert result.exit_code != 0
    assert "redirect_uri" in result.output and "scope" in result.output


def test_private_key_jwt_needs_a_jwks(app):
    result = run(
        app,
        "create",
        "--name",
        "X",
        "--redirect-uri",
        "https://a.example.fr/cb",
        "--auth-method",
        "private_key_jwt",
        ok=False,
    )
    assert "jwks" in result.output


def test_client_id_must_be_unique(app):
    run(app, "create", "--name", "A", "--redirect-uri", "https://a.example.fr/cb", "--client-id", "unique-id")
    result = run(
        app, "create", "--name", "B", "--redirect-uri", "https://a.example.fr/cb", "--client-id", "unique-id", ok=False
    )
    assert "already registered" in result.output


def test_list_and_disable(app, flow, voters):
    run(app, "create", "--name", "Appli A", "--redirect-uri", "https://a.example.fr/cb", "--client-id", "appli-a")
    assert "appli-a  actif" in run(app, "list").output
    assert "disabled" in run(app, "disable", "appli-a").output
    assert "appli-a  désactivé" in run(app, "list").output
    response = flow.client.get(
        "/authorize",
        query_string={
            "client_id": "appli-a",
            "redirect_uri": "https://a.example.fr/cb",
            "response_type": "code",
            "scope": "openid",
        },
    )
    assert response.status_code == 400 and "Application inconnue" in response.get_data(as_text=True)
    assert run(app, "show", "nobody", ok=False).exit_code != 0


def test_purge_removes_codes_and_tokens_long_expired(app, flow, rp, voters):
    import datetime as dt

    from sqlalchemy import func, update

    from idp.oidc.cli import oidc
    from idp.oidc.models import OidcAuthorizationCode, OidcToken

    flow.tokens(rp, voters.create())
    flow.tokens(rp, voters.create())
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with app.app_context(), get_db(app).transaction() as session:
        first_code = session.execute(select(func.min(OidcAuthorizationCode.id))).scalar_one()
        session.execute(
            update(OidcAuthorizationCode).where(OidcAuthorizationCode.id == first_code).values(expires_at=long_ago)
        )
        session.execute(update(OidcToken).where(OidcToken.id <= 2).values(expires_at=long_ago))
    result = app.test_cli_runner().invoke(oidc, ["purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 code(s), 2 token(s)" in result.output
    with app.app_context(), get_db(app).transaction() as session:
        assert session.execute(select(func.count()).select_from(OidcToken)).scalar_one() == 2
