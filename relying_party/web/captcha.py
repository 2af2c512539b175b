"""The CAPTCHA of the portal's anonymous forms: the suite's shared service (``captcha_challenge``, the IdP's image
and French audio) over the portal's own ephemeral store, and its routes serving a challenge's image and audio
(``captcha_challenge.views``). Checking an answer takes the challenge atomically from the store: single use, even
with two processes checking at the same instant.
"""

from __future__ import annotations

from flask import Flask, current_app

from captcha_challenge import CaptchaService
from captcha_challenge.views import make_blueprint
from infra.store import EphemeralStore

EXTENSION = "portal.captcha"


def init_app(app: Flask, store: EphemeralStore) -> None:
    cfg = app.config
    ttl = int(cfg["CAPTCHA_TTL"])
    app.extensions[EXTENSION] = CaptchaService(store, str(cfg["CAPTCHA_BACKEND"]), ttl, int(cfg["CAPTCHA_LENGTH"]))


def get_captcha() -> CaptchaService:
    service = current_app.extensions[EXTENSION]
    assert isinstance(service, CaptchaService)
    return service


bp = make_blueprint(get_captcha)
