"""Configuration of the auditors' console.

Layered like the other applications of the suite: built-in defaults, then environment variables prefixed
``AUDIT_CONSOLE_`` (or ``AUDIT_CONSOLE_*_FILE`` naming a file that holds the value, for secrets and the seal's
public key), then the mapping a caller passes to :func:`audit_console.create_app` (tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "AUDIT_CONSOLE_"

DEFAULTS: dict[str, Any] = {
    # "production", "development" or "testing". Development and testing relax cookie `Secure` and HSTS.
    "ENV": "production",
    # Signs the session cookie (the console keeps no server-side session: nothing of it is written anywhere).
    # Required; at least 32 characters in production.
    "SECRET_KEY": None,
    # The IdP's database, read only: the console opens it with every transaction read-only (SQLite query_only,
    # PostgreSQL default_transaction_read_only); in production also give it a role that may only SELECT
    # (audit_console/readonly_role.sql).
    "DATABASE_URL": None,
    # Optional: a Redis shared by the console's processes for the last verification result (else per process).
    "REDIS_URL": None,
    # Prefix of the console's keys in Redis.
    "REDIS_PREFIX": "audit-console:",
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
    # Seconds a sign-in lasts in the console, whatever the activity.
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
}

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in _BOOL_TRUE | _BOOL_FALSE:
            return lowered in _BOOL_TRUE
        raise ValueError(f"{ENV_PREFIX}{name} must be a boolean, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from None
    return raw


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
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


def validate(config: Mapping[str, Any]) -> None:
    """Refuse configurations that would be unsafe or cannot work, with a message an operator can act on."""
    env = config["ENV"]
    if env not in {"production", "development", "testing"}:
        raise ValueError(f"{ENV_PREFIX}ENV must be production, development or testing, got {env!r}")
    production = env == "production"
    secret = config.get("SECRET_KEY")
    if not secret:
        raise ValueError(f"{ENV_PREFIX}SECRET_KEY is required (or {ENV_PREFIX}SECRET_KEY_FILE)")
    if production and len(str(secret)) < 32:
        raise ValueError(f"{ENV_PREFIX}SECRET_KEY must be at least 32 characters in production")
    for name in ("DATABASE_URL", "IDP_ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
        if not config.get(name):
            raise ValueError(f"{ENV_PREFIX}{name} is required")
    for name in ("IDP_ISSUER", "PUBLIC_URL"):
        parts = urlsplit(str(config[name]))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{ENV_PREFIX}{name} must be an absolute http(s) URL, got {config[name]!r}")
        if production and parts.scheme != "https":
            raise ValueError(f"{ENV_PREFIX}{name} must use https in production")
    if "audit" not in str(config["SCOPES"]).split() or "openid" not in str(config["SCOPES"]).split():
        raise ValueError(f"{ENV_PREFIX}SCOPES must contain openid and audit (the account's roles)")
    for name in ("HTTP_TIMEOUT", "SESSION_LIFETIME"):
        if int(config[name]) < 1:
            raise ValueError(f"{ENV_PREFIX}{name} must be a positive integer, got {config[name]!r}")
    if not 1 <= int(config["PAGE_SIZE"]) <= 200:
        raise ValueError(f"{ENV_PREFIX}PAGE_SIZE must be between 1 and 200")
