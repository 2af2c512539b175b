"""Configuration of the identity provider.

Layered the Flask way (:mod:`infra.config`): built-in defaults, then environment variables prefixed ``IDP_``, then
the mapping a caller passes to :func:`idp.create_app` (tests). The comment above each default is its documentation:
the configuration reference of the docs is generated from it (``tools/config_reference.py``). Secrets only ever
come from the environment (or ``*_FILE`` variables naming a file that holds them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from infra.config import ConfigError, Settings

ENV_PREFIX = "IDP_"

#: Defaults suit the embedded development set-up (SQLite, SQL-backed store, development outbox).
DEFAULTS: dict[str, Any] = {
    # "production", "development" (development outbox page, no `Secure` cookie, no HSTS) or "testing". Only
    # development and testing accept the fixed CAPTCHA backend.
    "ENV": "production",
    # Signs the CSRF tokens; the key that encrypts queued messages (the outbox) is derived from it. Required; at least
    # 32 characters in production.
    "SECRET_KEY": None,
    # Key of the keyed hashes: NUMEN, NIR, vote codes, link tokens, pairwise subjects, pseudonymous audit
    # references. Required; at least 32 characters in production. Kept outside the database: changing it voids
    # every vote code and every stored NUMEN/NIR hash.
    "HMAC_KEY": None,
    # SQLAlchemy URL of the IdP's database; production: postgresql+psycopg://…
    "DATABASE_URL": "sqlite:///instance/idp.sqlite3",
    # The ephemeral store (CAPTCHA answers, sign-in transactions, sessions, counters, replay caches) in Redis
    # (redis://…). Unset: a table of the SQL database (on SQLite, a file of its own beside the database).
    "REDIS_URL": None,
    # Prefix of the IdP's keys in the ephemeral store.
    "REDIS_PREFIX": "idp:",
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
    # The IdP's public address: the OpenID Connect issuer, and the base of the links sent by e-mail and SMS.
    "PUBLIC_URL": "http://localhost:5000",
    # --- Sign-in, throttling and sessions ---
    # Argon2id time cost (iterations) of password and secret-answer hashes. The three argon2 defaults are RFC 9106's
    # second recommended option; when they change, a hash is upgraded at the voter's next sign-in.
    "ARGON2_TIME_COST": 2,
    # Argon2id memory cost, in KiB.
    "ARGON2_MEMORY_COST": 19456,
    # Argon2id parallelism (lanes).
    "ARGON2_PARALLELISM": 1,
    # "image" (image + French audio, generated server side) or "fixed:<answer>" (development and tests only).
    "CAPTCHA_BACKEND": "image",
    # Seconds a CAPTCHA lives; any check, right or wrong, uses it up.
    "CAPTCHA_TTL": 300,
    # Digits of the CAPTCHA's answer.
    "CAPTCHA_LENGTH": 5,
    # Seconds between the identifier step and the password step of a sign-in.
    "LOGIN_TRANSACTION_TTL": 900,
    # Password failures per identifier, within LOCKOUT_WINDOW, that lock the identifier (unknown identifiers are
    # locked exactly like existing ones).
    "LOCKOUT_THRESHOLD": 5,
    # Seconds over which an identifier's password failures are counted.
    "LOCKOUT_WINDOW": 900,
    # Seconds an identifier stays locked; the voter is told how many minutes to wait.
    "LOCKOUT_DURATION": 900,
    # Failures per client address, within IP_WINDOW, that lock the address for IP_WINDOW seconds.
    "IP_FAILURE_THRESHOLD": 50,
    # Seconds over which a client address's failures are counted, and for which it is then locked.
    "IP_WINDOW": 300,
    # Wrong vote codes per voter, within VOTECODE_LOCKOUT_WINDOW, that lock the vote-code step. Per voter only (not
    # per address): thousands of staff share a school's address.
    "VOTECODE_LOCKOUT_THRESHOLD": 5,
    # Seconds over which a voter's wrong vote codes are counted.
    "VOTECODE_LOCKOUT_WINDOW": 3600,
    # Seconds the vote-code step stays locked.
    "VOTECODE_LOCKOUT_DURATION": 900,
    # Seconds an activation link stays valid (shown to the voter on the page and in the e-mail).
    "ACTIVATION_LINK_TTL": 86400,
    # Seconds without a request after which a session ends (sessions are server side, in the ephemeral store).
    "SESSION_IDLE_TIMEOUT": 1800,
    # Seconds after sign-in at which a session ends, whatever the activity.
    "SESSION_ABSOLUTE_TIMEOUT": 43200,
    # Name of the session cookie (it carries only a random id).
    "SESSION_COOKIE_NAME": "idp_session",
    # --- Delivery (e-mail and SMS) ---
    # "smtp", or "outbox" (the development page; refused by the delivery worker in production).
    "MAIL_BACKEND": "outbox",
    # The SMTP relay's host.
    "SMTP_HOST": "localhost",
    # The SMTP relay's port.
    "SMTP_PORT": 25,
    # SMTP AUTH user name, if the relay wants one.
    "SMTP_USERNAME": None,
    # SMTP AUTH password (better given as IDP_SMTP_PASSWORD_FILE).
    "SMTP_PASSWORD": None,
    # STARTTLS on the SMTP connection; certificates are verified against the system store (SSL_CERT_FILE adds an
    # internal CA). Exclusive with SMTP_SSL.
    "SMTP_STARTTLS": False,
    # TLS from the start of the SMTP connection. Exclusive with SMTP_STARTTLS.
    "SMTP_SSL": False,
    # Seconds a whole SMTP exchange may take, from the connection to the last reply.
    "SMTP_TIMEOUT": 10,
    # From header of the e-mails; its domain is used for Message-IDs.
    "MAIL_FROM": "Portail Élections <ne-pas-repondre@elections.example.gouv.fr>",
    # "http" (an SMS gateway speaking the Twilio Messages API), or "outbox" (the development page).
    "SMS_BACKEND": "outbox",
    # Base URL of the SMS gateway (required with SMS_BACKEND=http).
    "SMS_GATEWAY_URL": None,
    # Account SID at the SMS gateway (required with SMS_BACKEND=http).
    "SMS_ACCOUNT_SID": None,
    # Auth token at the SMS gateway (required with SMS_BACKEND=http; better given as IDP_SMS_AUTH_TOKEN_FILE).
    "SMS_AUTH_TOKEN": None,
    # Sender (From) of the SMS: an alphanumeric sender or a number.
    "SMS_SENDER": "ELECTIONS",
    # Seconds the SMS gateway may take to answer a message (it has 3 s to accept the connection).
    "SMS_TIMEOUT": 10,
    # Attempts before a message is abandoned (status failed, audit event message.failed).
    "DELIVERY_MAX_ATTEMPTS": 100,
    # Seconds after it was queued past which a message that still fails is abandoned (message.failed): its link
    # would have expired (a réassort link lives 30 minutes).
    "DELIVERY_DEADLINE": 3600,
    # Seconds before the first retry, doubled at each attempt up to DELIVERY_RETRY_MAX.
    "DELIVERY_RETRY_BASE": 15,
    # Longest wait between two attempts, in seconds. The first retry that goes through brings forward every message
    # of its channel waiting on a temporary failure, so a relay back from an outage gets the queue at once.
    "DELIVERY_RETRY_MAX": 60,
    # Seconds a worker owns a claimed message; past it another worker may take it over (a worker killed mid-send).
    # More than a send may take: SMTP_TIMEOUT, and 3 + SMS_TIMEOUT, plus 5.
    "DELIVERY_LEASE": 30,
    # --- Audit log, plugins and the election window ---
    # Number of independent hash chains of the audit log (spreads concurrent writers; no global lock).
    "AUDIT_CHAINS": 16,
    # Plugins to enable, by name, comma-separated (e.g. "reassort"; entry point group
    # ``portail_elections.idp_plugins``). An unknown name stops the IdP at start-up. A plugin declares its own
    # settings (IDP_ prefix too), listed in their own table below.
    "PLUGINS": "",
    # Start of the election window, as an ISO 8601 instant with its offset ("2022-11-24T08:00:00+01:00"): the
    # sealing of the voter lists and vote codes. The réassort of a vote code is open only inside the window.
    # Required in production when the réassort plugin is enabled (it refuses to start); in development and
    # testing an unset bound is open, so that the demo works on any day.
    "ELECTION_SEALED_AT": None,
    # End of the election window, the closing of the vote, as an ISO 8601 instant with its offset
    # ("2022-12-08T17:00:00+01:00"). Same rules as ELECTION_SEALED_AT.
    "ELECTION_CLOSES_AT": None,
    # --- Web ---
    # The DSFR's dist folder, served under /static/dsfr/ (unset: frontend/node_modules/@gouvfr/dsfr/dist of the
    # source checkout, installed by `make install`; the Docker image sets its own copy).
    "DSFR_DIR": None,
    # Start without checking that the database is at the latest migration (only `idp db upgrade` needs it).
    "SKIP_SCHEMA_CHECK": False,
    # Number of reverse proxies in front of the IdP whose X-Forwarded-For/Proto/Host headers are trusted (0: none;
    # 1 behind one proxy). The client address used for throttling comes from there.
    "TRUSTED_PROXIES": 0,
    # File whose existence drains this replica: /readyz answers 503, so the reverse proxy sends it nothing new and it
    # can be restarted without cutting a request (deploy/rolling-restart.sh). Put it in a tmpfs that a restart
    # empties (docker-compose: /run/elections-drain/draining). Unset: never draining.
    "DRAIN_PATH": None,
    # --- Metrics ---
    # Port of the Prometheus metrics of this process (a web server's workers each answer the sum of all of them, see
    # docs/operators/monitoring.md; a worker command's own, or its --metrics-port). 0: not served. Never the public
    # port: the proxy does not route it.
    "METRICS_PORT": 0,
    # Address the metrics port binds to: the loopback unless the scraper is on another host or container (then an
    # address of the private network only; docker-compose: 0.0.0.0 inside the private network).
    "METRICS_BIND": "127.0.0.1",
    # --- OpenID Provider ---
    # Key encrypting the private part of the signing keys stored in the database (AES-256-GCM, key derived with
    # HKDF). Required in production; in development and testing it is derived from SECRET_KEY when unset.
    "KEY_ENCRYPTION_KEY": None,
    # Seconds between the publication of a new signing key (``idp keys rotate``) and its first use; the JWKS is
    # cached for less than that, so every client has seen the new key before it signs anything.
    "KEY_ACTIVATION_DELAY": 3600,
    # Seconds an authorization code lives (single use; under 60).
    "AUTHORIZATION_CODE_TTL": 50,
    # Seconds an access token lives (a client may have its own lifetime).
    "ACCESS_TOKEN_TTL": 600,
    # Seconds a refresh token's grant lives, across its rotations (a client may have its own lifetime).
    "REFRESH_TOKEN_TTL": 28800,
    # Seconds an ID token lives (a client may have its own lifetime).
    "ID_TOKEN_TTL": 600,
    # How long an authorization request waits for the voter to get through the sign-in screens (and detours).
    "AUTHORIZATION_REQUEST_TTL": 3600,
    # Initial access token of RFC 7591 registration at /register, sent as "Authorization: Bearer" (unset:
    # registration is closed).
    "REGISTRATION_TOKEN": None,
    # Scopes a ministry service (a client_credentials client) may be registered for, space-separated: the names its
    # resource servers check, such as "scrutins:lecture participation:lecture". Empty: no service can be registered.
    "SERVICE_SCOPES": "",
    # Seconds a back-channel logout POST to a client may take.
    "BACKCHANNEL_TIMEOUT": 5,
    # Attempts before a back-channel logout notice is abandoned. Retries wait 5 s, doubled up to 60 s: 60 attempts
    # cover a client down for about an hour.
    "BACKCHANNEL_MAX_ATTEMPTS": 60,
    # --- FranceConnect federation ---
    # Offer "S'identifier avec FranceConnect" and the réassort through the provider. Off unless configured.
    "FC_ENABLED": False,
    # The provider's issuer, exactly as its discovery document states it (discovery: <issuer>/.well-known/...).
    # Development provider: http://localhost:5002/api/v2 (https is required in production).
    "FC_ISSUER": None,
    # Optional: the base through which the IdP itself reaches the provider (discovery, token, userinfo, JWKS) when
    # its public address does not resolve from the IdP (docker-compose: http://fc-dev-provider:5002/api/v2). The
    # issuer checked stays FC_ISSUER, and the browser is still sent to the public addresses.
    "FC_INTERNAL_BASE_URL": None,
    # The IdP's client id at the provider (callback <PUBLIC_URL>/federation/franceconnect/callback, post-logout
    # URI <PUBLIC_URL>/federation/franceconnect/logged-out). Required when FC_ENABLED.
    "FC_CLIENT_ID": None,
    # The IdP's client secret at the provider (better given as IDP_FC_CLIENT_SECRET_FILE). Required when FC_ENABLED.
    "FC_CLIENT_SECRET": None,
    # Scopes asked for: the identité pivot the matching needs (never the e-mail, which the matching does not use).
    "FC_SCOPES": "openid given_name family_name birthdate gender birthplace birthcountry",
    # false: a voter recognised through the federation still enters the election password (the identifier step is
    # done for them). true: the federated sign-in alone opens a session, at acr urn:portail-elections:acr:franceconnect,
    # amr fed (never the vote-code level).
    "FC_SIGN_IN_ENOUGH": False,
    # Seconds each HTTP call to the provider may take before the voter is told it does not answer (2 s at most to
    # connect). The FranceConnect button checks first that the provider answers: within this long, a French page.
    "FC_HTTP_TIMEOUT": 4,
}

SETTINGS = Settings(ENV_PREFIX, DEFAULTS)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration: defaults, then ``IDP_*`` (or ``IDP_*_FILE``) variables, then overrides."""
    return SETTINGS.load(environ, overrides)


