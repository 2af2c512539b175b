"""The routes serving a challenge's image and audio, the same in every application that shows a CAPTCHA.

Each application builds its blueprint with the function that finds its own service (its own store): the IdP's
``/captcha/<id>.png`` never serves a challenge of the portal's, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, abort
from flask.blueprints import BlueprintSetupState

from captcha_challenge.service import CaptchaService
from infra import sessions

#: Where the routes are: an image or a sound needs its challenge's id only, never the visitor's session.
URL_PREFIX = "/captcha"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def make_blueprint(service: Callable[[], CaptchaService]) -> Blueprint:
    """A blueprint named ``captcha`` (endpoints ``captcha.image`` and ``captcha.audio``, which the shared
    template ``idp/_captcha.html`` links to), under ``/captcha``, served without reading the session (one store
    read a request spared: the challenge's random id is all they need)."""
    bp = Blueprint("captcha", __name__, url_prefix=URL_PREFIX)

    @bp.record_once
    def _without_session(state: BlueprintSetupState) -> None:
        assert isinstance(state.app, Flask)
        sessions.not_for(state.app, (state.url_prefix or URL_PREFIX) + "/")

    @bp.get("/<challenge_id>.png")
    def image(challenge_id: str) -> Response:
        data = service().image(challenge_id)
        if data is None:
            abort(404)
        return _no_store(Response(data, mimetype="image/png"))

    @bp.get("/<challenge_id>.wav")
    def audio(challenge_id: str) -> Response:
        data = service().audio(challenge_id)
        if data is None:
            abort(404)
        return _no_store(Response(data, mimetype="audio/wav"))

    return bp
