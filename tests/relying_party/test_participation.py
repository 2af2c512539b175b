"""Turnout from the émargement (relying_party.turnout) and the public participation page: counted per scrutin, over
time and per académie in the database; the page needs no sign-in, is French, has a chart and its table, hides the
scrutins not yet open, and counts again only when its copy is older than PORTAL_PARTICIPATION_REFRESH."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlalchemy import insert

from relying_party import turnout
from relying_party.db import get_db
from relying_party.models import Emargement, utcnow
from relying_party.pages import participation
from tests.relying_party.helpers import load, scrutin_entry, scrutin_id, text_of

DAY = dt.timedelta(days=1)

ROLL = {
    **{f"votant.{n}@ac-dijon.fr": f"M. VOTANT {n}" for n in range(6)},
    **{f"votante.{n}@ac-besancon.fr": f"Mme VOTANTE {n}" for n in range(4)},
}


@pytest.fixture
def election(app: Flask) -> dict[str, dt.datetime]:
    now = utcnow().replace(microsecond=0)
    opens = now - DAY
    load(
        app,
        {
            "version": 1,
            "scrutins": [
                scrutin_entry("NATIONAL", opens, now + 7 * DAY, roll=ROLL, kind="csa_ministeriel"),
                scrutin_entry("DIJON", opens, now + 7 * DAY, roll={k: v for k, v in ROLL.items() if "dijon" in k}),
                scrutin_entry("LATER", now + DAY, now + 8 * DAY, roll=ROLL),
            ],
        },
    )
    return {"now": now, "opens": opens}


def mark(app: Flask, code: str, voters: list[str], at: dt.datetime) -> None:
    sid = scrutin_id(app, code)
    with get_db(app).sessionmaker() as session, session.begin():
        session.execute(
            insert(Emargement), [{"scrutin_id": sid, "voter_identifier": v, "voted_at": at} for v in voters]
        )


def test_turnout_counts_the_emargement(app: Flask, election: dict[str, dt.datetime]) -> None:
    now, opens = election["now"], election["opens"]
    mark(app, "NATIONAL", ["votant.0@ac-dijon.fr", "votant.1@ac-dijon.fr"], opens + dt.timedelta(minutes=30))
    mark(app, "NATIONAL", ["votante.0@ac-besancon.fr"], opens + dt.timedelta(hours=2, minutes=5))
    mark(app, "DIJON", ["votant.0@ac-dijon.fr"], opens + dt.timedelta(hours=3))
    engine = get_db(app).engine

    figures = turnout.by_scrutin(engine, now)
    rows = {s["code"]: (s["registered"], s["voted"], s["rate"]) for s in figures["scrutins"]}
    assert rows == {"NATIONAL": (10, 3, 30.0), "DIJON": (6, 1, 16.67), "LATER": (10, 0, 0.0)}

    history = {s["code"]: s["points"] for s in turnout.over_time(engine, now)["scrutins"]}
    national = history["NATIONAL"]
    assert len(national) == 25, "one point an hour from the opening to now"
    first_hour_end = (int(opens.timestamp()) // 3600 + 1) * 3600
    assert national[0]["at"] == first_hour_end
    voted = [point["voted"] for point in national]
    assert voted == sorted(voted) and voted[-1] == 3, "cumulative"
    assert voted[0] == (2 if opens.minute < 30 else 0), "the first hour counts what was cast before its end"
    assert history["LATER"] == [], "no point before the opening"

    academies = {
        s["code"]: s["academies"]
        for s in turnout.by_academie(engine, now, turnout.registered_by_academie(engine))["scrutins"]
    }
    assert [(a["academie"], a["registered"], a["voted"], a["rate"]) for a in academies["NATIONAL"]] == [
        ("Besançon", 4, 1, 25.0),
        ("Dijon", 6, 2, 33.33),
    ]
    assert [(a["academie"], a["voted"]) for a in academies["DIJON"]] == [("Dijon", 1)]


def test_academie_names() -> None:
    assert turnout.academie_name("ac-dijon.fr") == "Dijon"
    assert turnout.academie_name("ac-aix-marseille.fr") == "Aix-Marseille"
    assert turnout.academie_name("ac-creteil.fr") == "Créteil"
    assert turnout.academie_name("education.gouv.fr") == "education.gouv.fr"


def test_the_public_page(app: Flask, election: dict[str, dt.datetime]) -> None:
    mark(app, "NATIONAL", [f"votant.{n}@ac-dijon.fr" for n in range(5)], election["opens"] + dt.timedelta(hours=1))
    page = app.test_client().get("/participation")
    assert page.status_code == 200
    html = text_of(page)
    assert "<h1>Participation</h1>" in html and "Chiffres arrêtés le" in html
    assert "<caption>Participation par scrutin</caption>" in html
    assert re.search(r"<th scope=\"row\">Scrutin de test NATIONAL</th><td>10</td><td>5</td><td>50,0\u00a0%</td>", html)
    assert "Scrutin de test LATER" not in html, "a scrutin not yet open is not shown"
    chart = re.search(r"<bar-chart x='([^']+)' y='([^']+)'", html)
    assert chart and "Scrutin de test NATIONAL" in chart.group(1) and "50.0" in chart.group(2)
    assert "DSFRChart.js" in html
    assert page.headers["Cache-Control"] == "no-store"


def test_the_page_counts_again_only_when_its_copy_is_old(
    app: Flask, election: dict[str, dt.datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = election["now"]
    monkeypatch.setattr(participation, "utcnow", lambda: now)
    client = app.test_client()
    assert "<td>0</td><td>0,0\u00a0%</td>" in text_of(client.get("/participation"))
    mark(app, "NATIONAL", ["votant.0@ac-dijon.fr"], now)
    later = now + dt.timedelta(seconds=app.config["PARTICIPATION_REFRESH"] - 1)
    monkeypatch.setattr(participation, "utcnow", lambda: later)
    assert "<td>1</td><td>10,0\u00a0%</td>" not in text_of(client.get("/participation")), "the kept copy is shown"
    monkeypatch.setattr(
        participation, "utcnow", lambda: now + dt.timedelta(seconds=app.config["PARTICIPATION_REFRESH"])
    )
    assert "<td>1</td><td>10,0\u00a0%</td>" in text_of(client.get("/participation"))


def test_the_chart_components_are_served(app: Flask) -> None:
    page = app.test_client().get("/participation")
    script = re.search(r'src="(/static/dsfr-chart/DSFRChart/DSFRChart\.js[^"]*)"', text_of(page))
    assert script
    served = app.test_client().get(script.group(1))
    try:
        assert served.status_code == 200 and b"customElements.define" in served.data
    finally:
        served.close()
