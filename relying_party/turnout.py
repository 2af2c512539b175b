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


def over_time(
    engine: Engine, now: dt.datetime, *, seconds: int = 3600, registered: dict[int, int] | None = None
) -> dict[str, Any]:
    """Cumulative turnout of every scrutin at the end of each period of ``seconds``, from its opening to now (or
    its closing): at most 8 days × 24 points per scrutin for an hour. ``registered``: counts already known."""
    bucket = time_bucket(Emargement.voted_at, seconds)
    query = select(Emargement.scrutin_id, bucket, func.count()).group_by(Emargement.scrutin_id, bucket)
    with engine.connect() as connection:
        counts: dict[int, dict[int, int]] = {}
        for scrutin_id, start, count in connection.execute(query):
            counts.setdefault(int(scrutin_id), {})[int(start)] = int(count)
    registered = registered_by_scrutin(engine) if registered is None else registered
    series = []
    for scrutin in scrutins(engine):
        opens = int(dt.datetime.fromisoformat(scrutin["opens_at"]).timestamp()) // seconds * seconds
        closes = dt.datetime.fromisoformat(scrutin["closes_at"])
        end = int(min(now, closes).timestamp()) // seconds * seconds
        mine = counts.get(scrutin["id"], {})
        points, total = [], 0
        total += sum(n for start, n in mine.items() if start < opens)
        for start in range(opens, end + 1, seconds):
            total += mine.get(start, 0)
            points.append(
                {"at": start + seconds, "voted": total, "rate": _rate(total, registered.get(scrutin["id"], 0))}
            )
        series.append({**scrutin, "registered": registered.get(scrutin["id"], 0), "points": points})
    return {"computed_at": _iso(now), "seconds": seconds, "scrutins": series}


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
    """Turnout of every scrutin by académie now; ``registered`` from :func:`registered_by_academie`."""
    domain = email_domain(Emargement.voter_identifier)
    query = select(Emargement.scrutin_id, domain, func.count()).group_by(Emargement.scrutin_id, domain)
    with engine.connect() as connection:
        voted = {(int(row[0]), str(row[1])): int(row[2]) for row in connection.execute(query)}
    result = []
    for scrutin in scrutins(engine):
        domains = sorted({d for s, d in registered if s == scrutin["id"]} | {d for s, d in voted if s == scrutin["id"]})
        rows: list[dict[str, Any]] = [
            {
                "domain": d,
                "academie": academie_name(d),
                "registered": registered.get((scrutin["id"], d), 0),
                "voted": voted.get((scrutin["id"], d), 0),
                "rate": _rate(voted.get((scrutin["id"], d), 0), registered.get((scrutin["id"], d), 0)),
            }
            for d in domains
        ]
        rows.sort(key=lambda row: row["academie"])
        result.append({**scrutin, "academies": rows})
    return {"computed_at": _iso(now), "scrutins": result}
