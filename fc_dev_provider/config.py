"""Configuration of the development provider.

Layered like the IdP's: built-in defaults, then ``FCDEV_*`` environment variables (or ``FCDEV_*_FILE`` naming
a file that holds the value), then the mapping a caller passes to :func:`fc_dev_provider.create_app` (tests).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
}

#: Settings that only a caller of ``create_app`` can give (not strings): the clock, for time travel in tests.
CALLER_ONLY: dict[str, Any] = {"CLOCK": time.time}

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
    """Defaults, then ``FCDEV_*`` (or ``FCDEV_*_FILE``) variables, then ``overrides``."""
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {**DEFAULTS, **CALLER_ONLY}
    for name, default in DEFAULTS.items():
        file_var = f"{ENV_PREFIX}{name}_FILE"
        if file_var in env:
            config[name] = _coerce(name, Path(env[file_var]).read_text(encoding="utf-8").strip(), default)
        elif f"{ENV_PREFIX}{name}" in env:
            config[name] = _coerce(name, env[f"{ENV_PREFIX}{name}"], default)
    if overrides:
        config.update(overrides)
    return config


def validate(config: Mapping[str, Any]) -> None:
    """Refuse a configuration the provider cannot honour, with a message naming the variable."""
    issuer = str(config["ISSUER"])
    parts = urlsplit(issuer)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"FCDEV_ISSUER must be an absolute http(s) URL, got {issuer!r}")
    if parts.query or parts.fragment or issuer.endswith("/"):
        raise ValueError("FCDEV_ISSUER must have no query, fragment or trailing slash")
    for name in ("CODE_TTL", "ACCESS_TOKEN_TTL", "ID_TOKEN_TTL", "INTERACTION_TTL"):
        if int(config[name]) < 1:
            raise ValueError(f"{ENV_PREFIX}{name} must be a positive number of seconds, got {config[name]!r}")
    if int(config["TRUSTED_PROXIES"]) < 0:
        raise ValueError("FCDEV_TRUSTED_PROXIES must be zero or more")
    if not str(config["SUBJECT_SALT"]):
        raise ValueError("FCDEV_SUBJECT_SALT must not be empty")
    if not callable(config["CLOCK"]):
        raise ValueError("CLOCK must be a callable returning the current time in seconds")
