"""A FranceConnect-v2-style OpenID Provider for development, the demo and the tests: its own small Flask app.

Real OpenID Connect (Authlib's server classes, ES256 JWTs through joserfc) with fictitious citizens and
injectable faults. Never for production: it authenticates nobody, any tester picks any identity.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from fc_dev_provider import config as config_module
from fc_dev_provider.citizens import load_citizens
from fc_dev_provider.clients import load_clients
from fc_dev_provider.keys import SigningKey
from fc_dev_provider.provider import EXTENSION, Provider
from fc_dev_provider.scenarios import load_scenarios
from fc_dev_provider.server import build_server
from fc_dev_provider.store import build_store
from infra import health
from infra.application import new_app
from infra.store import init_app as init_store
from infra.store import redis_settings

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``FCDEV_*`` environment variables, then ``config``."""
    from templates import TEMPLATE_DIR

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = new_app(
        __name__,
        settings,
        secure_cookies=str(settings["ISSUER"]).startswith("https://"),
        max_content_length=64 * 1024,
        template_folder=str(TEMPLATE_DIR),
        static_folder=str(TEMPLATE_DIR / "fc_dev" / "static"),
        static_url_path="/static",
    )
    if not settings["SECRET_KEY"]:
        logger.info("FCDEV_SECRET_KEY unset: a random one is used (pending logins do not survive a restart)")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    provider = _build_provider(settings)
    app.extensions[EXTENSION] = provider
    init_store(app, provider.store.raw)
    provider.server = build_server(provider)
    _init_web(app, provider)
    return app


def _build_provider(settings: dict[str, Any]) -> Provider:
    if settings["SIGNING_KEY_FILE"]:
        signing_key = SigningKey.from_file(settings["SIGNING_KEY_FILE"])
    else:
        signing_key = SigningKey.generate()
        logger.info("FCDEV_SIGNING_KEY_FILE unset: generated signing key %s (a restart rotates it)", signing_key.kid)
    citizens = load_citizens(settings["CITIZENS_FILE"])
    scenarios = load_scenarios(settings["SCENARIOS_FILE"])
    scenarios.check_citizens(citizens)
    return Provider(
        config=settings,
        clock=settings["CLOCK"],
        signing_key=signing_key,
        clients=load_clients(settings["CLIENTS"], settings["CLIENTS_FILE"]),
        citizens=citizens,
        scenarios=scenarios,
        store=build_store(redis_settings(settings), str(settings["REDIS_PREFIX"])),
    )


def _init_web(app: Flask, provider: Provider) -> None:
    from fc_dev_provider import api, interaction, web

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # client-to-server endpoints; their protection is the client's credentials and tokens
    web.init_app(app, provider.clients)
    app.register_blueprint(api.bp)
    app.register_blueprint(interaction.bp)
    health.install(app, {"store": health.store})  # the store is the provider's only dependency
    app.jinja_env.filters["date_fr"] = _date_fr


def _date_fr(value: str) -> str:
    year, month, day = value.split("-")
    return f"{day}/{month}/{year}"
