"""The console's pages: the staff consoles' headers, error pages, health and stylesheet (:mod:`infra.staff_console`)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from idp.models import AuditEvent
from infra import staff_console
from infra.db import get_db
from operator_console.figures import portal_engine
from relying_party.models import Scrutin


def _idp_database(app: Flask) -> None:
    """The IdP's database answers, and the console may read the log there (its role's grants)."""
    with get_db(app).engine.connect() as connection:
        connection.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.id < 0))


def _portal_database(app: Flask) -> None:
    with portal_engine(app).connect() as connection:
        connection.execute(select(func.count()).select_from(Scrutin))


def init_app(app: Flask) -> None:
    """The staff consoles' headers, error pages, health and stylesheet; health reads both databases."""
    staff_console.install_pages(
        app,
        forbidden="La console des opérateurs est réservée aux comptes opérateurs. Le compte avec lequel vous vous "
        "êtes connecté n'y a pas accès.",
        checks={"database": _idp_database, "portal_database": _portal_database},
    )
