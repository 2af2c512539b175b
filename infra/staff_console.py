"""What every staff console of the suite shares (the auditors' ``audit_console``, the operators' ``operator_console``):
a small Flask app, an OpenID Connect client of the IdP, that reads the IdP's database read only and lets in the
accounts of one staff role.

- :func:`validate_settings`: the checks of the settings every console has;
- :func:`create_app`: the set-up (settings, the read-only IdP database, the ephemeral store and server-side sessions,
  the OIDC client, CSRF, the design system, the sign-in routes);
- :data:`bp` (``signin.*``): sign-in through the IdP (Authlib's Flask client: PKCE S256, ``state``, ``nonce``; the ID
  token's signature, ``iss``, ``aud``, ``exp`` and ``nonce`` checked, ``iss`` and ``aud`` essential) and sign-out
  (RP-initiated logout). The roles come from userinfo (scope ``audit``), whose ``sub`` must be the ID token's; an
  account the IdP's database does not hold in the console's role gets the 403 page and no session;
- :meth:`StaffConsole.required`: on every request the account is looked up again in the IdP's database (by its
  subject, which a first-party client receives): a removed account, one given another role, or a reset (which moves
  the account's session epoch on) ends the console session at once;
- :func:`install_pages`: security headers, French error pages, health, the console's stylesheet.

Each console keeps what is its own: its role, its pages, its settings (prefix ``AUDIT_CONSOLE_``,
``OPERATOR_CONSOLE_``) and its layout's navigation. The accounts table is the IdP's, passed in by the console (this
package imports no application): it needs the columns ``subject``, ``role`` and ``session_epoch``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import FromClause, select
from werkzeug.wrappers import Response

from infra import errors, headers, health, oidc_client, sessions
from infra.application import is_production, new_app
from infra.config import Settings
from infra.db import Database, get_db, read_only_engine
from infra.redirects import request_location, safe_local_path
from infra.sessions import regenerate
from infra.store import build_store, init_app, redis_settings
from infra.store.sql import SQLStore
from templates import FOLDERS, TEMPLATE_DIR, dsfr

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

EXTENSION_KEY = "infra.staff_console"
CALLBACK_PATH = "/connexion/retour"
SIGNED_OUT_PATH = "/deconnexion/fin"
NEXT_KEY = "signin_next"


#: The settings every staff console has, with the same default and meaning (each console's ``DEFAULTS`` adds its own
#: and ends with ``**SHARED_DEFAULTS``; tools/config_reference.py documents them under each console).
SHARED_DEFAULTS: dict[str, Any] = {
    # "production", "development" or "testing". Development and testing relax cookie `Secure` and HSTS.
    "ENV": "production",
    # Signs the CSRF tokens. Required; at least 32 characters in production. (Sessions are server side: the cookie
    # holds a random id, the session lives in Redis or in EPHEMERAL_DATABASE_URL, so « Se déconnecter » ends it.)
    "SECRET_KEY": None,
    # Where the console keeps its sessions and what it counted or verified, shared by its processes: a Redis
    # (redis://…). Unset: EPHEMERAL_DATABASE_URL.
    "REDIS_URL": None,
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
    # failover loses no acknowledged session. 0: asynchronous replication.
    "REDIS_WAIT_REPLICAS": 0,
    # The IdP's issuer. Required.
    "IDP_ISSUER": None,
    # Scopes asked for at sign-in (audit releases the account's roles).
    "SCOPES": "openid profile email audit",
    # Seconds each call to the IdP may take.
    "HTTP_TIMEOUT": 10,
    # The DSFR's dist folder, served under /static/dsfr/ (the operators' console serves the charts' beside it; unset:
    # the repository's npm install; see templates/dsfr.py and templates/dsfr_chart.py).
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


@dataclass(frozen=True)
class StaffMember:
    """The signed-in account, as the console's session keeps it."""

    sub: str
    name: str
    #: The account's session epoch at sign-in (see :meth:`StaffConsole.still_member`).
    epoch: int
    signed_in_at: float
    id_token: str


