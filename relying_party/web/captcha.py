"""The CAPTCHA of the portal's anonymous forms: the suite's shared service (``captcha_challenge``, the IdP's image
and French audio) over the portal's own ephemeral store, and the routes serving a challenge's image and audio.

The portal's store has no atomic ``take``; :class:`SingleUseStore` builds it from ``add``: a challenge is used up
by the first check that manages to add its "used" marker, so of two checks at the same instant (two processes)
exactly one may succeed.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app

from captcha_challenge import CaptchaService
from infra.store import EphemeralStore

EXTENSION = "portal.captcha"

bp = Blueprint("captcha", __name__, url_prefix="/captcha")


def init_app(app: Flask, store: EphemeralStore) -> None:
    cfg = app.config
    ttl = int(cfg["CAPTCHA_TTL"])
    app.extensions[EXTENSION] = CaptchaService(store, str(cfg["CAPTCHA_BACKEND"]), ttl, int(cfg["CAPTCHA_LENGTH"]))


def get_captcha() -> CaptchaService:
    service = current_app.extensions[EXTENSION]
    assert isinstance(service, CaptchaService)
    return service


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<challenge_id>.png")
def image(challenge_id: str) -> Response:
    data = get_captcha().image(challenge_id)
    if data is None:
        abort(404)
    return _no_store(Response(data, mimetype="image/png"))


@bp.get("/<challenge_id>.wav")
def audio(challenge_id: str) -> Response:
    data = get_captcha().audio(challenge_id)
    if data is None:
        abort(404)
    return _no_store(Response(data, mimetype="audio/wav"))
