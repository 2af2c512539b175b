"""Configuration of the identity provider.

Layered the Flask way: built-in defaults, then environment variables prefixed ``IDP_``, then the mapping a caller
passes to :func:`idp.create_app` (tests). Every setting is documented in the README; secrets only ever come from the
environment (or ``*_FILE`` variables naming a file that holds them).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

ENV_PREFIX = "IDP_"

#: Defaults suit the embedded development set-up (SQLite, SQL-backed store, development outbox).
DEFAULTS: dict[str, Any] = {
    # "production", "development" or "testing". Development relaxes cookie ``Secure`` and HSTS and enables the
    # development outbox page; only development and testing accept the fixed CAPTCHA backend.
    "ENV": "production",
    "SECRET_KEY": None,
    # Key of the keyed hashes (NUMEN, NIR, vote codes, pseudonymous audit references). Kept outside the database.
    "HMAC_KEY": None,
    "DATABASE_URL": "sqlite:///instance/idp.sqlite3",
    "REDIS_URL": None,
    "REDIS_PREFIX": "idp:",
    "PUBLIC_URL": "http://localhost:5000",
    # Argon2id parameters (RFC 9106 second recommended option by default). Changing them rehashes on next sign-in.
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_COST": 19456,
    "ARGON2_PARALLELISM": 1,
    # CAPTCHA: "image" (image + audio, generated server side) or "fixed:<answer>" (development and tests only).
    "CAPTCHA_BACKEND": "image",
    "CAPTCHA_TTL": 300,
    "CAPTCHA_LENGTH": 5,
    # Sign-in transaction (between the identifier and the password step).
    "LOGIN_TRANSACTION_TTL": 900,
    # Throttling and lockout.
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_WINDOW": 900,
    "LOCKOUT_DURATION": 900,
    "IP_FAILURE_THRESHOLD": 50,
    "IP_WINDOW": 300,
    # Vote-code step: wrong codes per voter counted over WINDOW seconds; THRESHOLD of them lock the step for
    # DURATION seconds. Per voter only (not per address): thousands of staff share a school's address.
    "VOTECODE_LOCKOUT_THRESHOLD": 5,
    "VOTECODE_LOCKOUT_WINDOW": 3600,
    "VOTECODE_LOCKOUT_DURATION": 900,
    # One-time activation links.
    "ACTIVATION_LINK_TTL": 86400,
    # Sessions (server side, in the ephemeral store).
    "SESSION_IDLE_TIMEOUT": 1800,
    "SESSION_ABSOLUTE_TIMEOUT": 43200,
    "SESSION_COOKIE_NAME": "idp_session",
    # Delivery (see idp.delivery). "outbox" writes to the development page and is refused in production.
    "MAIL_BACKEND": "outbox",  # "outbox" (development page), "smtp"
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_SSL": False,
    "SMTP_TIMEOUT": 10,
    "MAIL_FROM": "Portail Élections <ne-pas-repondre@elections.example.gouv.fr>",
    "SMS_BACKEND": "outbox",  # "outbox" (development page), "http"
    "SMS_GATEWAY_URL": None,
    "SMS_ACCOUNT_SID": None,
    "SMS_AUTH_TOKEN": None,
    "SMS_SENDER": "ELECTIONS",
    "SMS_TIMEOUT": 10,
    "DELIVERY_MAX_ATTEMPTS": 8,
    # Seconds before the first retry, doubled at each attempt up to DELIVERY_RETRY_MAX.
    "DELIVERY_RETRY_BASE": 15,
    "DELIVERY_RETRY_MAX": 3600,
    # Seconds a worker owns a claimed message; past it another worker may take it over (crashed worker).
    "DELIVERY_LEASE": 120,
    # Audit log: number of independent hash chains (spreads writers; no global lock).
    "AUDIT_CHAINS": 16,
    # Plugins enabled by name (entry point group ``portail_elections.idp_plugins``).
    "PLUGINS": "",
    # The election window the IdP knows, as ISO 8601 instants with their offset ("2022-12-01T08:00:00+01:00"):
    # from the sealing of the voter lists and vote codes to the closing of the vote. The réassort of a vote code is
    # open only inside it. Unset: required in production when the réassort plugin is enabled (it refuses to
    # start); in development and testing an unset bound is open, so that the demo works on any day.
    "ELECTION_SEALED_AT": None,
    "ELECTION_CLOSES_AT": None,
    # --- Réassort plugin (reassort_plugin, enabled with PLUGINS=reassort) ---
    # Seconds a réassort link (SMS or e-mail) stays valid: long enough for a late SMS (the 2022 codes lasted 120 s).
    "REASSORT_LINK_TTL": 1800,
    # Wrong answers (défi, NUMEN/NIR) per voter counted over WINDOW seconds; THRESHOLD of them lock the voter's
    # réassort for DURATION seconds (code and password réassort share the count: they check the same secrets).
    "REASSORT_LOCKOUT_THRESHOLD": 5,
    "REASSORT_LOCKOUT_WINDOW": 3600,
    "REASSORT_LOCKOUT_DURATION": 1800,
    # Wrong answers per client address over WINDOW seconds before the address is refused for WINDOW seconds;
    # high because a school's staff share one address.
    "REASSORT_IP_THRESHOLD": 50,
    "REASSORT_IP_WINDOW": 300,
    # Links one voter may be sent per hour (each costs an SMS, and a recipient must not be flooded).
    "REASSORT_LINKS_PER_HOUR": 5,
    # The DSFR's dist folder, served under /static/dsfr/ (unset: frontend/node_modules/@gouvfr/dsfr/dist of the
    # source checkout, installed by `make install`; the Docker image sets its own copy).
    "DSFR_DIR": None,
    # Skip the "database is migrated" check at start-up (used by the migration command itself).
    "SKIP_SCHEMA_CHECK": False,
    # Number of reverse proxies in front of the IdP whose X-Forwarded-* headers are trusted (0: none).
    "TRUSTED_PROXIES": 0,
    # --- OpenID Provider (idp.oidc) ---
    # Key encrypting the private part of the signing keys stored in the database (AES-256-GCM, key derived with
    # HKDF). Required in production; in development and testing it is derived from SECRET_KEY when unset.
    "KEY_ENCRYPTION_KEY": None,
    # Seconds between the publication of a new signing key (``idp keys rotate``) and its first use; the JWKS is
    # cached for less than that, so every client has seen the new key before it signs anything.
    "KEY_ACTIVATION_DELAY": 3600,
    # Lifetimes in seconds (a client may have its own access, refresh and ID token lifetimes).
    "AUTHORIZATION_CODE_TTL": 50,
    "ACCESS_TOKEN_TTL": 600,
    "REFRESH_TOKEN_TTL": 28800,
    "ID_TOKEN_TTL": 600,
    # How long an authorization request waits for the voter to get through the sign-in screens (and detours).
    "AUTHORIZATION_REQUEST_TTL": 3600,
    # Initial access token of RFC 7591 registration at /register (unset: registration is closed).
    "REGISTRATION_TOKEN": None,
    # Back-channel logout: HTTP timeout of one POST, and attempts before a notice is abandoned.
    "BACKCHANNEL_TIMEOUT": 5,
    "BACKCHANNEL_MAX_ATTEMPTS": 6,
    # --- FranceConnect-style federation (idp.federation) ---
    # Offer "S'identifier avec FranceConnect" and the réassort through the provider. Off unless configured.
    "FC_ENABLED": False,
    # The provider's issuer, exactly as its discovery document states it (discovery: <issuer>/.well-known/...).
    # Development provider: http://localhost:5002/api/v2 (https is required in production).
    "FC_ISSUER": None,
    # Optional: the base through which the IdP itself reaches the provider (discovery, token, userinfo, JWKS) when
    # its public address does not resolve from the IdP (docker-compose: http://fc-dev-provider:5002/api/v2). The
    # issuer checked stays FC_ISSUER, and the browser is still sent to the public addresses.
    "FC_INTERNAL_BASE_URL": None,
    # The IdP's registration at the provider (callback <PUBLIC_URL>/federation/franceconnect/callback, logout
    # <PUBLIC_URL>/federation/franceconnect/logged-out). The secret: IDP_FC_CLIENT_SECRET or ..._FILE.
    "FC_CLIENT_ID": None,
    "FC_CLIENT_SECRET": None,
    # Scopes asked for: the identité pivot (never the e-mail, which the matching does not use).
    "FC_SCOPES": "openid given_name family_name birthdate gender birthplace birthcountry",
    # false: a voter recognised through the federation still enters the election password. true: the federated
    # sign-in alone opens a session, at acr urn:portail-elections:acr:franceconnect (never the vote-code level).
    "FC_SIGN_IN_ENOUGH": False,
    # Seconds each HTTP call to the provider may take before the voter is told it does not answer.
    "FC_HTTP_TIMEOUT": 10,
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
    """Build the configuration: defaults, then ``IDP_*`` (or ``IDP_*_FILE``) variables, then overrides."""
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
    """Refuse configurations that would be unsafe, with a message an operator can act on."""
    env = config["ENV"]
    if env not in {"production", "development", "testing"}:
        raise ValueError(f"IDP_ENV must be production, development or testing, got {env!r}")
    # In production the key encrypting the signing keys is required too: an IdP that could not sign would answer
    # every token request with server_error, better refuse to start. Elsewhere it derives from SECRET_KEY.
    required = ("SECRET_KEY", "HMAC_KEY", "KEY_ENCRYPTION_KEY") if env == "production" else ("SECRET_KEY", "HMAC_KEY")
    for secret in required:
        value = config.get(secret)
        if not value:
            raise ValueError(f"IDP_{secret} is required (set it in the environment or in IDP_{secret}_FILE)")
        if env == "production" and len(str(value)) < 32:
            raise ValueError(f"IDP_{secret} must be at least 32 characters in production")
    backend = str(config["CAPTCHA_BACKEND"])
    if backend.startswith("fixed:") and env not in {"development", "testing"}:
        raise ValueError("IDP_CAPTCHA_BACKEND=fixed:... is only accepted when IDP_ENV is development or testing")
    if not (backend == "image" or backend.startswith("fixed:")):
        raise ValueError(f"IDP_CAPTCHA_BACKEND must be 'image' or 'fixed:<answer>', got {backend!r}")
    _validate_delivery(config)
    _validate_oidc(config)
    _validate_election_window(config)


def _validate_delivery(config: Mapping[str, Any]) -> None:
    if config["MAIL_BACKEND"] not in {"outbox", "smtp"}:
        raise ValueError(f"IDP_MAIL_BACKEND must be 'outbox' or 'smtp', got {config['MAIL_BACKEND']!r}")
    if config["SMS_BACKEND"] not in {"outbox", "http"}:
        raise ValueError(f"IDP_SMS_BACKEND must be 'outbox' or 'http', got {config['SMS_BACKEND']!r}")
    if config["MAIL_BACKEND"] == "smtp" and config["SMTP_SSL"] and config["SMTP_STARTTLS"]:
        raise ValueError("IDP_SMTP_SSL and IDP_SMTP_STARTTLS are exclusive: SSL encrypts from the start")
    if config["SMS_BACKEND"] == "http":
        for name in ("SMS_GATEWAY_URL", "SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN", "SMS_SENDER"):
            if not config.get(name):
                raise ValueError(f"IDP_{name} is required when IDP_SMS_BACKEND is http")
    for name in ("DELIVERY_MAX_ATTEMPTS", "DELIVERY_RETRY_BASE", "DELIVERY_RETRY_MAX", "DELIVERY_LEASE"):
        minimum = 0 if name == "DELIVERY_RETRY_BASE" else 1
        if int(config[name]) < minimum:
            raise ValueError(f"IDP_{name} must be an integer of at least {minimum}, got {config[name]!r}")


def _validate_oidc(config: Mapping[str, Any]) -> None:
    # IDP_KEY_ENCRYPTION_KEY is checked where the signing keys are used (idp.oidc.keys), so that an IdP
    # started without the OpenID Provider's keys (a test of the sign-in screens, say) does not need it.
    code_ttl = int(config["AUTHORIZATION_CODE_TTL"])
    if not 1 <= code_ttl < 60:
        raise ValueError(f"IDP_AUTHORIZATION_CODE_TTL must be between 1 and 59 seconds, got {code_ttl}")
    for name in (
        "ACCESS_TOKEN_TTL",
        "REFRESH_TOKEN_TTL",
        "ID_TOKEN_TTL",
        "AUTHORIZATION_REQUEST_TTL",
        "BACKCHANNEL_TIMEOUT",
        "BACKCHANNEL_MAX_ATTEMPTS",
    ):
        if int(config[name]) < 1:
            raise ValueError(f"IDP_{name} must be a positive integer, got {config[name]!r}")
    if int(config["KEY_ACTIVATION_DELAY"]) < 0:
        raise ValueError("IDP_KEY_ACTIVATION_DELAY must be zero or more seconds")


def parse_instant(name: str, value: Any) -> dt.datetime | None:
    """``IDP_<name>`` as an aware datetime (None when unset); an instant without its offset is ambiguous, refused."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        instant = value
    else:
        try:
            instant = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(
                f"IDP_{name} must be an ISO 8601 instant such as 2022-12-01T08:00:00+01:00, got {value!r}"
            ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"IDP_{name} must give its UTC offset (…+01:00 or …Z), got {value!r}")
    return instant


def _validate_election_window(config: Mapping[str, Any]) -> None:
    sealed = parse_instant("ELECTION_SEALED_AT", config.get("ELECTION_SEALED_AT"))
    closes = parse_instant("ELECTION_CLOSES_AT", config.get("ELECTION_CLOSES_AT"))
    if sealed is not None and closes is not None and closes <= sealed:
        raise ValueError("IDP_ELECTION_CLOSES_AT must be later than IDP_ELECTION_SEALED_AT")
    for name in (
        "REASSORT_LINK_TTL",
        "REASSORT_LOCKOUT_THRESHOLD",
        "REASSORT_LOCKOUT_WINDOW",
        "REASSORT_LOCKOUT_DURATION",
        "REASSORT_IP_THRESHOLD",
        "REASSORT_IP_WINDOW",
        "REASSORT_LINKS_PER_HOUR",
    ):
        if int(config[name]) < 1:
            raise ValueError(f"IDP_{name} must be a positive integer, got {config[name]!r}")
