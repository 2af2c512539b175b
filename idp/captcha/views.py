"""Routes serving a challenge's image and audio (the shared ones of ``captcha_challenge.views``)."""

from __future__ import annotations

from flask import current_app

from captcha_challenge import CaptchaService
from captcha_challenge.views import make_blueprint


def get_captcha() -> CaptchaService:
    service = current_app.extensions["idp.captcha"]
    assert isinstance(service, CaptchaService)
    return service


bp = make_blueprint(get_captcha)
