"""Server-side CAPTCHA: single use, short-lived, image and audio (RGAA criterion 1.5); the service itself is the
suite's shared one (``captcha_challenge``), kept per application in ``app.extensions["idp.captcha"]``; the
:mod:`idp.captcha.views` serve its image and audio."""

from __future__ import annotations

from flask import current_app

from captcha_challenge import CaptchaService, normalise_answer

#: What every IdP page with a CAPTCHA says when the answer is wrong or the challenge expired.
MSG_CAPTCHA = "Le code de sécurité (CAPTCHA) est incorrect ou a expiré. Un nouveau code vous est proposé."


def get_captcha() -> CaptchaService:
    """The CAPTCHA service of the current application."""
    service = current_app.extensions["idp.captcha"]
    assert isinstance(service, CaptchaService)
    return service


__all__ = ["MSG_CAPTCHA", "CaptchaService", "get_captcha", "normalise_answer"]
