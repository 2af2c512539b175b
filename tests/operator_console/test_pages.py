"""The console's pages without the IdP in the loop (the sign-in has its own end-to-end test): only an operator
account of the IdP gets in (an auditor, a voter, a removed or reset operator get the French 403 page); each page
shows the figures of the IdP's and the portal's databases, with the instant they were counted, kept for REFRESH
seconds for every process; the databases are opened read-only."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from idp.audit import record, register_event_types
from idp.auditors.accounts import add_auditor
from idp.db import get_db
from idp.models import AuditEvent, OutboxMessage, Voter
from idp.operators.accounts import add_operator, remove_operator, reset_operator
from infra.store import get_store
from operator_console.figures import portal_engine
from reassort_plugin.events import EVENT_TYPES as REASSORT_EVENTS
from relying_party.db import get_db as portal_db
from relying_party.models import Emargement, utcnow
from tests.relying_party.helpers import load, scrutin_entry, scrutin_id

OPERATOR = "alix.pilotage@pilotage.example.fr"
PAGES = ["/participation", "/connexions", "/reassort", "/acheminement"]
TITLES = {
    "/participation": "Participation",
    "/connexions": "Connexions",
    "/reassort": "Réassort",
    "/acheminement": "Acheminement des messages",
}


def session_of(console: Flask, sub: str, epoch: int, name: str = "Alix Pilotage") -> FlaskClient:
    client = console.test_client()
    with client.session_transaction() as state:
        state["operator"] = {"sub": sub, "name": name, "epoch": epoch, "signed_in_at": time.time(), "id_token": "x"}
    return client


def signed_in(app: Flask, console: Flask, email: str = OPERATOR) -> FlaskClient:
    """A console client whose session holds an operator account of the IdP (as the sign-in leaves it)."""
    with app.app_context(), get_db(app).transaction() as session:
        account = add_operator(session, email, "Alix Pilotage")
        sub, epoch = account.subject, account.session_epoch
    return session_of(console, sub, epoch)


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def row(page: str, *cells: str) -> bool:
    """Whether the page has a table row with exactly these cells (the first one a row header)."""
    first, *others = cells
    expected = f'<th scope="row">{first}</th>' + "".join(f"<td>{c}</td>" for c in others)
    return expected in page


def test_only_operators_get_in(app: Flask, portal: Flask, make_console) -> None:
    console = make_console()
    anonymous = console.test_client()
    for path in PAGES:
        answer = anonymous.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/connexion?next=")
    assert "Se connecter" in text_of(anonymous.get("/"))

    with app.app_context(), get_db(app).transaction() as session:
        auditor = add_auditor(session, "sacha.controle@audit.example.fr", "Sacha Contrôle")
        auditor_sub, auditor_epoch = auditor.subject, auditor.session_epoch
    refused = session_of(console, auditor_sub, auditor_epoch).get("/participation")
    assert refused.status_code == 403
    assert "réservée aux comptes opérateurs" in text_of(refused) and '<html lang="fr">' in text_of(refused)

    operator = signed_in(app, console)
    for path in PAGES:
        page = operator.get(path)
        assert page.status_code == 200, path
        body = text_of(page)
        assert f"<h1>{TITLES[path]}</h1>" in body and "Calculé le " in body and "(heure de Paris)" in body
        assert "Opérateur : Alix Pilotage" in body and page.headers["Cache-Control"] == "no-store"
    assert operator.get("/").headers["Location"] == "/participation"

    with app.app_context(), get_db(app).transaction() as session:
        reset_operator(session, OPERATOR)
    assert operator.get("/connexions").status_code == 403, "a reset ends the console session"
    assert operator.get("/connexions").status_code == 302, "and the session is gone"

    again = signed_in(app, console, "camille.pilotage@pilotage.example.fr")
    assert again.get("/reassort").status_code == 200
    with app.app_context(), get_db(app).transaction() as session:
        remove_operator(session, "camille.pilotage@pilotage.example.fr")
    assert again.get("/reassort").status_code == 403


def test_a_voter_is_refused(app: Flask, portal: Flask, make_console, voters) -> None:
    voter = voters.create()
    with get_db(app).transaction() as session:
        found = session.get(Voter, voter.id)
        assert found is not None
        sub, epoch = found.subject, found.session_epoch
    answer = session_of(make_console(), sub, epoch).get("/participation")
    assert answer.status_code == 403 and "Accès refusé" in text_of(answer)


ROLL = {
    **{f"votant.{n}@ac-dijon.fr": f"M. VOTANT {n}" for n in range(6)},
    **{f"votante.{n}@ac-besancon.fr": f"Mme VOTANTE {n}" for n in range(4)},
}


def test_turnout_page(app: Flask, portal: Flask, make_console) -> None:
    now = utcnow()
    load(
        portal,
        {
            "version": 1,
            "scrutins": [
                scrutin_entry("NATIONAL", now - dt.timedelta(hours=5), now + dt.timedelta(days=7), roll=ROLL),
                scrutin_entry(
                    "DIJON",
                    now - dt.timedelta(hours=5),
                    now + dt.timedelta(days=7),
                    roll={k: v for k, v in ROLL.items() if "dijon" in k},
                ),
            ],
        },
    )
    national = scrutin_id(portal, "NATIONAL")
    with portal_db(portal).sessionmaker() as session, session.begin():
        session.execute(
            insert(Emargement),
            [
                {"scrutin_id": national, "voter_identifier": v, "voted_at": now - dt.timedelta(hours=2)}
                for v in ("votant.0@ac-dijon.fr", "votant.1@ac-dijon.fr", "votante.0@ac-besancon.fr")
            ],
        )
    console = make_console()
    client = signed_in(app, console)
    page = text_of(client.get("/participation"))
    assert row(page, "Scrutin de test NATIONAL", "10", "3", "30,0\u00a0%")
    assert row(page, "Scrutin de test DIJON", "6", "0", "0,0\u00a0%")
    assert "<h2>Scrutin de test NATIONAL : participation par académie</h2>" in page, "the largest roll first"
    assert row(page, "Besançon", "4", "1", "25,0\u00a0%") and row(page, "Dijon", "6", "2", "33,3\u00a0%")
    hours = re.findall(r'<tr><th scope="row">(\d\d/\d\d \d\dh)</th><td>(\d+)</td>', page)
    assert 5 <= len(hours) <= 7 and hours[-1][1] == "3" and hours[0][1] == "0", hours
    chart = re.search(r"<line-chart x='([^']+)' y='([^']+)'", page)
    assert chart and chart.group(2).startswith("[[") and "30.0" in chart.group(2)
    assert "<bar-chart" in page and "Besan" in page

    besancon = text_of(client.get("/participation?scrutin=NATIONAL&academie=ac-besancon.fr"))
    assert "Scrutin de test NATIONAL, académie Besançon : participation heure par heure" in besancon
    rows = re.findall(r'<tr><th scope="row">\d\d/\d\d \d\dh</th><td>(\d+)</td><td>([^<]+)</td></tr>', besancon)
    assert rows[-1] == ("1", "25,0\u00a0%") and rows[0][0] == "0", rows
    assert '<option value="ac-besancon.fr" selected>Besançon</option>' in besancon
    unknown = text_of(client.get("/participation?scrutin=NATIONAL&academie=ac-nulle-part.fr"))
    assert "Scrutin de test NATIONAL : participation heure par heure" in unknown, "an unknown académie: all of them"

    chosen = text_of(client.get("/participation?scrutin=DIJON"))
    assert "<h2>Scrutin de test DIJON : participation par académie</h2>" in chosen
    assert row(chosen, "Dijon", "6", "0", "0,0\u00a0%") and not row(chosen, "Besançon", "4", "1", "25,0\u00a0%")

    # Counted once per REFRESH for every process: a vote now shows after the kept copy expires.
    with portal_db(portal).sessionmaker() as session, session.begin():
        session.execute(
            insert(Emargement).values(scrutin_id=national, voter_identifier="votant.2@ac-dijon.fr", voted_at=now)
        )
    other_process = make_console()
    assert row(
        text_of(signed_in(app, other_process, "b@pilotage.example.fr").get("/participation")),
        "Scrutin de test NATIONAL",
        "10",
        "3",
        "30,0\u00a0%",
    )
    get_store(console).delete("figures:turnout")
    assert row(text_of(client.get("/participation")), "Scrutin de test NATIONAL", "10", "4", "40,0\u00a0%")


def backdate(app: Flask, event_type: str, minutes: int) -> None:
    with get_db(app).transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.type == event_type)
            .values(occurred_at=utcnow() - dt.timedelta(minutes=minutes))
        )


def test_sign_ins_page(app: Flask, portal: Flask, make_console) -> None:
    with app.app_context(), get_db(app).transaction() as session:
        for _ in range(3):
            record(session, "login.succeeded", subject="sujet-fictif")
        for _ in range(2):
            record(session, "login.password_failed", subject="sujet-fictif")
        record(session, "login.identifier_rejected", reason="captcha")
        record(session, "login.identifier_rejected", reason="format")
        record(session, "votecode.failed", subject="sujet-fictif")
        record(session, "login.locked", subject="sujet-fictif", scope="identifier")
        record(session, "votecode.locked", subject="sujet-fictif", duration=900)
        record(session, "logout", subject="sujet-fictif")
        # Outside the windows: two hours ago for the minutes, two days ago for the lockouts.
        record(session, "login.succeeded", subject="ancien")
    with get_db(app).transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.subject == "ancien")
            .values(occurred_at=utcnow() - dt.timedelta(hours=2))
        )
    client = signed_in(app, make_console())
    page = text_of(client.get("/connexions"))
    assert "3 connexions réussies, 5 échecs" in re.sub(r"\s+", " ", page)
    assert row(page, "Mot de passe erroné, identifiant inconnu ou compte non activé", "2")
    assert row(page, "CAPTCHA erroné ou expiré", "1") and row(page, "Identifiant mal formé", "1")
    assert row(page, "Code de vote erroné", "1")
    assert row(page, "Connexion (identifiant ou adresse)", "1") and row(page, "Code de vote", "1")
    assert row(page, "Réassort", "0")
    minutes = re.findall(r'<tr><th scope="row">(\d\d:\d\d)</th><td>(\d+)</td><td>(\d+)</td></tr>', page)
    assert 60 <= len(minutes) <= 61 and minutes[-1][1:] == ("3", "5")
    assert "<line-chart" in page and "<bar-chart" in page


def test_reassort_page(app: Flask, portal: Flask, make_console) -> None:
    register_event_types(REASSORT_EVENTS)
    with app.app_context(), get_db(app).transaction() as session:
        for channel, requested, sent, opened, generated in (("sms", 3, 2, 1, 1), ("email", 1, 1, 0, 0)):
            for _ in range(requested):
                record(session, "reassort.requested", subject="s", kind="code", channel=channel)
            for n in range(sent):
                record(session, "reassort.link_sent", subject="s", kind="code", channel=channel, link_id=n)
            for n in range(opened):
                record(session, "reassort.link_opened", subject="s", kind="code", channel=channel, link_id=n)
            for n in range(generated):
                record(session, "reassort.code_generated", subject="s", channel=channel, link_id=n)
    page = text_of(signed_in(app, make_console()).get("/reassort"))
    assert row(page, "Courriel", "1", "1", "0", "0") and row(page, "SMS", "3", "2", "1", "1")
    assert row(page, "Total", "4", "3", "1", "1")
    assert "<bar-chart" in page and "Liens ouverts" in page


def test_delivery_page(app: Flask, portal: Flask, make_console) -> None:
    now = utcnow()
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "channel": "email",
                    "purpose": "activation",
                    "status": "pending",
                    "created_at": now - dt.timedelta(minutes=5),
                    "next_attempt_at": now,
                },
                {
                    "channel": "email",
                    "purpose": "activation",
                    "status": "pending",
                    "created_at": now - dt.timedelta(seconds=30),
                    "next_attempt_at": now,
                },
                {
                    "channel": "sms",
                    "purpose": "reassort",
                    "status": "sent",
                    "created_at": now - dt.timedelta(hours=1),
                    "next_attempt_at": now,
                },
            ],
        )
        record(session, "message.sent", message_id=3, channel="sms", purpose="reassort", attempts=1)
        record(session, "message.retry", message_id=1, channel="email", purpose="activation", attempts=1, reason="x")
        record(session, "message.failed", message_id=9, channel="email", purpose="activation", attempts=5, reason="y")
    page = text_of(signed_in(app, make_console()).get("/acheminement"))
    assert re.search(r'<th scope="row">Courriel</th><td>2</td><td>5\u00a0min 0\d\u00a0s</td>', page), page
    assert row(page, "SMS", "0", "–")
    assert "File d'attente en retard : Courriel" in page
    assert row(page, "Courriel", "0", "1", "1") and row(page, "SMS", "1", "0", "0")


def test_the_console_cannot_write(app: Flask, portal: Flask, make_console) -> None:
    console = make_console()
    with pytest.raises((OperationalError, DBAPIError)), portal_engine(console).begin() as connection:
        connection.execute(text("DELETE FROM portal_scrutin"))
    from infra.db import get_db as console_db

    with pytest.raises((OperationalError, DBAPIError)), console_db(console).engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event"))


def test_closed_hours_are_counted_once(app: Flask, portal: Flask, make_console) -> None:
    """The émargement of the closed hours is kept and only the last hour or two is read again at each refresh: a
    row written afterwards into a closed hour (which casting never does) shows only once the kept base is gone."""
    now = utcnow()
    load(
        portal,
        {
            "version": 1,
            "scrutins": [scrutin_entry("NATIONAL", now - dt.timedelta(hours=6), now + dt.timedelta(days=7), roll=ROLL)],
        },
    )
    national = scrutin_id(portal, "NATIONAL")

    def cast(voter: str, at: dt.datetime) -> None:
        with portal_db(portal).sessionmaker() as session, session.begin():
            session.execute(insert(Emargement).values(scrutin_id=national, voter_identifier=voter, voted_at=at))

    cast("votant.0@ac-dijon.fr", now - dt.timedelta(hours=4))
    console = make_console()
    client = signed_in(app, console)
    assert row(text_of(client.get("/participation")), "Scrutin de test NATIONAL", "10", "1", "10,0\u00a0%")
    store = get_store(console)
    assert store.get("figures:turnout-base") is not None

    cast("votant.1@ac-dijon.fr", now)  # the current hour: read at the next refresh
    cast("votant.2@ac-dijon.fr", now - dt.timedelta(hours=5))  # a closed hour: not read again
    store.delete("figures:turnout")
    assert row(text_of(client.get("/participation")), "Scrutin de test NATIONAL", "10", "2", "20,0\u00a0%")
    store.delete("figures:turnout")
    store.delete("figures:turnout-base")
    assert row(text_of(client.get("/participation")), "Scrutin de test NATIONAL", "10", "3", "30,0\u00a0%")
