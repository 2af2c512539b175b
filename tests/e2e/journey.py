"""The steps of the seed's journey as a voter takes them in the browser: what they read, what they click.

Every step finds its elements by role and accessible name (or by label) where the page offers one, so a step also
fails when a control loses its name. Each screen reached is handed to :class:`tests.e2e.browser.Screens`.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.browser import Screens
from tests.e2e.servers import CLAIRE, Suite
from tests.helpers import DEFAULT_ANSWER, DEFAULT_PASSWORD, TEST_CAPTCHA
from tests.reassort_plugin.helpers import NUMEN, PERSONAL_EMAIL

WELCOME = "Bienvenue sur votre portail Élections"
REASSORT_LINK = "Cliquez ici pour obtenir un réassort de votre code de vote"
PASSWORD_REASSORT_LINK = "Besoin du réassort de votre mot de passe Élections ?"


def choose(page: Page, label: str | re.Pattern[str]) -> None:
    """Tick a radio button or checkbox as a voter does: on its label (the DSFR draws the box over the input)."""
    page.locator("label", has_text=label).click()
    expect(page.get_by_label(label)).to_be_checked()


def heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def open_portal(page: Page, screens: Screens, suite: Suite) -> None:
    page.goto(f"{suite.portal_url}/")
    heading(page, "Accès au portail Élections")
    screens.check("portail-accueil")


def identifier_step(page: Page, screens: Screens, identifier: str = CLAIRE) -> None:
    """On the IdP's first screen: the identifier, then the CAPTCHA (the test back end's fixed answer)."""
    heading(page, "Accès au portail Élections")
    screens.check("identifiant-et-captcha")
    page.get_by_label("Identifiant", exact=True).fill(identifier)
    page.get_by_label("CAPTCHA", exact=True).fill(TEST_CAPTCHA)
    page.get_by_role("button", name="Connexion").click()
    heading(page, "Saisie du mot de passe Élections")


def password_step(page: Page, screens: Screens, password: str = DEFAULT_PASSWORD) -> None:
    screens.check("mot-de-passe")
    page.get_by_label("Mot de passe Élections", exact=True).fill(password)
    page.get_by_role("button", name="Connexion").click()


def sign_in(page: Page, screens: Screens, suite: Suite, password: str = DEFAULT_PASSWORD) -> None:
    """Portal home → « Accéder au portail Élections » → identifier + CAPTCHA → password → the signed-in home."""
    open_portal(page, screens, suite)
    page.get_by_role("link", name="Accéder au portail Élections").click()
    identifier_step(page, screens)
    password_step(page, screens, password)
    signed_in_home(page, screens, suite)


def signed_in_home(page: Page, screens: Screens, suite: Suite) -> None:
    expect(page).to_have_url(f"{suite.portal_url}/")
    heading(page, WELCOME)
    expect(page.get_by_text("Mme JULLIEN CLAIRE")).to_be_visible()
    expect(page.get_by_text("Fermeture du vote dans")).to_be_visible()
    screens.check("portail-bienvenue")


def scrutins_and_lists(page: Page, screens: Screens) -> None:
    """« Mes scrutins » and the candidate lists (the link of the home page's "Mes scrutins" card)."""
    page.get_by_role("link", name=re.compile(r"Consulter mes scrutins .* et leurs listes de candidats")).click()
    heading(page, "Mes scrutins et leurs listes de candidats")
    expect(page.get_by_role("heading", name="Scrutin de test OPEN", exact=True)).to_be_visible()
    expect(page.get_by_text("Syndicat fictif A").first).to_be_visible()
    closed = page.locator("section.scrutin", has=page.get_by_role("heading", name="Scrutin de test CLOSED"))
    expect(closed.get_by_text("Le vote est clos")).to_be_visible()
    expect(closed.get_by_role("timer")).to_be_hidden()  # no "00 jour 00 heure" under a closed vote
    screens.check("scrutins-et-listes")


def je_vote(page: Page, screens: Screens, scrutin: str) -> None:
    """« Je vote » → « Voter » for ``scrutin``: the portal asks the IdP for the vote-code level."""
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Je vote").click()
    heading(page, "Je vote")
    screens.check("je-vote")
    page.get_by_role("link", name=f"Voter pour le scrutin Scrutin de test {scrutin}", exact=True).click()
    heading(page, "Saisie du code de vote")
    screens.check("code-de-vote")


def ask_reassort_by_defi_and_email(page: Page, screens: Screens, suite: Suite) -> str:
    """From the vote-code page: the réassort by question défi, the link sent by e-mail; the link received."""
    page.get_by_role("link", name=REASSORT_LINK).click()
    heading(page, "Choix du réassort de votre code de vote")
    screens.check("choix-du-reassort")
    page.get_by_role("link", name="cliquez ici", exact=True).click()
    heading(page, "Demande de réassort du code de vote")
    expect(page.get_by_text("Quelle est votre équipe de football préférée ?")).to_be_visible()
    screens.check("demande-de-reassort")
    page.locator("#answer").fill(DEFAULT_ANSWER)
    page.locator("#identity").fill(NUMEN)
    choose(page, re.compile("par E-MAIL"))
    page.locator("#email").fill(PERSONAL_EMAIL)
    before = len(suite.smtp.received)
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("status")).to_contain_text("Un lien vient de vous être envoyé par e-mail")
    screens.check("lien-envoye")
    assert suite.deliver() == 1, "the delivery worker sends the queued e-mail"
    return suite.mail_link(PERSONAL_EMAIL, before)


