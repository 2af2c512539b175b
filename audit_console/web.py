"""The console's pages: the staff consoles' headers, error pages and health (:mod:`infra.staff_console`), its date
and number formatting."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import func, select

from audit_console.filters import PARIS
from idp.models import AuditSeal
from infra import staff_console
from infra.db import get_db


def _database(app: Flask) -> None:
    """The IdP's database answers, and the console may read the log there (its role's grants)."""
    with get_db(app).engine.connect() as connection:
        connection.execute(select(func.count()).select_from(AuditSeal))


def init_app(app: Flask) -> None:
    """The staff consoles' headers, error pages, health and stylesheet, and the journal's filters."""
    staff_console.install_pages(
        app,
        forbidden="Le journal d'audit est réservé aux comptes auditeurs. Le compte avec lequel vous vous "
        "êtes connecté n'y a pas accès.",
        checks={"database": _database},
    )
    app.jinja_env.filters["paris"] = paris_time
    app.jinja_env.filters["nombre"] = french_number


def french_number(value: int) -> str:
    """``1 234 567``: thousands separated by a narrow no-break space, as French typography writes them."""
    return f"{value:,}".replace(",", "\u202f")


def paris_time(value: dt.datetime | str | None) -> str:
    """``30/11/2026 10:15:03`` in Paris time, from an aware datetime or an ISO 8601 instant."""
    if value is None:
        return ""
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return instant.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")