@dataclass(frozen=True)
class StaffConsole:
    """What makes one staff console: its role and the wording and places that name it."""

    #: The role let in ("auditor", "operator"), as the ``roles`` claim and the accounts table name it.
    role: str
    #: The IdP's accounts table (``subject``, ``role``, ``session_epoch``), read through the app's read-only database.
    accounts: FromClause
    #: The folder of the console's templates (``audit_console``): its ``layout.html``, ``home.html``, ``static/``.
    folder: str
    #: Where a signed-in account lands, and the console's home (the link of the error page).
    landing_endpoint: str
    home_endpoint: str
    #: « Revenir à l'accueil du journal d'audit »: the error page's link back home.
    home_link: str
    #: « Vous êtes déconnecté du journal d'audit … »: the page after sign-out.
    signed_out_text: str
    #: Name of the console's stylesheet blueprint and where it serves it (``/static/console``).
    assets_name: str
    assets_url_path: str

    @property
    def session_key(self) -> str:
        return self.role

    @property
    def layout(self) -> str:
        return f"{self.folder}/layout.html"

    def account_epoch(self, sub: str) -> int | None:
        """The account's session epoch if ``sub`` is an account of this role at the IdP, else None."""
        columns = self.accounts.c
        with get_db().engine.connect() as connection:
            row = connection.execute(select(columns.role, columns.session_epoch).where(columns.subject == sub)).first()
        if row is None or row.role != self.role:
            return None
        return int(row.session_epoch)

    def current(self) -> StaffMember | None:
        """The signed-in account, if its sign-in has not outlived ``SESSION_LIFETIME``."""
        data = session.get(self.session_key)
        if not isinstance(data, dict):
            return None
        try:
            member = StaffMember(**data)
        except TypeError:
            return None
        if time.time() - member.signed_in_at > int(current_app.config["SESSION_LIFETIME"]):
            return None
        return member

    def still_member(self, member: StaffMember) -> bool:
        return self.account_epoch(member.sub) == member.epoch

    def required(self, view: Callable[P, R]) -> Callable[P, R | Response]:
        """The view for signed-in accounts the IdP still holds in this role (at the epoch they signed in at)."""

        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            member = self.current()
            if member is None:
                target = request_location(request) if request.method == "GET" else None
                return redirect(url_for("signin.start", next=target))
            if not self.still_member(member):
                session.clear()
                abort(403)
            return view(*args, **kwargs)

        return wrapped


def validate_settings(
    settings: Settings, config: Mapping[str, Any], *, required: tuple[str, ...] = (), at_least: tuple[str, ...] = ()
) -> None:
    """Refuse a staff console's configuration that would be unsafe or cannot work, with a message an operator can act
    on: the checks every console needs, with the console's own ``required`` settings and ``at_least`` durations (at
    least 1) checked in the same breath."""
    production = settings.check_env(config) == "production"
    settings.require_secret(config, "SECRET_KEY", production=production)
    settings.require(config, "DATABASE_URL", *required, "IDP_ISSUER", "CLIENT_ID", "CLIENT_SECRET")
    settings.check_redis(config)
    if not config.get("REDIS_URL") and not config.get("REDIS_SENTINELS"):
        settings.require(config, "EPHEMERAL_DATABASE_URL")
    for name in ("IDP_ISSUER", "PUBLIC_URL"):
        settings.check_http_url(config, name, https=production)
    scopes = str(config["SCOPES"]).split()
    if "audit" not in scopes or "openid" not in scopes:
        raise settings.error("SCOPES", "must contain openid and audit (the account's roles)")
    settings.check_at_least(config, ("HTTP_TIMEOUT", "SESSION_LIFETIME", *at_least))


def console() -> StaffConsole:
    """The current app's console."""
    found: StaffConsole = current_app.extensions[EXTENSION_KEY]
    return found


def create_app(
    import_name: str,
    settings: Mapping[str, Any],
    staff: StaffConsole,
    *,
    app_name: str,
    env_prefix: str,
) -> Flask:
    """A staff console's app, ``settings`` loaded and validated by the console: the IdP's database read only, the
    store (Redis, or the console's own database) and server-side sessions, the OIDC client, CSRF, the design system
    and the sign-in routes."""
    app = new_app(import_name, settings, max_content_length=64 * 1024, **FOLDERS)
    app.extensions[EXTENSION_KEY] = staff
    url = str(settings["DATABASE_URL"])
    Database(url, engine=read_only_engine(url, setting=f"{env_prefix}DATABASE_URL")).init_app(app)
    redis = redis_settings(settings)
    prefix = str(settings["REDIS_PREFIX"])
    store = build_store(redis, prefix) if redis else SQLStore.standalone(str(settings["EPHEMERAL_DATABASE_URL"]))
    init_app(app, store)
    lifetime = int(settings["SESSION_LIFETIME"])
    sessions.install(app, store, lifetime, lifetime)
    oidc_client.init_app(
        app,
        issuer=str(settings["IDP_ISSUER"]),
        client_id=str(settings["CLIENT_ID"]),
        client_secret=str(settings["CLIENT_SECRET"]),
        scopes=str(settings["SCOPES"]),
        timeout=int(settings["HTTP_TIMEOUT"]),
        public_url=str(settings["PUBLIC_URL"]),
        issuer_setting=f"{env_prefix}IDP_ISSUER",
    )
    CSRFProtect(app)
    app.jinja_env.globals["app_name"] = app_name
    app.jinja_env.globals["staff_console"] = staff
    dsfr.init_app(app, settings["DSFR_DIR"])
    app.jinja_env.globals["idp_issuer"] = str(settings["IDP_ISSUER"]).rstrip("/")
    app.register_blueprint(bp)
    return app


