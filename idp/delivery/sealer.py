"""The application's key for outbox payloads, fetched where the application is at hand (views, wiring,
``idp.plugin_api``) and passed to :func:`idp.delivery.outbox.enqueue`, which reads no application state."""

from __future__ import annotations

from cryptography.fernet import Fernet
from flask import Flask, current_app

from idp.delivery.payload import fernet_for

_EXTENSION_KEY = "idp.outbox_sealer"


def outbox_sealer(app: Flask | None = None) -> Fernet:
    """The key sealing outbox payloads (derived from ``IDP_SECRET_KEY``), derived once per application."""
    target = app or current_app
    sealer = target.extensions.get(_EXTENSION_KEY)
    if sealer is None:
        sealer = target.extensions[_EXTENSION_KEY] = fernet_for(str(target.config["SECRET_KEY"]))
    assert isinstance(sealer, Fernet)
    return sealer
