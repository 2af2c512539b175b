"""Routes serving a challenge's image and audio."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app

from captcha_challenge import CaptchaService

bp = Blueprint("captcha", __name__, url_prefix="/captcha")


def get_captcha() -> CaptchaService:
    service = current_app.extensions["idp.captcha"]
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