def validate(config: Mapping[str, Any]) -> None:
    """Refuse configurations that would be unsafe, with a message an operator can act on."""
    env = SETTINGS.check_env(config)
    SETTINGS.check_redis(config)
    # In production the key encrypting the signing keys is required too: an IdP that could not sign would answer
    # every token request with server_error, better refuse to start. Elsewhere it derives from SECRET_KEY.
    required = ("SECRET_KEY", "HMAC_KEY", "KEY_ENCRYPTION_KEY") if env == "production" else ("SECRET_KEY", "HMAC_KEY")
    for secret in required:
        SETTINGS.require_secret(config, secret, production=env == "production")
    backend = str(config["CAPTCHA_BACKEND"])
    if backend.startswith("fixed:") and env not in {"development", "testing"}:
        raise ConfigError("IDP_CAPTCHA_BACKEND=fixed:... is only accepted when IDP_ENV is development or testing")
    if not (backend == "image" or backend.startswith("fixed:")):
        raise ConfigError(f"IDP_CAPTCHA_BACKEND must be 'image' or 'fixed:<answer>', got {backend!r}")
    _validate_delivery(config)
    _validate_oidc(config)
    _validate_election_window(config)


def _validate_delivery(config: Mapping[str, Any]) -> None:
    if config["MAIL_BACKEND"] not in {"outbox", "smtp"}:
        raise ConfigError(f"IDP_MAIL_BACKEND must be 'outbox' or 'smtp', got {config['MAIL_BACKEND']!r}")
    if config["SMS_BACKEND"] not in {"outbox", "http"}:
        raise ConfigError(f"IDP_SMS_BACKEND must be 'outbox' or 'http', got {config['SMS_BACKEND']!r}")
    if config["MAIL_BACKEND"] == "smtp" and config["SMTP_SSL"] and config["SMTP_STARTTLS"]:
        raise ConfigError("IDP_SMTP_SSL and IDP_SMTP_STARTTLS are exclusive: SSL encrypts from the start")
    if config["SMS_BACKEND"] == "http":
        for name in ("SMS_GATEWAY_URL", "SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN", "SMS_SENDER"):
            if not config.get(name):
                raise ConfigError(f"IDP_{name} is required when IDP_SMS_BACKEND is http")
    SETTINGS.check_at_least(config, ("DELIVERY_RETRY_BASE",), minimum=0)
    SETTINGS.check_at_least(
        config, ("DELIVERY_MAX_ATTEMPTS", "DELIVERY_RETRY_MAX", "DELIVERY_LEASE", "DELIVERY_DEADLINE")
    )
    longest_send = max(float(config["SMTP_TIMEOUT"]), 3 + float(config["SMS_TIMEOUT"]))
    if int(config["DELIVERY_LEASE"]) < longest_send + 5:
        # A send that outlived its lease could be taken over and sent twice.
        raise SETTINGS.error(
            "DELIVERY_LEASE", f"must be at least {longest_send + 5:g} (the longest send, SMTP or SMS, plus 5 s)"
        )


