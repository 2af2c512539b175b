"""The operators' console in Debian's chromium: an operator signs in through the IdP and goes through every page;
each is axe-core clean, readable at 375 px, draws its charts (canvases inside the State's chart components) beside
their tables, and nothing is refused by the Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert, select, update

import operator_console
from idp.audit import record
from idp.db import get_db as idp_db
from idp.models import Voter
from infra.db import get_db as console_db
from infra.store import get_store
from operator_console.figures import portal_engine
from relying_party.db import get_db as portal_db
from relying_party.models import Emargement, RollEntry, Scrutin, utcnow
from tests.e2e import journey
from tests.e2e.browser import Screens
from tests.e2e.servers import Listener, Suite
from tests.helpers import DEFAULT_PASSWORD
from tests.idp.audit.helpers import cli

pytestmark = pytest.mark.parametrize("storage", ["sqlite"], indirect=True)

OPERATOR = "alix.pilotage@pilotage.example.fr"


@pytest.fixture
def console_url(suite: Suite, tmp_path) -> Iterator[str]:
    listener = Listener()
    registered = cli(suite.idp_app, "operators", "console-client", "--url", listener.url)
    assert registered.exit_code == 0, registered.output
    client_id = re.search(r"client_id: (\S+)", registered.output)
    secret = re.search(r"client_secret: (\S+)", registered.output)
    assert client_id and secret
    console = operator_console.create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "e2e-operator-console-secret-key-0123456789",
            "DATABASE_URL": str(suite.idp_app.config["DATABASE_URL"]),
            "PORTAL_DATABASE_URL": str(suite.portal_app.config["DATABASE_URL"]),
            "EPHEMERAL_DATABASE_URL": f"sqlite:///{tmp_path / 'operator-console.sqlite3'}",
            "IDP_ISSUER": suite.idp_url,
            "CLIENT_ID": client_id.group(1),
            "CLIENT_SECRET": secret.group(1),
            "PUBLIC_URL": listener.url,
        }
    )
    listener.serve(console)
    yield listener.url
    listener.close()
    console_db(console).engine.dispose()
    portal_engine(console).dispose()
    get_store(console).close()


def some_activity(suite: Suite) -> None:
    """An operator account (activated), a few votes and audit events, so that the charts have something to draw."""
    assert cli(suite.idp_app, "operators", "add", OPERATOR, "--name", "Alix Pilotage").exit_code == 0
    with suite.idp_app.app_context(), idp_db(suite.idp_app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.identifier == OPERATOR)
            .values(password_hash=suite.idp_app.extensions["idp.hasher"].hash(DEFAULT_PASSWORD), activated_at=utcnow())
        )
        for _ in range(3):
            record(session, "login.password_failed", subject="sujet-fictif")
        record(session, "login.locked", subject="sujet-fictif", scope="identifier")
        record(session, "reassort.requested", subject="sujet-fictif", kind="code", channel="sms")
        record(session, "reassort.link_sent", subject="sujet-fictif", kind="code", channel="sms", link_id=1)
        record(session, "message.sent", message_id=1, channel="sms", purpose="reassort", attempts=1)
    with portal_db(suite.portal_app).sessionmaker() as session, session.begin():
        for code in ("OPEN", "OPEN2"):
            scrutin = session.execute(select(Scrutin.id).where(Scrutin.code == code)).scalar_one()
            voter = session.execute(select(RollEntry.voter_identifier).where(RollEntry.scrutin_id == scrutin)).first()
            assert voter is not None
            session.execute(insert(Emargement).values(scrutin_id=scrutin, voter_identifier=voter[0], voted_at=utcnow()))


def charts_drawn(page: Page, count: int) -> None:
    expect(page.locator(".chart canvas")).to_have_count(count, timeout=15_000)


def test_operator_console_pages(suite: Suite, console_url: str, page: Page, screens: Screens) -> None:
    some_activity(suite)
    page.goto(f"{console_url}/")
    journey.heading(page, "Console des opérateurs")
    screens.check("console-accueil")
    page.get_by_role("link", name="Se connecter").click()
    journey.identifier_step(page, screens, OPERATOR)
    journey.password_step(page, screens)

    expect(page).to_have_url(re.compile(re.escape(console_url) + r"/participation$"))
    journey.heading(page, "Participation")
    expect(page.get_by_text("Opérateur : Alix Pilotage")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Calculé le \d\d/\d\d/\d{4} à \d\d:\d\d"))).to_be_visible()
    expect(page.get_by_role("table", name="Participation par scrutin")).to_be_visible()
    expect(page.get_by_role("table", name=re.compile("Participation par académie"))).to_be_visible()
    charts_drawn(page, 2)
    expect(page.get_by_role("table", name=re.compile("Participation cumulée"))).to_be_visible()
    screens.check("console-participation")

    page.get_by_role("link", name="Connexions").click()
    journey.heading(page, "Connexions")
    failures = page.get_by_role("table", name=re.compile("Échecs par motif"))
    expect(failures.get_by_role("row", name=re.compile("Mot de passe erroné"))).to_contain_text("3")
    charts_drawn(page, 3)
    screens.check("console-connexions")

    page.get_by_role("link", name="Réassort").click()
    journey.heading(page, "Réassort")
    expect(
        page.get_by_role("table", name="Réassort par étape et par canal").get_by_role("row", name=re.compile("^SMS"))
    ).to_contain_text("1")
    charts_drawn(page, 1)
    screens.check("console-reassort")

    page.get_by_role("link", name="Acheminement").click()
    journey.heading(page, "Acheminement des messages")
    expect(page.get_by_role("table", name="File d'attente maintenant")).to_be_visible()
    charts_drawn(page, 1)
    screens.check("console-acheminement")

    page.get_by_role("button", name="Se déconnecter").click()
    journey.heading(page, "Vous êtes déconnecté")
    screens.check("console-deconnexion")
