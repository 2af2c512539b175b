"""Configuration of the auditors' console.

Layered like the other applications of the suite (:mod:`infra.config`): built-in defaults, then environment
variables prefixed ``AUDIT_CONSOLE_`` (or ``AUDIT_CONSOLE_*_FILE`` naming a file that holds the value, for secrets
and the seal's public key), then the mapping a caller passes to :func:`audit_console.create_app` (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import Settings
from infra.staff_console import SHARED_DEFAULTS, validate_settings

ENV_PREFIX = "AUDIT_CONSOLE_"

DEFAULTS: dict[str, Any] = {
    # The IdP's database, read only: the console opens it with every transaction read-only (SQLite query_only,
    # PostgreSQL default_transaction_read_only); in production also give it a role that may only SELECT
    # (audit_console/readonly_role.sql).
    "DATABASE_URL": None,
    # Prefix of the console's keys in Redis.
    "REDIS_PREFIX": "audit-console:",
    # Without Redis, the console's own database for its sessions and last verification result (never the IdP's,
    # which it only reads); its table is created at start. A SQLite file serves the processes of one machine.
    "EPHEMERAL_DATABASE_URL": "sqlite:///instance/audit-console.sqlite3",
    # Public address of the console: its redirect URIs are built from it, never from the Host header.
    "PUBLIC_URL": "http://localhost:5003",
    # The console's client id at the IdP (printed by ``idp auditors console-client``). Required.
    "CLIENT_ID": None,
    # The console's client secret at the IdP (printed once by ``idp auditors console-client``). Required; better
    # given as AUDIT_CONSOLE_CLIENT_SECRET_FILE.
    "CLIENT_SECRET": None,
    # Seconds a sign-in lasts in the console, whatever the activity (the session ends sooner at sign-out).
    "SESSION_LIFETIME": 3600,
    # Name of the console's session cookie.
    "SESSION_COOKIE_NAME": "audit_console_session",
    # Events per page (at most 200).
    "PAGE_SIZE": 50,
    # The seal's public key (PEM, ``idp audit seal-key``): when set, the verification also checks the log against
    # the seals stored in the database. Better given as AUDIT_CONSOLE_SEAL_PUBLIC_KEY_FILE.
    "SEAL_PUBLIC_KEY": None,
    **SHARED_DEFAULTS,
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
