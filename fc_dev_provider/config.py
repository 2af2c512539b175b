"""Configuration of the development provider.

Layered like the IdP's (:mod:`infra.config`): built-in defaults, then ``FCDEV_*`` environment variables (or
``FCDEV_*_FILE`` naming a file that holds the value), then the mapping a caller passes to
:func:`fc_dev_provider.create_app` (tests).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.config import ConfigError, Settings

ENV_PREFIX = "FCDEV_"
DATA_DIR = Path(__file__).resolve().parent / "data"

#: Path of every endpoint of the protocol, whatever the issuer's host (FranceConnect v2 serves them there).
API_PREFIX = "/api/v2"

DEFAULTS: dict[str, Any] = {
    # Public address of the API as relying parties see it (discovery at <ISSUER>/.well-known/...); its port is also
    # the default port of ``fc-dev-provider run``.
    "ISSUER": "http://localhost:5002/api/v2",
    # Key of the session cookie (CSRF of the login page). Generated at start when unset: then pending logins
    # do not survive a restart and several processes need the same value.
    "SECRET_KEY": None,
    # PEM or JWK file of the ES256 (P-256) signing key. Unset: a key is generated at start and kept in memory,
    # so every restart rotates it (relying parties re-fetch the JWKS on an unknown kid).
    "SIGNING_KEY_FILE": None,
    # Registered clients: a JSON file (the shipped one registers the IdP of the demo).
    "CLIENTS_FILE": str(DATA_DIR / "clients.json"),
    # Registered clients as inline JSON; wins over CLIENTS_FILE.
    "CLIENTS": None,
    # The fictitious citizens (CSV).
    "CITIZENS_FILE": str(DATA_DIR / "citizens.csv"),
    # The fault scenarios (JSON; an empty file: none).
    "SCENARIOS_FILE": str(DATA_DIR / "scenarios.json"),
    # Where codes, access tokens and pending logins live. Unset: in this process's memory (one process only).
    "REDIS_URL": None,
    # Prefix of the provider's keys in Redis.
    "REDIS_PREFIX": "fcdev:",
    # Redis Sentinel: the Sentinels' addresses (host:port, separated by commas). Set, the app asks them for the
    # current primary, again after a failover; REDIS_URL then gives only the database number, user, password and
    # TLS of the data nodes.
    "REDIS_SENTINELS": None,
    # Name under which the Sentinels monitor the primary (`sentinel monitor <name> …`).
    "REDIS_SENTINEL_MASTER": "elections",
    # Password of the Sentinels themselves (not of the data nodes), if they require one.
    "REDIS_SENTINEL_PASSWORD": None,
    # Seconds a Redis connection attempt or reply may take before the store counts as unavailable (then the
    # French « service momentanément indisponible » page, 503 with Retry-After).
    "REDIS_TIMEOUT": 1.0,
    # Replicas that must acknowledge each store write before it returns (Redis WAIT, at most 200 ms), so that a
    # failover loses no acknowledged session, CAPTCHA or counter. 0: asynchronous replication.
    "REDIS_WAIT_REPLICAS": 0,
    # Salt of the pairwise subject identifiers. A fixed development value keeps them stable across restarts.
    "SUBJECT_SALT": "fc-dev-provider: sel de developpement, pas un secret",
    # Seconds an authorization code lives (FranceConnect: 30 s).
    "CODE_TTL": 30,
    # Seconds an access token lives (FranceConnect: 60 s).
    "ACCESS_TOKEN_TTL": 60,
    # Seconds an ID token lives.
    "ID_TOKEN_TTL": 60,
    # How long the login page waits for the tester to pick a citizen.
    "INTERACTION_TTL": 600,
    # Name of the session cookie of the login page.
    "SESSION_COOKIE_NAME": "fcdev_session",
    # Number of reverse proxies whose X-Forwarded-* headers are trusted (0: none).
    "TRUSTED_PROXIES": 0,
    # --- Metrics ---
    # Port of the Prometheus metrics of this process (a web server's workers each answer the sum of all of them, see
    # docs/operators/monitoring.md; a worker command's own, or its --metrics-port). 0: not served. Never the public
    # port: the proxy does not route it.
    "METRICS_PORT": 0,
    # Address the metrics port binds to: the loopback unless the scraper is on another host or container (then an
    # address of the private network only; docker-compose: 0.0.0.0 inside the private network).
    "METRICS_BIND": "127.0.0.1",
}

#: Settings that only a caller of ``create_app`` can give (not strings): the clock, for time travel in tests.
CALLER_ONLY: dict[str, Any] = {"CLOCK": time.time}

SETTINGS = Settings(ENV_PREFIX, DEFAULTS, caller_only=CALLER_ONLY)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``FCDEV_*`` (or ``FCDEV_*_FILE``) variables, then ``overrides``."""
    return SETTINGS.load(environ, overrides)


def validate(config: Mapping[str, Any]) -> None:
    """Refuse a configuration the provider cannot honour, with a message naming the variable."""
    SETTINGS.check_http_url(config, "ISSUER")
    SETTINGS.check_redis(config)
    issuer = str(config["ISSUER"])
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or issuer.endswith("/"):
        raise SETTINGS.error("ISSUER", "must have no query, fragment or trailing slash")
    SETTINGS.check_at_least(config, ("CODE_TTL", "ACCESS_TOKEN_TTL", "ID_TOKEN_TTL", "INTERACTION_TTL"))
    SETTINGS.check_at_least(config, ("TRUSTED_PROXIES",), minimum=0)
    if not str(config["SUBJECT_SALT"]):
        raise SETTINGS.error("SUBJECT_SALT", "must not be empty")
    if not callable(config["CLOCK"]):
        raise ConfigError("CLOCK must be a callable returning the current time in seconds")
