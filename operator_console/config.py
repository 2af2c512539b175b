"""Configuration of the operators' console.

Layered like the other applications of the suite (:mod:`infra.config`): built-in defaults, then environment
variables prefixed ``OPERATOR_CONSOLE_`` (or ``OPERATOR_CONSOLE_*_FILE`` naming a file that holds the value, for
secrets), then the mapping a caller passes to :func:`operator_console.create_app` (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import Settings
from infra.staff_console import SHARED_DEFAULTS, validate_settings

ENV_PREFIX = "OPERATOR_CONSOLE_"

DEFAULTS: dict[str, Any] = {
    # The IdP's database, read only (sign-ins, lockouts, réassort, outbox): every transaction is read-only (SQLite
    # query_only, PostgreSQL default_transaction_read_only); in production also give it a role that may only read
    # what the console counts (operator_console/readonly_roles.sql). Required.
    "DATABASE_URL": None,
    # The portal's database, read only (scrutins, rolls and émargement: turnout). Required; same advice.
    "PORTAL_DATABASE_URL": None,
    # Prefix of the console's keys in Redis.
    "REDIS_PREFIX": "operator-console:",
    # Without Redis, the console's own database for its sessions and figures (never the IdP's or the portal's,
    # which it only reads); its table is created at start.
    "EPHEMERAL_DATABASE_URL": "sqlite:///instance/operator-console.sqlite3",
    # Public address of the console: its redirect URIs are built from it, never from the Host header.
    "PUBLIC_URL": "http://localhost:5004",
    # The console's client id at the IdP (printed by ``idp operators console-client``). Required.
    "CLIENT_ID": None,
    # The console's client secret at the IdP (printed once by ``idp operators console-client``). Required; better
    # given as OPERATOR_CONSOLE_CLIENT_SECRET_FILE.
    "CLIENT_SECRET": None,
    # Seconds a sign-in lasts in the console, whatever the activity (the session ends sooner at sign-out).
    "SESSION_LIFETIME": 8 * 3600,
    # Name of the console's session cookie.
    "SESSION_COOKIE_NAME": "operator_console_session",
    # Seconds the figures of a page are kept before they are counted again (every process and every operator
    # sees the same count, with the instant it was made); the pages reload themselves at this pace.
    "REFRESH": 30,
    # Seconds the rolls' size per académie is kept: counting it reads every roll (millions of rows), and the rolls
    # do not change while the election runs.
    "ROLLS_REFRESH": 3600,
    **SHARED_DEFAULTS,
}

SETTINGS = Settings(ENV_PREFIX, DEFAULTS)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``OPERATOR_CONSOLE_*`` (or ``OPERATOR_CONSOLE_*_FILE``) variables, then ``overrides``."""
    return SETTINGS.load(environ, overrides)


def validate(config: Mapping[str, Any]) -> None:
    """Refuse configurations that would be unsafe or cannot work, with a message an operator can act on."""
    validate_settings(SETTINGS, config, required=("PORTAL_DATABASE_URL",), at_least=("REFRESH", "ROLLS_REFRESH"))