def install_pages(app: Flask, *, forbidden: str, checks: Mapping[str, Callable[[Flask], None]]) -> None:
    """Security headers, French error pages (``forbidden``: the 403 page's text), health (``checks`` and the store)
    and the console's stylesheet.

    The IdP's origin is a ``form-action`` source: signing out is a POST answered by a redirect to the IdP. No
    response is cached: a staff console shows what only staff may see.
    """
    staff = console_of(app)
    idp_origin = headers.origin_of(str(app.config["IDP_ISSUER"])) or ""
    hsts = is_production(app.config)
    headers.install(app, csp=headers.content_security_policy(form_action=[idp_origin]), hsts=hsts, no_store="all")
    errors.install(
        app,
        template="staff_console/error.html",
        messages={403: ("Accès refusé", forbidden), 404: ("Page introuvable", "La page demandée n'existe pas.")},
        templates={403: "staff_console/forbidden.html"},
        expired_form=("Page expirée", "Cette page a expiré. Rechargez-la puis recommencez."),
    )
    health.install(app, {**checks, "store": health.store})
    app.register_blueprint(
        Blueprint(
            staff.assets_name,
            __name__,
            static_folder=str(TEMPLATE_DIR / staff.folder / "static"),
            static_url_path=staff.assets_url_path,
        )
    )


def console_of(app: Flask) -> StaffConsole:
    found: StaffConsole = app.extensions[EXTENSION_KEY]
    return found


bp = Blueprint("signin", __name__)


def _error(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template("staff_console/error.html", title=title, message=message), status


@bp.get("/connexion")
def start() -> Response | tuple[str, int]:
    staff = console()
    next_path = safe_local_path(request.args.get("next"))
    if staff.current() is not None:
        return redirect(next_path or url_for(staff.landing_endpoint))
    session[NEXT_KEY] = next_path
    try:
        oidc_client.metadata()
        response: Response = oidc_client.get_client().authorize_redirect(
            oidc_client.public_url(CALLBACK_PATH), ui_locales="fr"
        )
    except oidc_client.PROVIDER_ERRORS as exc:
        logger.warning("cannot reach the identity provider (%s)", type(exc).__name__)
        return _error(
            "Connexion impossible", "Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.", 503
        )
    return response


@bp.get(CALLBACK_PATH)
def callback() -> Response | tuple[str, int]:
    staff = console()
    if request.args.get("error"):
        logger.info("authorization refused by the provider (%s)", request.args.get("error", "")[:40])
        return _error("Connexion interrompue", "La connexion n'a pas abouti. Vous pouvez recommencer.", 400)
    if not oidc_client.returned_issuer_matches(request.args.get("iss")):
        abort(400)
    try:
        token = oidc_client.exchange_code()  # signature, iss, aud, exp, nonce, azp, at_hash checked
        claims = token["userinfo"]  # Authlib's name for the validated ID token claims
        userinfo = oidc_client.userinfo_of(token)
    except oidc_client.CALLBACK_ERRORS as exc:
        logger.warning("sign-in callback failed (%s)", type(exc).__name__)
        return _error("Connexion interrompue", "La connexion n'a pas abouti ou a expiré. Vous pouvez recommencer.", 400)
    next_path = safe_local_path(session.pop(NEXT_KEY, None))
    session.clear()
    regenerate()  # a new session id at sign-in: no fixation
    roles = userinfo.get("roles")
    sub = str(claims["sub"])
    epoch = staff.account_epoch(sub) if isinstance(roles, list) and staff.role in roles else None
    if epoch is None:
        logger.info("sign-in refused: not an %s account", staff.role)
        abort(403)
    session[staff.session_key] = {
        "sub": sub,
        "name": str(userinfo.get("name") or ""),
        "epoch": epoch,
        "signed_in_at": time.time(),
        "id_token": token["id_token"],
    }
    return redirect(next_path or url_for(staff.landing_endpoint))


@bp.post("/deconnexion")
def sign_out() -> Response:
    member = console().current()
    session.clear()
    regenerate()  # the session is deleted from the store: a copy of the cookie opens nothing any more
    end_session = None
    if member is not None:
        try:
            end_session = oidc_client.metadata().get("end_session_endpoint")
        except oidc_client.PROVIDER_ERRORS as exc:
            logger.warning("cannot reach the identity provider to sign out there (%s)", type(exc).__name__)
    if member is None or not end_session:
        return redirect(url_for("signin.signed_out"))
    response: Response = oidc_client.get_client().logout_redirect(
        post_logout_redirect_uri=oidc_client.public_url(SIGNED_OUT_PATH), id_token_hint=member.id_token
    )
    return response


@bp.get(SIGNED_OUT_PATH)
def signed_out() -> str:
    try:
        oidc_client.get_client().validate_logout_response()
    except OAuthError:
        logger.info("sign-out return without a known state")
    return render_template("staff_console/signed_out.html")
