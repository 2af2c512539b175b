"""Configuration of the voter portal.

Layered the Flask way: built-in defaults, then environment variables prefixed ``PORTAL_`` (or ``PORTAL_*_FILE``
naming a file that holds the value, for secrets), then the mapping a caller passes to
:func:`relying_party.create_app` (tests). The comment above each default is its documentation: the configuration
reference of the docs is generated from it (``tools/config_reference.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "PORTAL_"

ACR_VOTE_CODE = "urn:portail-elections:acr:password+vote-code"

#: Defaults suit the embedded development set-up (SQLite, SQL-backed session store).
DEFAULTS: dict[str, Any] = {
    # "production", "development" or "testing". Development and testing relax cookie `Secure` and HSTS and allow
    # http addresses.
    "ENV": "production",
    # Signs the session id cookie and the CSRF tokens. Required for the web app; at least 32 characters in
    # production.
    "SECRET_KEY": None,
    # Durable data (elections, rolls, ballots, émargement, requests, outbox); PostgreSQL in production. It may share
    # the IdP's server or database: the portal's tables are named portal_*, its version table
    # portal_alembic_version.
    "DATABASE_URL": "sqlite:///instance/portal.sqlite3",
    # Sessions and small ephemeral entries in Redis (redis://…). Unset: the table portal_ephemeral of the portal's
    # database.
    "REDIS_URL": None,
    # Prefix of the portal's keys in Redis.
    "REDIS_PREFIX": "portal:",
    # Public address of the portal: redirect URIs are built from it, never from the Host header.
    "PUBLIC_URL": "http://localhost:5001",
    # The IdP's issuer; discovery at <issuer>/.well-known/openid-configuration. Required.
    "IDP_ISSUER": None,
    # The portal's client id at the IdP. Required.
    "CLIENT_ID": None,
    # The portal's client secret at the IdP (client_secret_basic). Required; better given as
    # PORTAL_CLIENT_SECRET_FILE.
    "CLIENT_SECRET": None,
    # Scopes asked for at sign-in.
    "SCOPES": "openid profile email academie",
    # Seconds each call to the IdP may take.
    "HTTP_TIMEOUT": 10,
    # Authentication level asked for by "Je vote" (acr_values): the vote-code step.
    "VOTE_ACR": ACR_VOTE_CODE,
    # amr values, space-separated, that the ID token must contain for the vote-code level.
    "VOTE_AMR": "pwd otp",
    # max_age sent with the vote-code request, in seconds: the returned auth_time must be that fresh.
    "VOTE_MAX_AGE": 300,
    # Seconds after the vote code was entered (the ID token's auth_time) during which ballot pages and submissions
    # are accepted.
    "VOTE_LEVEL_TTL": 900,
    # Seconds without a request after which a session ends (sessions are server side).
    "SESSION_IDLE_TIMEOUT": 1800,
    # Seconds after sign-in at which a session ends, whatever the activity.
    "SESSION_ABSOLUTE_TIMEOUT": 43200,
    # Name of the session cookie (it carries only a random id).
    "SESSION_COOKIE_NAME": "portal_session",
    # Where the assistance requests and complaints are mailed (through the portal's outbox, ``portal deliver``).
    "SUPPORT_EMAIL": "assistance-elections@example.gouv.fr",
    # From header of the messages ``portal deliver`` sends.
    "MAIL_FROM": "Portail Élections <ne-pas-repondre@elections.example.gouv.fr>",
    # The SMTP relay's host, for ``portal deliver``.
    "SMTP_HOST": "localhost",
    # The SMTP relay's port.
    "SMTP_PORT": 25,
    # SMTP AUTH user name, if the relay wants one.
    "SMTP_USERNAME": None,
    # SMTP AUTH password (better given as PORTAL_SMTP_PASSWORD_FILE).
    "SMTP_PASSWORD": None,
    # STARTTLS on the SMTP connection.
    "SMTP_STARTTLS": False,
    # Seconds an SMTP exchange may take.
    "SMTP_TIMEOUT": 10,
    # Attempts before a message of the portal's outbox is abandoned.
    "DELIVERY_MAX_ATTEMPTS": 8,
    # Seconds before the first retry; the delay doubles at each attempt, up to one hour.
    "DELIVERY_RETRY_BASE": 30,
    # Largest "profession de foi" PDF accepted by the election import, in bytes.
    "MAX_PDF_BYTES": 5 * 1024 * 1024,
    # Key of the voters' pseudonyms in the portal's audit log (a keyed hash of the identifier). Unset: derived from
    # SECRET_KEY; set it apart so that rotating the session secret does not change every pseudonym.
    "AUDIT_HMAC_KEY": None,
    # Number of reverse proxies in front of the portal whose X-Forwarded-* headers are trusted (0: none).
    "TRUSTED_PROXIES": 0,
    # The DSFR's dist folder, served under /static/dsfr/ (unset: frontend/node_modules/@gouvfr/dsfr/dist of the
    # source checkout, installed by `make install`; the Docker image sets its own copy).
    "DSFR_DIR": None,
    # Skip the "database is migrated" check at start-up (used by ``portal db upgrade`` itself).
    "SKIP_SCHEMA_CHECK": False,
}

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Convert an environment string to the type of the default value."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in _BOOL_TRUE:
            return True
        if lowered in _BOOL_FALSE:
            return False
        raise ValueError(f"{ENV_PREFIX}{name} must be a boolean, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from None
    return raw


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration: defaults, then ``PORTAL_*`` (or ``PORTAL_*_FILE``) variables, then overrides."""
    env = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        file_var = f"{ENV_PREFIX}{name}_FILE"
        if file_var in env:
            with open(env[file_var], encoding="utf-8") as handle:
                config[name] = _coerce(name, handle.read().strip(), default)
        elif f"{ENV_PREFIX}{name}" in env:
            config[name] = _coerce(name, env[f"{ENV_PREFIX}{name}"], default)
    if overrides:
        config.update(overrides)
    return config


