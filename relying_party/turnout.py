"""Turnout: how many of the registered voters of each scrutin have voted, from the émargement (who voted), never
from the ballot box.

Two readers: the public participation page of the portal (:mod:`relying_party.pages.participation`), and the
operators' console, which reads the portal's database through a read-only connection and this module (a published
reading interface, like :mod:`idp.operations` on the IdP's side).

The queries count in the database and read indexes only: the émargement by its key ``(scrutin, voter)`` and by
``(scrutin, voted_at)`` (migration 0006), the rolls by their key ``(scrutin, voter)``. The académie of a voter is the
domain of the academic address (``ac-dijon.fr``), which the roll and the émargement both hold; counting per académie
reads the whole roll (millions of rows, a second or so), so callers keep that result for longer: the rolls do not
change while the election runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from infra.sqlaggregates import email_domain, time_bucket
from relying_party.models import Emargement, RollEntry, Scrutin

#: Académies whose name is not the capitalised domain (accents, compound names).
ACADEMIE_NAMES: dict[str, str] = {
    "aix-marseille": "Aix-Marseille",
    "besancon": "Besançon",
    "clermont": "Clermont-Ferrand",
    "creteil": "Créteil",
    "nancy-metz": "Nancy-Metz",
    "noumea": "Nouméa",
    "orleans-tours": "Orléans-Tours",
    "polynesie": "Polynésie française",
    "reunion": "La Réunion",
    "spm": "Saint-Pierre-et-Miquelon",
    "wf": "Wallis-et-Futuna",
}


def academie_name(domain: str) -> str:
    """``ac-dijon.fr`` → « Dijon »; an address outside the académies (central administration) keeps its domain."""
    if not domain.startswith("ac-"):
        return domain or "?"
    name = domain[3:].split(".", 1)[0]
    return ACADEMIE_NAMES.get(name, "-".join(part.capitalize() for part in name.split("-")))


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="seconds")


def _rate(voted: int, registered: int) -> float:
    return round(100.0 * voted / registered, 2) if registered else 0.0


def scrutins(engine: Engine) -> list[dict[str, Any]]:
    """Every scrutin: id, code, label, opening and closing instants."""
    query = select(Scrutin.id, Scrutin.code, Scrutin.label, Scrutin.opens_at, Scrutin.closes_at).order_by(
        Scrutin.opens_at, Scrutin.code
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        {
            "id": int(row.id),
            "code": row.code,
            "label": row.label,
            "opens_at": _iso(row.opens_at.replace(tzinfo=dt.UTC) if row.opens_at.tzinfo is None else row.opens_at),
            "closes_at": _iso(row.closes_at.replace(tzinfo=dt.UTC) if row.closes_at.tzinfo is None else row.closes_at),
        }
        for row in rows
    ]


def registered_by_scrutin(engine: Engine) -> dict[int, int]:
    query = select(RollEntry.scrutin_id, func.count()).group_by(RollEntry.scrutin_id)
    with engine.connect() as connection:
        return {int(row[0]): int(row[1]) for row in connection.execute(query)}


def voted_by_scrutin(engine: Engine) -> dict[int, int]:
    query = select(Emargement.scrutin_id, func.count()).group_by(Emargement.scrutin_id)
    with engine.connect() as connection:
        return {int(row[0]): int(row[1]) for row in connection.execute(query)}


def by_scrutin(engine: Engine, now: dt.datetime, registered: dict[int, int] | None = None) -> dict[str, Any]:
    """Turnout of every scrutin now: registered, voted, rate (%). ``registered``: counts already known."""
    registered = registered_by_scrutin(engine) if registered is None else registered
    voted = voted_by_scrutin(engine)
    rows = []
    for scrutin in scrutins(engine):
        count = voted.get(scrutin["id"], 0)
        total = registered.get(scrutin["id"], 0)
        rows.append({**scrutin, "registered": total, "voted": count, "rate": _rate(count, total)})
    return {"computed_at": _iso(now), "scrutins": rows}


#: Émargements per (scrutin id, académie domain, start of the hour in Unix time).
Counts = dict[tuple[int, str, int], int]
HOUR = 3600


def hourly_counts(engine: Engine, *, since: dt.datetime | None = None, until: dt.datetime | None = None) -> Counts:
    """Émargements per scrutin, académie and hour, cast in ``[since, until)`` (None: no bound).

    With ``since`` the query reads the index ``(scrutin_id, voted_at)`` one range per scrutin, so its cost follows
    the window, not the box; without, it reads the whole émargement (once, see the module docstring).
    """
    domain = email_domain(Emargement.voter_identifier)
    bucket = time_bucket(Emargement.voted_at, HOUR)
    query = select(Emargement.scrutin_id, domain, bucket, func.count()).group_by(Emargement.scrutin_id, domain, bucket)
    if since is not None:
        ids = [s["id"] for s in scrutins(engine)]
        query = query.where(Emargement.scrutin_id.in_(ids), Emargement.voted_at >= since)
    if until is not None:
        query = query.where(Emargement.voted_at < until)
    with engine.connect() as connection:
        return {(int(row[0]), str(row[1]), int(row[2])): int(row[3]) for row in connection.execute(query)}


def merged(*parts: Counts) -> Counts:
    total: Counts = {}
    for part in parts:
        for key, count in part.items():
            total[key] = total.get(key, 0) + count
    return total


def history(
    scrutin_list: list[dict[str, Any]], counts: Counts, registered: dict[int, int], now: dt.datetime
) -> list[dict[str, Any]]:
    """Cumulative turnout of every scrutin at the end of each hour, from its opening to now (or its closing): at
    most 8 days × 24 points per scrutin."""
    per_hour: dict[int, dict[int, int]] = {}
    for (scrutin_id, _, start), count in counts.items():
        hours = per_hour.setdefault(scrutin_id, {})
        hours[start] = hours.get(start, 0) + count
    series = []
    for scrutin in scrutin_list:
        opens = int(dt.datetime.fromisoformat(scrutin["opens_at"]).timestamp()) // HOUR * HOUR
        closes = dt.datetime.fromisoformat(scrutin["closes_at"])
        end = int(min(now, closes).timestamp()) // HOUR * HOUR
        mine = per_hour.get(scrutin["id"], {})
        total = sum(n for start, n in mine.items() if start < opens)
        points = []
        for start in range(opens, end + 1, HOUR):
            total += mine.get(start, 0)
            points.append({"at": start + HOUR, "voted": total, "rate": _rate(total, registered.get(scrutin["id"], 0))})
        series.append({**scrutin, "registered": registered.get(scrutin["id"], 0), "points": points})
    return series


def academies(
    scrutin_list: list[dict[str, Any]], counts: Counts, registered: dict[tuple[int, str], int]
) -> list[dict[str, Any]]:
    """Turnout of every scrutin by académie; ``registered`` from :func:`registered_by_academie`."""
    voted: dict[tuple[int, str], int] = {}
    for (scrutin_id, domain, _), count in counts.items():
        voted[(scrutin_id, domain)] = voted.get((scrutin_id, domain), 0) + count
    result = []
    for scrutin in scrutin_list:
        sid = scrutin["id"]
        domains = sorted({d for s, d in registered if s == sid} | {d for s, d in voted if s == sid})
        rows: list[dict[str, Any]] = [
            {
                "domain": d,
                "academie": academie_name(d),
                "registered": registered.get((sid, d), 0),
                "voted": voted.get((sid, d), 0),
                "rate": _rate(voted.get((sid, d), 0), registered.get((sid, d), 0)),
            }
            for d in domains
        ]
        rows.sort(key=lambda row: row["academie"])
        result.append({**scrutin, "academies": rows})
    return result


def over_time(engine: Engine, now: dt.datetime, *, registered: dict[int, int] | None = None) -> dict[str, Any]:
    """:func:`history` counted from the whole émargement now. ``registered``: counts already known."""
    registered = registered_by_scrutin(engine) if registered is None else registered
    return {"computed_at": _iso(now), "scrutins": history(scrutins(engine), hourly_counts(engine), registered, now)}


def registered_by_academie(engine: Engine) -> dict[tuple[int, str], int]:
    """Voters on each scrutin's roll by académie (the whole roll is read: keep the result, see the module doc)."""
    domain = email_domain(RollEntry.voter_identifier)
    query = select(RollEntry.scrutin_id, domain, func.count()).group_by(RollEntry.scrutin_id, domain)
    with engine.connect() as connection:
        return {(int(row[0]), str(row[1])): int(row[2]) for row in connection.execute(query)}


def per_scrutin(by_academie: dict[tuple[int, str], int]) -> dict[int, int]:
    """Per-scrutin totals of per-académie counts."""
    totals: dict[int, int] = {}
    for (scrutin_id, _), count in by_academie.items():
        totals[scrutin_id] = totals.get(scrutin_id, 0) + count
    return totals


def by_academie(engine: Engine, now: dt.datetime, registered: dict[tuple[int, str], int]) -> dict[str, Any]:
    """:func:`academies` counted from the whole émargement now."""
    return {"computed_at": _iso(now), "scrutins": academies(scrutins(engine), hourly_counts(engine), registered)}
