"""What the IdP keeps of the provider: discovery (issuer checked, reached through an internal address when one is
configured, reused while the provider's discovery is down), the JWKS (cached, fetched again once on an unknown
kid), and the federation's settings (refused at start-up when unusable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from fc_dev_provider.keys import SigningKey
from idp import create_app
from idp.db import get_db
from idp.federation.errors import FederationError
from idp.federation.extension import get_federation
from idp.federation.provider import METADATA_TTL, ProviderDirectory
from idp.federation.settings import FederationConfigError, load_settings
from tests.helpers import VoterFactory
from tests.idp.federation.conftest import FcServer, serve_fc
from tests.idp.federation.helpers import FC_CLIENT_ID, FC_CLIENT_SECRET, FederationActions, claire, events, path_of

JWKS = "/api/v2/jwks"
DISCOVERY = "/api/v2/.well-known/openid-configuration"


def test_discovery_and_jwks_are_cached(
    fc: FederationActions, voters: VoterFactory, client: FlaskClient, fc_server: FcServer
) -> None:
    claire(voters)
    for _ in range(2):
        assert fc.identify("claire-jullien").status_code == 302
        client.get("/login/restart")
    assert fc_server.count(DISCOVERY) == 1
    assert fc_server.count(JWKS) == 1


def test_jwks_fetched_again_once_on_key_rotation(
    fc: FederationActions, voters: VoterFactory, client: FlaskClient, fc_server: FcServer
) -> None:
    claire(voters)
    assert fc.identify("claire-jullien").status_code == 302
    fc_server.provider.signing_key = SigningKey.generate()  # the provider restarted with a new key
    client.get("/login/restart")
    answer = fc.identify("claire-jullien")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    assert answer.headers["Location"].endswith("/login/password")
    assert fc_server.count(JWKS) == 2


def test_unknown_kid_is_fetched_once_then_refused(
    app: Flask, fc: FederationActions, voters: VoterFactory, fc_server: FcServer
) -> None:
    claire(voters)
    answer = fc.identify("claire-jullien", "id-token-cle-inconnue")
    assert answer.status_code == 502
    assert fc_server.count(JWKS) == 2  # the first fetch, and one more for the unknown kid
    assert events(app)[-1]["detail"] == "unknown_kid"


def test_internal_base_url(
    make_app: Callable[..., Flask], voters: VoterFactory, tmp_path: Path, browser: requests.Session
) -> None:
    """docker-compose: the issuer's host does not resolve from the IdP; the IdP calls the provider through
    FC_INTERNAL_BASE_URL, checks the public issuer, and still sends the browser to the public address."""
    claire(voters)
    with serve_fc(tmp_path, public_host="fc-public.invalid") as server:
        internal = server.issuer.replace("fc-public.invalid", "127.0.0.1")
        app = make_app(FC_ISSUER=server.issuer, FC_INTERNAL_BASE_URL=internal)
        client = app.test_client()
        started = client.get("/federation/franceconnect/login")
        assert started.headers["Location"].startswith(server.issuer + "/authorize?")
        # The browser resolves the public name (here, by hand) to the provider.
        location = FederationActions(client, browser).pick(
            started.headers["Location"].replace("fc-public.invalid", "127.0.0.1"), "claire-jullien"
        )
        answer = client.get(path_of(location))
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
        assert answer.headers["Location"].endswith("/login/password")
        assert server.count("/api/v2/token") == 1


def test_issuer_mismatch_is_refused(make_app: Callable[..., Flask], fc_server: FcServer) -> None:
    app = make_app(FC_ISSUER=fc_server.issuer.replace("127.0.0.1", "localhost"), FC_INTERNAL_BASE_URL=fc_server.issuer)
    answer = app.test_client().get("/federation/franceconnect/login")
    assert answer.status_code == 502
    assert "FC-06" in answer.get_data(as_text=True)
    failed = events(app)[-1]
    assert (failed["stage"], failed["detail"]) == ("discovery", "issuer_mismatch")


def test_stale_discovery_is_used_while_the_provider_is_down(app: Flask, tmp_path: Path) -> None:
    now = [0.0]
    with serve_fc(tmp_path) as server:
        settings = load_settings({**app.config, "FC_ISSUER": server.issuer})
        directory = ProviderDirectory(settings, clock=lambda: now[0])
        first = directory.metadata()
    now[0] += METADATA_TTL + 1
    assert directory.metadata() is first  # the provider is gone: the known document is kept
    fresh = ProviderDirectory(settings, clock=lambda: now[0])
    with pytest.raises(FederationError) as raised:
        fresh.metadata()
    assert raised.value.reason == "unavailable"


BASE: dict[str, Any] = {
    "ENV": "testing",
    "PUBLIC_URL": "http://localhost",
    "FC_ENABLED": True,
    "FC_ISSUER": "https://fc.example/api/v2",
    "FC_CLIENT_ID": FC_CLIENT_ID,
    "FC_CLIENT_SECRET": FC_CLIENT_SECRET,
    "FC_HTTP_TIMEOUT": 10,
    "FC_SCOPES": "openid given_name family_name birthdate gender birthplace birthcountry",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FC_ISSUER": None}, "IDP_FC_ISSUER must be an absolute"),
        ({"FC_ISSUER": "https://fc.example/api/v2/"}, "no query, fragment or trailing slash"),
        ({"FC_ISSUER": "http://fc.example/api/v2", "ENV": "production"}, "https URL in production"),
        ({"FC_CLIENT_ID": ""}, "IDP_FC_CLIENT_ID is required"),
        ({"FC_CLIENT_SECRET": None}, "IDP_FC_CLIENT_SECRET is required"),
        ({"FC_SCOPES": "openid given_name family_name email"}, "must include birthdate, birthplace, birthcountry"),
        ({"FC_HTTP_TIMEOUT": 0}, "IDP_FC_HTTP_TIMEOUT"),
        ({"FC_HTTP_TIMEOUT": "lent"}, "IDP_FC_HTTP_TIMEOUT"),
        ({"FC_INTERNAL_BASE_URL": "fc-dev-provider:5002"}, "IDP_FC_INTERNAL_BASE_URL"),
    ],
)
def test_unusable_settings(change: dict[str, Any], message: str) -> None:
    with pytest.raises(FederationConfigError, match=message):
        load_settings({**BASE, **change})


def test_disabled_needs_nothing() -> None:
    settings = load_settings({**BASE, "FC_ENABLED": False, "FC_ISSUER": None, "FC_CLIENT_ID": None})
    assert not settings.enabled


def test_internal_base_rewrites_only_the_issuers_urls() -> None:
    settings = load_settings({**BASE, "FC_INTERNAL_BASE_URL": "http://fc-dev-provider:5002/api/v2"})
    assert settings.internal("https://fc.example/api/v2/token") == "http://fc-dev-provider:5002/api/v2/token"
    assert settings.internal("https://autre.example/jwks") == "https://autre.example/jwks"
    assert settings.discovery_url == "http://fc-dev-provider:5002/api/v2/.well-known/openid-configuration"


def test_app_refuses_to_start_misconfigured(app_config: dict[str, Any], tmp_path: Path) -> None:
    # No database connection is opened before the refusal (nothing to leak): schema check skipped, SQLite store.
    config = {
        **app_config,
        "FC_CLIENT_SECRET": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'refus.sqlite3'}",
        "REDIS_URL": None,
        "SKIP_SCHEMA_CHECK": True,
    }
    with pytest.raises(FederationConfigError, match="IDP_FC_CLIENT_SECRET"):
        create_app(config)


def test_secret_from_a_file(app_config: dict[str, Any], tmp_path: Path) -> None:
    secret_file = tmp_path / "fc_secret"
    secret_file.write_text(FC_CLIENT_SECRET + "\n", encoding="utf-8")
    overrides = {k: v for k, v in app_config.items() if k != "FC_CLIENT_SECRET"}
    app = create_app(overrides, environ={"IDP_FC_CLIENT_SECRET_FILE": str(secret_file)})
    try:
        assert get_federation(app).settings.client_secret == FC_CLIENT_SECRET
    finally:
        get_db(app).dispose()
