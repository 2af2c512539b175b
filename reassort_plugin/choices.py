"""The ways of getting a new vote code offered on "Choix du réassort de votre code de vote": an extension point.

The page lists the :class:`Choice` objects registered for the application, in order, separated by « OU ». The
plugin registers the question défi, and :data:`FRANCECONNECT` when the IdP's federation is enabled (see
``plugin.py``); nothing else on the page has to change. Only what works is listed: a route that is not configured
does not register.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

EXTENSION_KEY = "reassort.choices"


@dataclass(frozen=True)
class Choice:
    #: Stable name (``defi``, ``franceconnect``), used as the HTML id.
    key: str
    #: Endpoint the choice leads to (no arguments).
    endpoint: str
    #: The sentence before the link, as in the seed ("Répondre à votre question Défi avec votre réponse secrète :").
    text: str
    #: The link's label ("cliquez ici").
    label: str
    #: A static file (under the plugin's static folder) shown as the link, such as the FranceConnect button.
    image: str | None = None
    #: An explanatory link shown after the choice ("Qu'est-ce que FranceConnect ?"): (label, URL), opened in a new
    #: window (it leaves the portal while the voter is in the middle of a step).
    more: tuple[str, str] | None = None
    #: A template (under ``templates/``) that renders the link itself, given ``choice``: for a button whose
    #: look is part of the choice (FranceConnect's); None for a plain link (or ``image``).
    template: str | None = None


QUESTION_DEFI = Choice(
    key="defi",
    endpoint="reassort.code_request",
    text="Répondre à votre question Défi avec votre réponse secrète :",
    label="cliquez ici",
)

#: The seed's second choice, registered only when the IdP's federation is enabled. The button is the portal's own
#: (an accessible button with its text and a logo drawn for the project), not FranceConnect's artwork.
FRANCECONNECT = Choice(
    key="franceconnect",
    endpoint="reassort.franceconnect_start",
    text="Utiliser les fonctionnalités d'authentification offertes par FranceConnect, en cliquant sur le logo :",
    label="S'identifier avec FranceConnect",
    more=("Qu'est-ce que FranceConnect ?", "https://franceconnect.gouv.fr/"),
    template="reassort/_franceconnect_button.html",
)


def add_choice(app: Flask, choice: Choice) -> None:
    """Offer ``choice`` on the choice page of ``app`` (after those already registered)."""
    choices: list[Choice] = app.extensions.setdefault(EXTENSION_KEY, [])
    if any(existing.key == choice.key for existing in choices):
        raise ValueError(f"réassort choice {choice.key!r} is already registered")
    choices.append(choice)


def current_choices() -> list[Choice]:
    return list(current_app.extensions.get(EXTENSION_KEY, []))
