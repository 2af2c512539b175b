"""The federation of one application: its settings and its provider directory, in ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from idp.federation.provider import ProviderDirectory
from idp.federation.settings import FederationSettings, load_settings

EXTENSION_KEY = "idp.federation"


@dataclass(frozen=True)
class Federation:
    settings: FederationSettings
    directory: ProviderDirectory


def init_app(app: Flask) -> Federation:
    settings = load_settings(app.config)
    federation = Federation(settings, ProviderDirectory(settings))
    app.extensions[EXTENSION_KEY] = federation
    return federation


def get_federation(app: Flask | None = None) -> Federation:
    federation = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(federation, Federation)
    return federation


def is_enabled(app: Flask | None = None) -> bool:
    """Whether the federated route is offered (the blueprint is registered and ``IDP_FC_ENABLED`` is true)."""
    federation = (app or current_app).extensions.get(EXTENSION_KEY)
    return isinstance(federation, Federation) and federation.settings.enabled
