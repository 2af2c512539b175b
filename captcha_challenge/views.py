"""The routes serving a challenge's image and audio, the same in every application that shows a CAPTCHA.

Each application builds its blueprint with the function that finds its own service (its own store): the IdP's
``/captcha/<id>.png`` never serves a challenge of the portal's, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, abort
from flask.blueprints import BlueprintSetupState

from captcha_challenge.service import CaptchaService
from infra import sessions
from infra.observability import FirstAnswer, FirstAnswerer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Where the routes are: an image or a sound needs its challenge's id only, never the visitor's session.
URL_PREFIX = "/captcha"
#: The image's route, as Flask's URL rule names it in the request line and the metrics.
IMAGE_ROUTE = URL_PREFIX + "/<challenge_id>.png"


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


def image_before_flask(service: CaptchaService, security_headers: Sequence[tuple[str, str]]) -> FirstAnswerer:
    """The image's ``GET`` answered before Flask, as a request observer's first answer
    (:func:`infra.observability.answer_first`): the same status, headers (``security_headers``: those the app adds
    to every response) and body as the blueprint's route, without Flask's work around it. Anything else goes on
    to Flask: ``HEAD``, a challenge unknown or used up (its 404 page), a store that does not answer (its 503 page)."""
    prefix = URL_PREFIX + "/"
    start = len(prefix)
    content_type = ("Content-Type", "image/png")
    after = [("Cache-Control", "no-store"), *security_headers]

    def answer(environ: WSGIEnvironment) -> FirstAnswer | None:
        path: str = environ.get("PATH_INFO", "")
        if not (path.startswith(prefix) and path.endswith(".png")) or environ.get("REQUEST_METHOD") != "GET":
            return None
        challenge_id = path[start:-4]
        if not challenge_id or "/" in challenge_id:  # what Flask's rule would not match either
            return None
        try:
            data = service.image(challenge_id)
        except Exception:  # an outage, or a fault: Flask answers and logs it as for any view
            return None
        if data is None:
            return None
        return IMAGE_ROUTE, "200 OK", [content_type, ("Content-Length", str(len(data))), *after], [data]

    return answer