def validate(config: Mapping[str, Any], *, web: bool = True) -> None:
    """Refuse configurations that would be unsafe or cannot work, with a message an operator can act on.

    ``web=False`` is for the operators' commands (migrations, import, tally, delivery): they need the database,
    not the IdP's address, the client's credentials or the session secret.
    """
    env = config["ENV"]
    if env not in {"production", "development", "testing"}:
        raise ValueError(f"PORTAL_ENV must be production, development or testing, got {env!r}")
    if web:
        _validate_web(config, production=env == "production")
    for name in (
        "VOTE_MAX_AGE",
        "VOTE_LEVEL_TTL",
        "SESSION_IDLE_TIMEOUT",
        "SESSION_ABSOLUTE_TIMEOUT",
        "HTTP_TIMEOUT",
        "DELIVERY_MAX_ATTEMPTS",
        "MAX_PDF_BYTES",
    ):
        if int(config[name]) < 1:
            raise ValueError(f"PORTAL_{name} must be a positive integer, got {config[name]!r}")
    if int(config["VOTE_LEVEL_TTL"]) < int(config["VOTE_MAX_AGE"]):
        raise ValueError("PORTAL_VOTE_LEVEL_TTL must be at least PORTAL_VOTE_MAX_AGE")
    if "openid" not in str(config["SCOPES"]).split():
        raise ValueError("PORTAL_SCOPES must contain openid")


def _validate_web(config: Mapping[str, Any], *, production: bool) -> None:
    secret = config.get("SECRET_KEY")
    if not secret:
        raise ValueError("PORTAL_SECRET_KEY is required (set it in the environment or in PORTAL_SECRET_KEY_FILE)")
    if production and len(str(secret)) < 32:
        raise ValueError("PORTAL_SECRET_KEY must be at least 32 characters in production")
    audit_key = config.get("AUDIT_HMAC_KEY")
    if production and audit_key is not None and len(str(audit_key)) < 32:
        raise ValueError("PORTAL_AUDIT_HMAC_KEY must be at least 32 characters in production")
    for name in ("IDP_ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
        if not config.get(name):
            raise ValueError(f"PORTAL_{name} is required")
    for name in ("IDP_ISSUER", "PUBLIC_URL"):
        parts = urlsplit(str(config[name]))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"PORTAL_{name} must be an absolute http(s) URL, got {config[name]!r}")
        if production and parts.scheme != "https":
            raise ValueError(f"PORTAL_{name} must use https in production")
