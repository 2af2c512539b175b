"""Configuration of the voter portal.

Layered the Flask way (:mod:`infra.config`): built-in defaults, then environment variables prefixed ``PORTAL_``
(or ``PORTAL_*_FILE`` naming a file that holds the value, for secrets), then the mapping a caller passes to
:func:`relying_party.create_app` (tests). The comment above each default is its documentation: the configuration
reference of the docs is generated from it (``tools/config_reference.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import ConfigError, Settings

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
    # CAPTCHA of anonymous assistance requests (the IdP's, image and French audio): "image", or "fixed:<answer>"
    # for development and tests only (refused in production).
    "CAPTCHA_BACKEND": "image",
    # Seconds a CAPTCHA lives.
    "CAPTCHA_TTL": 300,
    # Digits of a CAPTCHA.
    "CAPTCHA_LENGTH": 5,
    # Assistance requests and complaints accepted per client address within REQUESTS_WINDOW seconds (a school
    # or a ministry proxy may put many voters behind one address).
    "REQUESTS_PER_ADDRESS": 20,
    # Complaints and signed-in assistance requests accepted per voter within REQUESTS_WINDOW seconds.
    "REQUESTS_PER_VOTER": 5,
    # Seconds of the window of the two limits above (each accepted request holds its slot that long).
    "REQUESTS_WINDOW": 3600,
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
    # Attempts before a message of the portal's outbox is abandoned (retries wait at most a minute: 60 attempts
    # cover a relay down for about an hour).
    "DELIVERY_MAX_ATTEMPTS": 60,
    # Seconds before the first retry; the delay doubles at each attempt, up to one minute.
    "DELIVERY_RETRY_BASE": 15,
    # Largest "profession de foi" PDF accepted by the election import, in bytes.
    "MAX_PDF_BYTES": 5 * 1024 * 1024,
    # Key of the voters' pseudonyms in the portal's audit log (a keyed hash of the identifier). Unset: derived from
    # SECRET_KEY; set it apart so that rotating the session secret does not change every pseudonym.
    "AUDIT_HMAC_KEY": None,
    # The waiting room « Salle d'attente »: journeys in progress at once (from « Accéder au portail Élections » to
    # the ballot cast or the sign-out) beyond which arriving voters wait in a queue, in arrival order, shared by every
    # portal process through the store. 0: no waiting room. Size it from the benchmarks (docs/operators/capacity.md).
    "WAITING_ROOM_CAPACITY": 0,
    # Seconds after which an admitted journey that made no progress (no sign-in, no vote-code step) gives its slot
    # back to the queue; the voter stays admitted.
    "WAITING_ROOM_LEASE": 900,
    # Key that seals each voter's tracking code in the émargement, so the receipt can be shown again without the
    # database alone linking a voter to a ballot. Keep it out of the database and its backups. Unset: derived from
    # SECRET_KEY (rotating SECRET_KEY then makes earlier receipts unreadable: set it apart in production).
    "RECEIPT_KEY": None,
    # Number of reverse proxies in front of the portal whose X-Forwarded-* headers are trusted (0: none).
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
    # Seconds each web process keeps the scrutins it read (lists, candidates, election key and manifest) before
    # reading them again: a change by the election import or the key ceremony shows on the pages within that time.
    # Casting always checks the opening window and the roll in the database. 0: read them at every page.
    "ELECTION_CACHE_SECONDS": 10,
    # Seconds the public participation page (/participation, turnout per scrutin) is kept before it is counted
    # again; every process shows the copy kept in the store, and one of them recounts when it is older than this.
    "PARTICIPATION_REFRESH": 300,
    # The DSFR's dist folder, served under /static/dsfr/ (unset: frontend/node_modules/@gouvfr/dsfr/dist of the
    # source checkout, installed by `make install`; the Docker image sets its own copy).
    "DSFR_DIR": None,
    # The ballot page's encryption module, built by `make install` into frontend/dist (unset: that folder of the
    # source checkout; the Docker image sets its own copy).
    "BALLOT_JS_DIR": None,
    # Skip the "database is migrated" check at start-up (used by ``portal db upgrade`` itself).
    "SKIP_SCHEMA_CHECK": False,
}

SETTINGS = Settings(ENV_PREFIX, DEFAULTS)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration: defaults, then ``PORTAL_*`` (or ``PORTAL_*_FILE``) variables, then overrides."""
    return SETTINGS.load(environ, overrides)


def validate(config: Mapping[str, Any], *, web: bool = True) -> None:
    """Refuse configurations that would be unsafe or cannot work, with a message an operator can act on.

    ``web=False`` is for the operators' commands (migrations, import, tally, delivery): they need the database,
    not the IdP's address, the client's credentials or the session secret.
    """
    env = SETTINGS.check_env(config)
    SETTINGS.check_redis(config)
    if web:
        _validate_web(config, production=env == "production")
    SETTINGS.check_at_least(
        config,
        (
            "VOTE_MAX_AGE",
            "VOTE_LEVEL_TTL",
            "SESSION_IDLE_TIMEOUT",
            "SESSION_ABSOLUTE_TIMEOUT",
            "HTTP_TIMEOUT",
            "DELIVERY_MAX_ATTEMPTS",
            "MAX_PDF_BYTES",
            "WAITING_ROOM_LEASE",
            "CAPTCHA_TTL",
            "CAPTCHA_LENGTH",
            "REQUESTS_PER_ADDRESS",
            "REQUESTS_PER_VOTER",
            "REQUESTS_WINDOW",
            "PARTICIPATION_REFRESH",
        ),
    )
    SETTINGS.check_at_least(config, ("ELECTION_CACHE_SECONDS",), minimum=0)
    if int(config["WAITING_ROOM_CAPACITY"]) < 0:
        raise SETTINGS.error("WAITING_ROOM_CAPACITY", "must be 0 (no waiting room) or more")
    if int(config["VOTE_LEVEL_TTL"]) < int(config["VOTE_MAX_AGE"]):
        raise ConfigError("PORTAL_VOTE_LEVEL_TTL must be at least PORTAL_VOTE_MAX_AGE")
    if "openid" not in str(config["SCOPES"]).split():
        raise SETTINGS.error("SCOPES", "must contain openid")
    backend = str(config["CAPTCHA_BACKEND"])
    if backend != "image" and not (backend.startswith("fixed:") and env in {"development", "testing"}):
        raise SETTINGS.error("CAPTCHA_BACKEND", "must be image (fixed:<answer> only in development and testing)")


def _validate_web(config: Mapping[str, Any], *, production: bool) -> None:
    SETTINGS.require_secret(config, "SECRET_KEY", production=production)
    audit_key = config.get("AUDIT_HMAC_KEY")
    if production and audit_key is not None and len(str(audit_key)) < 32:
        raise SETTINGS.error("AUDIT_HMAC_KEY", "must be at least 32 characters in production")
    receipt_key = config.get("RECEIPT_KEY")
    if production and receipt_key is not None and len(str(receipt_key)) < 32:
        raise SETTINGS.error("RECEIPT_KEY", "must be at least 32 characters in production")
    SETTINGS.require(config, "IDP_ISSUER", "CLIENT_ID", "CLIENT_SECRET")
    for name in ("IDP_ISSUER", "PUBLIC_URL"):
        SETTINGS.check_http_url(config, name, https=production)
