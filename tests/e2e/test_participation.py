"""The public participation page in Debian's chromium: the State's chart drawn (a canvas inside <bar-chart>) beside
its table, axe-core clean, readable at 375 px, nothing refused by the Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert, select

from relying_party.db import get_db
from relying_party.models import Emargement, RollEntry, Scrutin, utcnow
from tests.e2e.browser import Screens
from tests.e2e.servers import Suite

pytestmark = pytest.mark.parametrize("storage", ["sqlite"], indirect=True)


def test_participation_page(suite: Suite, page: Page, screens: Screens) -> None:
    with get_db(suite.portal_app).sessionmaker() as session, session.begin():
        open_id = session.execute(select(Scrutin.id).where(Scrutin.code == "OPEN")).scalar_one()
        voter = (
            session.execute(select(RollEntry.voter_identifier).where(RollEntry.scrutin_id == open_id)).scalars().first()
        )
        session.execute(insert(Emargement).values(scrutin_id=open_id, voter_identifier=voter, voted_at=utcnow()))
    page.goto(f"{suite.portal_url}/participation")
    expect(page.get_by_role("heading", name="Participation", exact=True)).to_be_visible()
    table = page.get_by_role("table", name="Participation par scrutin")
    expect(table).to_be_visible()
    expect(table.get_by_role("row", name="Scrutin de test OPEN 2 1 50,0")).to_be_visible()
    expect(page.locator("bar-chart canvas")).to_have_count(1, timeout=10_000)
    screens.check("participation")
