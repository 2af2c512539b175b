"""Configuration of the auditors' console.

Layered like the other applications of the suite (:mod:`infra.config`): built-in defaults, then environment
variables prefixed ``AUDIT_CONSOLE_`` (or ``AUDIT_CONSOLE_*_FILE`` naming a file that holds the value, for secrets
and the seal's public key), then the mapping a caller passes to :func:`audit_console.create_app` (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import Settings
from infra.staff_console import validate_settings

ENV_PREFIX = "AUDIT_CONSOLE_"

DEFAULTS: dict[str, Any] = {
    # "production", "development" or "testing". Development and testing relax cookie `Secure` and HSTS.
    "ENV": "production",
    # Signs the CSRF tokens. Required; at least 32 characters in production. (Sessions are server side: the cookie
    # holds a random id, the session lives in Redis or in EPHEMERAL_DATABASE_URL, so « Se déconnecter » ends it.)
    "SECRET_KEY": None,
    # The IdP's database, read only: the console opens it with every transaction read-only (SQLite query_only,
    # PostgreSQL default_transaction_read_only); in production also give it a role that may only SELECT
    # (audit_console/readonly_role.sql).
    "DATABASE_URL": None,
    # Where the console keeps its sessions and the last verification result, shared by its processes: a Redis
    # (redis://…). Unset: EPHEMERAL_DATABASE_URL.
    "REDIS_URL": None,
    # Prefix of the console's keys in Redis.
    "REDIS_PREFIX": "audit-console:",
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
    # Without Redis, the console's own database for its sessions and last verification result (never the IdP's,
    # which it only reads); its table is created at start. A SQLite file serves the processes of one machine.
    "EPHEMERAL_DATABASE_URL": "sqlite:///instance/audit-console.sqlite3",
    # Public address of the console: its redirect URIs are built from it, never from the Host header.
    "PUBLIC_URL": "http://localhost:5003",
    # The IdP's issuer. Required.
    "IDP_ISSUER": None,
    # The console's client id at the IdP (printed by ``idp auditors console-client``). Required.
    "CLIENT_ID": None,
    # The console's client secret at the IdP (printed once by ``idp auditors console-client``). Required; better
    # given as AUDIT_CONSOLE_CLIENT_SECRET_FILE.
    "CLIENT_SECRET": None,
    # Scopes asked for at sign-in (audit releases the account's roles).
    "SCOPES": "openid profile email audit",
    # Seconds each call to the IdP may take.
    "HTTP_TIMEOUT": 10,
    # Seconds a sign-in lasts in the console, whatever the activity (the session ends sooner at sign-out).
    "SESSION_LIFETIME": 3600,
    # Name of the console's session cookie.
    "SESSION_COOKIE_NAME": "audit_console_session",
    # Events per page (at most 200).
    "PAGE_SIZE": 50,
    # The seal's public key (PEM, ``idp audit seal-key``): when set, the verification also checks the log against
    # the seals stored in the database. Better given as AUDIT_CONSOLE_SEAL_PUBLIC_KEY_FILE.
    "SEAL_PUBLIC_KEY": None,
    # The DSFR's dist folder, served under /static/dsfr/ (unset: the repository's npm install; see templates/dsfr.py).
    "DSFR_DIR": None,
    # Number of reverse proxies in front of the console whose X-Forwarded-* headers are trusted (0: none).
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

SETTINGS = Settings(ENV_PREFIX, DEFAULTS)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``AUDIT_CONSOLE_*`` (or ``AUDIT_CONSOLE_*_FILE``) variables, then ``overrides``."""
    return SETTINGS.load(environ, overrides)


def validate(config: Mapping[str, Any]) -> None:
    """Refuse configurations that would be unsafe or cannot work, with a message an operator can act on."""
    validate_settings(SETTINGS, config)
    if not 1 <= int(config["PAGE_SIZE"]) <= 200:
        raise SETTINGS.error("PAGE_SIZE", "must be between 1 and 200")
