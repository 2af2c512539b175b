"""What the sign-in and activation rules (:mod:`idp.auth.service`) need from the application, gathered where the
application is at hand — a request, or the delivery worker's application context — and passed to them."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from idp.auth import service
from idp.delivery import Message, outbox_sealer
from idp.delivery.composers import Composed
from idp.store import get_store
from idp.web import keyed_hasher, secret_hasher


def sign_in_context() -> service.SignInContext:
    return service.context(current_app.config, get_store(), secret_hasher(), keyed_hasher(), outbox_sealer())


def _activation_url(token: str) -> str:
    # Built without a request (the worker has none): the public address and the route's path.
    path = current_app.url_map.bind("localhost").build("activation.form", {"token": token})
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


def compose_activation(session: Session, request: Message) -> Composed | None:
    """The composer of queued activation requests (registered by :mod:`idp.auth.views`)."""
    mail = service.ActivationMail(keyed_hasher(), int(current_app.config["ACTIVATION_LINK_TTL"]), _activation_url)
    return service.compose_activation(session, request, mail)
