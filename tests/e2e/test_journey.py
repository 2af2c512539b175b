"""The seed's journey in a real browser (Debian's chromium, headless, driven by Playwright) against the whole suite
served live: the portal, the IdP with the réassort plugin and the FranceConnect federation, the development
FranceConnect provider, a real SMTP server and the delivery worker. Every screen is recorded and checked (see
``tests/e2e/browser.py``): axe-core, 375 px, design system loaded, nothing refused by the CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.browser import Screens
from tests.e2e.servers import Suite
from tests.helpers import DEFAULT_PASSWORD

NEW_PASSWORD = "un autre mot de passe bien long 2026"  # fictitious


def test_seed_journey_with_a_vote_code_reassort_by_question_defi_and_email(
    suite: Suite, page: Page, screens: Screens
) -> None:
    journey.sign_in(page, screens, suite)
    journey.scrutins_and_lists(page, screens)
    journey.je_vote(page, screens, "OPEN")
    link = journey.ask_reassort_by_defi_and_email(page, screens, suite)
    assert link.startswith(f"{suite.idp_url}/reassort/code/lien/"), link
    page.goto(link)
    code = journey.generate_code(page, screens)
    assert code != suite.vote_code
    screens.check("code-de-vote-apres-reassort")
    journey.vote_code_step(page, screens, code)
    journey.vote(page, screens, suite, "OPEN")
    journey.sign_out(page, screens, suite)


def test_the_same_journey_with_the_vote_code_reassort_through_franceconnect(
    suite: Suite, page: Page, screens: Screens
) -> None:
    journey.sign_in(page, screens, suite)
    journey.scrutins_and_lists(page, screens)
    journey.je_vote(page, screens, "OPEN2")
    journey.reassort_through_franceconnect(page, screens)
    code = journey.generate_code(page, screens)
    assert code != suite.vote_code
    journey.vote_code_step(page, screens, code)
    journey.vote(page, screens, suite, "OPEN2")


@pytest.mark.parametrize("storage", ["sqlite"], indirect=True)
def test_signing_out_after_a_franceconnect_reassort(suite: Suite, page: Page, screens: Screens) -> None:
    journey.sign_in(page, screens, suite)
    journey.je_vote(page, screens, "OPEN")
    journey.reassort_through_franceconnect(page, screens)
    journey.generate_code(page, screens)
    page.goto(f"{suite.portal_url}/")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{suite.portal_url}/", timeout=5_000)
    assert not screens.refused, screens.refused


def test_the_password_reassort_then_sign_in_with_the_new_password_and_sign_out(
    suite: Suite, page: Page, screens: Screens
) -> None:
    journey.open_portal(page, screens, suite)
    page.get_by_role("link", name="Accéder au portail Élections").click()
    journey.identifier_step(page, screens)
    link = journey.password_reassort(page, screens, suite)
    assert link.startswith(f"{suite.idp_url}/reassort/mot-de-passe/lien/"), link
    page.goto(link)
    journey.new_password(page, screens, NEW_PASSWORD)
    page.get_by_role("link", name="Se connecter").click()
    journey.identifier_step(page, screens)
    journey.password_step(page, screens, DEFAULT_PASSWORD)
    expect(page.get_by_role("alert")).to_be_visible()  # the old password no longer opens the account
    screens.check("ancien-mot-de-passe-refuse")
    journey.password_step(page, screens, NEW_PASSWORD)
    if not page.url.startswith(suite.portal_url):
        # The password réassort ended every session, the portal's sign-in request with them: start it again.
        page.goto(f"{suite.portal_url}/")
        page.get_by_role("link", name="Accéder au portail Élections").click()
    journey.signed_in_home(page, screens, suite)
    journey.sign_out(page, screens, suite)
