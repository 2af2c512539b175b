"""Signing keys: created at first start, encrypted at rest, rotated with a publication delay, retired once what they
signed has expired; the JWKS is cached for less than the activation delay."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from idp import create_app
from idp.db import get_db
from idp.oidc.cli import keys as keys_command
from idp.oidc.keys import KeyConfigurationError, cipher_for
from idp.oidc.models import OidcSigningKey
from idp.oidc.provider import get_provider
from tests.oidc_helpers import header_of, verify

pytest_plugins = ["tests.oidc_fixtures"]


def run_keys(app, *args):
    result = app.test_cli_runner().invoke(keys_command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def signing_kid(app, alg):
    with app.app_context(), get_db(app).transaction() as session:
        return get_provider(app).keys.signing_key(session, alg).kid


def test_keys_init_creates_one_es256_and_one_rs256_key_once(app, client):
    output = run_keys(app, "init")
    assert "created ES256" in output and "created RS256" in output
    assert "already present" in run_keys(app, "init")
    jwks = client.get("/jwks.json").get_json()
    assert sorted(k["alg"] for k in jwks["keys"]) == ["ES256", "RS256"]
    assert all(k["use"] == "sig" and k["kid"] for k in jwks["keys"])


def test_jwks_holds_public_parts_only_and_private_parts_are_encrypted(app, client):
    run_keys(app, "init")
    for key in client.get("/jwks.json").get_json()["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.execute(select(OidcSigningKey)).scalars().all()
        for row in rows:
            assert b'"d"' not in row.private_jwk_encrypted
            private = json.loads(cipher_for(app.config).decrypt(row.kid, row.private_jwk_encrypted))
            assert private["kid"] == row.kid and "d" in private


def test_a_ciphertext_moved_to_another_key_does_not_decrypt(app):
    from cryptography.exceptions import InvalidTag

    run_keys(app, "init")
    with app.app_context(), get_db(app).transaction() as session:
        first, second = session.execute(select(OidcSigningKey)).scalars().all()
        with pytest.raises(InvalidTag):
            cipher_for(app.config).decrypt(second.kid, first.private_jwk_encrypted)


def test_jwks_cache_is_shorter_than_the_activation_delay(app, client):
    run_keys(app, "init")
    response = client.get("/jwks.json")
    cache = response.headers["Cache-Control"]
    assert cache.startswith("public, max-age=")
    assert int(cache.split("=")[1]) < app.config["KEY_ACTIVATION_DELAY"]
    assert response.mimetype == "application/jwk-set+json"


def test_rotation_publishes_first_then_switches_then_retires(app, client):
    run_keys(app, "init")
    old_kid = signing_kid(app, "ES256")
    output = run_keys(app, "rotate", "--alg", "ES256")
    published = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    new_kid = next(k for k in published if k != old_kid and k != signing_kid(app, "RS256"))
    assert new_kid in output
    # Published at once, but not used before the activation delay.
    assert signing_kid(app, "ES256") == old_kid
    with app.app_context(), get_db(app).transaction() as session:
        new = session.execute(select(OidcSigningKey).where(OidcSigningKey.kid == new_kid)).scalar_one()
        old = session.execute(select(OidcSigningKey).where(OidcSigningKey.kid == old_kid)).scalar_one()
        delay = (new.not_before - new.created_at).total_seconds()
        assert abs(delay - app.config["KEY_ACTIVATION_DELAY"]) < 5
        assert old.retire_after is not None and old.retire_after > new.not_before
        # Time passes: the new key becomes the signing key...
        session.execute(
            update(OidcSigningKey)
            .where(OidcSigningKey.kid == new_kid)
            .values(not_before=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert signing_kid(app, "ES256") == new_kid
    assert old_kid in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}, "old key kept"
    with app.app_context(), get_db(app).transaction() as session:
        # ... and once the old key's tokens have expired it leaves the JWKS.
        session.execute(
            update(OidcSigningKey)
            .where(OidcSigningKey.kid == old_kid)
            .values(retire_after=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert old_kid not in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}


def test_old_key_retires_after_the_longest_id_token_lifetime(app, flow, voters):
    from tests.oidc_helpers import make_client

    make_client(app, id_token_ttl=7200)
    run_keys(app, "rotate", "--alg", "ES256", "--delay", "0")
    with app.app_context(), get_db(app).transaction() as session:
        rows = (
            session.execute(select(OidcSigningKey).where(OidcSigningKey.alg == "ES256").order_by(OidcSigningKey.id))
            .scalars()
            .all()
        )
        old, new = rows
        assert (old.retire_after - new.not_before).total_seconds() >= 7200


def test_tokens_signed_before_a_rotation_still_verify(app, flow, rp, voters):
    before = flow.tokens(rp, voters.create())
    run_keys(app, "rotate", "--alg", "ES256", "--delay", "0")
    after = flow.tokens(rp, voters.create())
    assert header_of(before["id_token"])["kid"] != header_of(after["id_token"])["kid"]
    assert verify(flow.client, before["id_token"])["aud"] == rp.client_id
    assert verify(flow.client, after["id_token"])["aud"] == rp.client_id


def test_keys_list(app):
    run_keys(app, "init")
    output = run_keys(app, "list")
    assert output.count("actif") >= 2 and "ES256" in output and "RS256" in output


def test_production_refuses_to_use_keys_without_a_key_encryption_key():
    config = {"ENV": "production", "SECRET_KEY": "s" * 40, "HMAC_KEY": "h" * 40}
    with pytest.raises(KeyConfigurationError, match="IDP_KEY_ENCRYPTION_KEY"):
        cipher_for(config)
    with pytest.raises(KeyConfigurationError, match="at least 32"):
        cipher_for({**config, "KEY_ENCRYPTION_KEY": "short"})
    assert cipher_for({**config, "KEY_ENCRYPTION_KEY": "k" * 40}) is not None


def test_keys_encrypted_under_one_key_encryption_key_need_it(app_config, app):
    run_keys(app, "init")
    other = create_app({**app_config, "KEY_ENCRYPTION_KEY": "another-key-encryption-key-0123456789"})
    from cryptography.exceptions import InvalidTag

    with other.app_context(), get_db(other).transaction() as session, pytest.raises(InvalidTag):
        get_provider(other).keys.signing_key(session, "ES256")
    get_db(other).dispose()


def test_token_endpoint_without_keys_answers_server_error_and_issues_nothing(app, client, auth, voters):
    from tests.oidc_helpers import Flow, make_client

    rp = make_client(app)
    flow = Flow(app, client, auth)
    authorization = flow.authorize(rp, voters.create())
    response = flow.exchange(rp, authorization)
    assert response.status_code == 500 and response.get_json()["error"] == "server_error"
    from idp.oidc.models import OidcToken

    with app.app_context(), get_db(app).transaction() as session:
        assert session.execute(select(OidcToken)).first() is None
