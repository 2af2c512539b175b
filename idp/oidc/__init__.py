"""The OpenID Provider: Authlib's authorization server on the IdP's models, keys and sign-in screens.

``init_app`` builds the provider of one application (kept in ``app.extensions``, no global state);
``register_blueprints`` adds its endpoints. Both are called from :func:`idp.create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The models package imports idp.oidc.models; importing it first keeps that cycle in one order.
import idp.models  # noqa: F401

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from idp.oidc.provider import Provider

    Provider.init_app(app)


def register_blueprints(app: Flask) -> None:
    from idp.oidc.views import register

    register(app)
