"""The development outbox page: the messages "delivered" by the outbox backend, newest first.

Registered only when ``IDP_ENV`` is development, and it answers 404 in any other environment as well, so a
configuration mistake cannot publish addresses and one-time links.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import func, select

from idp.db import get_session
from idp.models import DevMessage, OutboxMessage

bp = Blueprint("dev_outbox", __name__, url_prefix="/dev")

#: The page shows the latest messages only; the demo never needs more.
PAGE_SIZE = 100


@bp.before_request
def _development_only() -> None:
    if current_app.config["ENV"] != "development":
        abort(404)


@bp.get("/outbox")
def outbox() -> str:
    db = get_session()
    messages = (
        db.execute(select(DevMessage).order_by(DevMessage.delivered_at.desc(), DevMessage.id.desc()).limit(PAGE_SIZE))
        .scalars()
        .all()
    )
    pending = db.execute(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
    ).scalar_one()
    return render_template("idp/dev_outbox.html", messages=messages, pending=pending)