def generate_code(page: Page, screens: Screens) -> str:
    """« Générer un code » (on the page the link opens) → the new code, noted → back to the vote-code step."""
    heading(page, "Réassort de votre code de vote")
    screens.check("generer-un-code")
    page.get_by_role("button", name="Générer un code").click()
    heading(page, "Votre nouveau code de vote")
    code = page.locator(".reassort-code [aria-hidden='true']").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{5}", code), code
    screens.check("nouveau-code")
    choose(page, "J'ai noté mon code")
    page.get_by_role("button", name="Voter").click()
    heading(page, "Saisie du code de vote")
    return code


def vote_code_step(page: Page, screens: Screens, code: str) -> None:
    page.get_by_label("Code de vote", exact=True).fill(code)
    page.get_by_label("CAPTCHA", exact=True).fill(TEST_CAPTCHA)
    page.get_by_role("button", name="Valider").click()


def vote(page: Page, screens: Screens, suite: Suite, scrutin: str) -> str:
    """The ballot: a list chosen, confirmed, « Voter » (the page encrypts the choice); the receipt's tracking code."""
    expect(page).to_have_url(f"{suite.portal_url}/je-vote/{scrutin}")
    heading(page, "Bulletin de vote")
    screens.check("bulletin")
    choose(page, re.compile("Syndicat fictif A"))
    page.get_by_role("button", name="Valider mon choix").click()
    heading(page, "Confirmation de votre vote")
    screens.check("confirmation")
    page.get_by_role("button", name="Voter", exact=True).click()
    heading(page, "Votre vote a été enregistré")
    receipt = page.locator(".receipt-code").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4}-){12}[A-Z2-7]{4}", receipt), receipt
    screens.check("recu")
    return receipt


def sign_out(page: Page, screens: Screens, suite: Suite) -> None:
    """« Se déconnecter »: the portal's session, then the IdP's (RP-initiated logout), back on the portal."""
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{suite.portal_url}/")
    expect(page.get_by_role("status")).to_contain_text("Vous êtes déconnecté du portail Élections.")
    screens.check("deconnecte")
    page.goto(f"{suite.portal_url}/mon-compte")
    heading(page, "Accès au portail Élections")  # signed out at the IdP too: the identifier is asked again


def reassort_through_franceconnect(page: Page, screens: Screens) -> None:
    """From the vote-code page: the réassort through FranceConnect (the development provider), as Claire."""
    page.get_by_role("link", name=REASSORT_LINK).click()
    heading(page, "Choix du réassort de votre code de vote")
    screens.check("choix-du-reassort")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    heading(page, "Choisir une identité")
    screens.check("franceconnect-choix-identite", ours=False)
    page.get_by_role("button", name="Se connecter en tant que Claire JULLIEN").click()


def password_reassort(page: Page, screens: Screens, suite: Suite) -> str:
    """From the password page: « Besoin du réassort de votre mot de passe Élections ? », by e-mail; the link."""
    page.get_by_role("link", name=PASSWORD_REASSORT_LINK).click()
    heading(page, "Demande de réassort du mot de passe Élections")
    screens.check("demande-reassort-mot-de-passe")
    page.get_by_label("Votre question Défi :").select_option("football_team")
    page.locator("#answer").fill(DEFAULT_ANSWER)
    page.locator("#identity").fill(NUMEN)
    choose(page, re.compile("par E-MAIL"))
    page.locator("#email").fill(PERSONAL_EMAIL)
    before = len(suite.smtp.received)
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("status")).to_contain_text("Un lien vient de vous être envoyé par e-mail")
    screens.check("lien-mot-de-passe-envoye")
    assert suite.deliver() == 1
    return suite.mail_link(PERSONAL_EMAIL, before)


def new_password(page: Page, screens: Screens, password: str) -> None:
    heading(page, "Choix d'un nouveau mot de passe Élections")
    screens.check("nouveau-mot-de-passe")
    page.get_by_label("Nouveau mot de passe Élections", exact=True).fill(password)
    page.get_by_label("Confirmation du mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    heading(page, "Votre mot de passe Élections a été modifié")
    screens.check("mot-de-passe-modifie")
