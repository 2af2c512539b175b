"""Routes serving a challenge's image and audio (the shared ones of ``captcha_challenge.views``)."""

from __future__ import annotations

from captcha_challenge.views import make_blueprint
from idp.captcha import get_captcha

bp = make_blueprint(get_captcha)
