"""Jinja filters that write figures and instants as French readers expect them, for the pages that show figures
(the portal's participation page, the operators' console).

- ``nombre``: ``1 234 567`` (narrow no-break spaces between thousands);
- ``pourcent``: ``12,5 %`` (decimal comma, no-break space before the sign);
- ``paris``: an ISO 8601 instant or a Unix time as ``06/12/2026 à 09:15`` in Paris time;
- ``heure``: a Unix time as ``09:15`` in Paris time; ``jour_heure``: as ``06/12 09h``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask

PARIS = ZoneInfo("Europe/Paris")


def nombre(value: int | float | None) -> str:
    if value is None:
        return "–"
    return f"{int(value):,}".replace(",", "\u202f")


def pourcent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}".replace(".", ",") + "\u00a0%"


def _instant(value: str | int | float | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def paris(value: str | int | float | dt.datetime | None) -> str:
    if value is None or value == "":
        return "–"
    return _instant(value).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def heure(value: str | int | float | dt.datetime) -> str:
    return _instant(value).astimezone(PARIS).strftime("%H:%M")


def jour_heure(value: str | int | float | dt.datetime) -> str:
    return _instant(value).astimezone(PARIS).strftime("%d/%m %Hh")


def duree(seconds: int | None) -> str:
    """``3 min 20 s``, ``2 h 05 min``: an age for a reader, not a machine."""
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}\u00a0s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}\u00a0min {seconds:02d}\u00a0s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}\u00a0h {minutes:02d}\u00a0min"


def init_app(app: Flask) -> None:
    for name, function in {
        "nombre": nombre,
        "pourcent": pourcent,
        "paris": paris,
        "heure": heure,
        "jour_heure": jour_heure,
        "duree": duree,
    }.items():
        app.jinja_env.filters.setdefault(name, function)