def _validate_oidc(config: Mapping[str, Any]) -> None:
    # IDP_KEY_ENCRYPTION_KEY: required in production by validate() above; its length and, elsewhere, the key
    # derived from SECRET_KEY when it is unset are settled where the signing keys are used (idp.oidc.keys.cipher_for).
    code_ttl = int(config["AUTHORIZATION_CODE_TTL"])
    if not 1 <= code_ttl < 60:
        raise ConfigError(f"IDP_AUTHORIZATION_CODE_TTL must be between 1 and 59 seconds, got {code_ttl}")
    SETTINGS.check_at_least(
        config,
        (
            "ACCESS_TOKEN_TTL",
            "REFRESH_TOKEN_TTL",
            "ID_TOKEN_TTL",
            "AUTHORIZATION_REQUEST_TTL",
            "BACKCHANNEL_TIMEOUT",
            "BACKCHANNEL_MAX_ATTEMPTS",
        ),
    )
    if int(config["KEY_ACTIVATION_DELAY"]) < 0:
        raise ConfigError("IDP_KEY_ACTIVATION_DELAY must be zero or more seconds")


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
            raise ConfigError(
                f"IDP_{name} must be an ISO 8601 instant such as 2022-12-01T08:00:00+01:00, got {value!r}"
            ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ConfigError(f"IDP_{name} must give its UTC offset (…+01:00 or …Z), got {value!r}")
    return instant


def _validate_election_window(config: Mapping[str, Any]) -> None:
    sealed = parse_instant("ELECTION_SEALED_AT", config.get("ELECTION_SEALED_AT"))
    closes = parse_instant("ELECTION_CLOSES_AT", config.get("ELECTION_CLOSES_AT"))
    if sealed is not None and closes is not None and closes <= sealed:
        raise ConfigError("IDP_ELECTION_CLOSES_AT must be later than IDP_ELECTION_SEALED_AT")
