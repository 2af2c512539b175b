"""``/federation/franceconnect/*``: the start of the sign-in through the provider, its callback, and the page the
provider sends the browser back to after its end-session endpoint.

Registering the blueprint sets the federation up for the application (settings checked, provider directory,
sign-out hooks, the template helper of the identifier page's button): one line in ``idp.create_app``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from idp.auth import transaction
from idp.federation import extension, flow, logout

bp = Blueprint("federation", __name__, url_prefix="/federation/franceconnect")


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)
    extension.init_app(app)
    logout.init_app(app)
    app.add_template_global(extension.is_enabled, "federation_enabled")


@bp.get("/login")
def login() -> Response | tuple[str, int]:
    """The identifier page's "S'identifier avec FranceConnect"."""
    if not extension.is_enabled():
        abort(404)
    nxt = transaction.next_path() or url_for("login.signed_in")
    return flow.start(nxt, flow.LOGIN, back_url=url_for("login.identifier"))


@bp.get("/callback")
def callback() -> Response | tuple[str, int]:
    if not extension.is_enabled():
        abort(404)
    return flow.callback()


@bp.get("/logged-out")
def logged_out() -> Response | tuple[str, int]:
    return logout.logged_out()
