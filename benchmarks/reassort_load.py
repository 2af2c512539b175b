"""Journeys of voters who lost their vote code, and of voters who sign out: the fault benchmark's second load.

A réassort journey is the seed's, click by click, over real HTTP (the browser of :mod:`benchmarks.journey_load`):

    sign-in (as a voting journey) → « Je vote » → « Saisie du code de vote » → « Cliquez ici pour obtenir un
    réassort » → « Choix du réassort » → « Demande de réassort du code de vote » (secret answer, NUMEN, a personal
    e-mail or a mobile number) → « Un lien vient de vous être envoyé » → the link, read from what the SMTP server or
    the SMS gateway received → « Générer un code » → « Votre nouveau code de vote » → « J'ai noté mon code » →
    « Saisie du code de vote » with the new code → the ballot → « Votre vote a été enregistré ».

The moment the page says the link was sent is recorded (:class:`LinkPromise`): the fault benchmark matches each one
with a row of the IdP's database and with a message received, and measures how long the link took to arrive.

:func:`sign_out` ends a voting journey with « Se déconnecter » (the portal, then the IdP's end-session endpoint,
then back), which makes the IdP queue a back-channel logout notice for the portal.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp

from benchmarks.journey_load import (
    JourneyFailed,
    JourneyRecord,
    Recorder,
    Target,
    Voter,
    _Browser,
    _cast_with_code,
    _expect_heading,
    _sign_in,
    _vote,
    _vote_code_page,
    form_fields,
)

#: The answer and the NUMEN of the benchmark's voters (:mod:`benchmarks.suite_servers` provisions them so).
SECRET_ANSWER = "Les Canaris de Nulle-Part"
_LINK_RE = re.compile(r"https?://[^\s\"'<>]+/reassort/code/lien/[A-Za-z0-9_\-.~%]+")
_NEW_CODE_RE = re.compile(r'class="reassort-code"><span aria-hidden="true">([A-Z0-9-]+)</span>')
_SENT = "Un lien vient de vous être envoyé"


def numen(voter: Voter) -> str:
    """The NUMEN :func:`benchmarks.suite_servers.provision_idp` gave the voter (from the number in its identifier)."""
    number = int(re.sub(r"\D", "", voter.identifier.split("@")[0]))
    return f"12A{number:07d}ABC"


def destination(voter: Voter, channel: str) -> str:
    """A fictitious personal address or mobile number of the voter's own, so that each link finds its voter."""
    number = int(re.sub(r"\D", "", voter.identifier.split("@")[0]))
    if channel == "email":
        return f"camille.testeur{number}@exemple-personnel.org"
    return f"06 39 98 {number // 100 % 100:02d} {number % 100:02d}"  # ARCEP's block kept for fiction


@dataclass
class LinkPromise:
    """« Un lien vient de vous être envoyé », as a voter read it."""

    voter: str
    channel: str
    destination: str
    promised_at: float  # time.monotonic()
    arrived_at: float | None = None


@dataclass
class Mailbox:
    """What reached the voters: ``messages()`` gives (destination, text) of every e-mail and SMS received so far."""

    messages: Callable[[], list[tuple[str, str]]]
    promises: list[LinkPromise] = field(default_factory=list)

    def links_for(self, where: str) -> list[str]:
        wanted = _comparable(where)
        return [
            html.unescape(link)
            for to, text in self.messages()
            if _comparable(to) == wanted
            for link in _LINK_RE.findall(text)
        ]

    async def wait_link(self, where: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.links_for(where)
            if found:
                return found[-1]
            await asyncio.sleep(0.2)
        return None


def _comparable(address: str) -> str:
    """An e-mail address in lower case; a phone number by its last nine digits (+262 6…, 06…: the same line)."""
    if "@" in address:
        return address.strip().lower()
    digits = re.sub(r"\D", "", address)
    return digits[-9:]


async def reassort_journey(
    http: aiohttp.ClientSession,
    target: Target,
    voter: Voter,
    recorder: Recorder,
    mailbox: Mailbox,
    *,
    channel: str,
    link_wait: float,
) -> JourneyRecord:
    """One voter's réassort, then their vote with the new code (see the module docstring)."""
    record = JourneyRecord(voter.identifier, time.monotonic())
    recorder.journeys.append(record)
    browser = _Browser(http, target, recorder, record)
    try:
        await _sign_in(browser, target, voter)
        page = await _vote_code_page(browser, target)
        code, location = await _reassort(browser, target, voter, mailbox, page, channel, link_wait)
        page, _ = await browser.redirect("idp.vote_code.again", location, expect=200)
        _expect_heading(page, "Saisie du code de vote", "idp.vote_code.again")
        record.receipt = await _cast_with_code(browser, target, page, code)
        record.ok = True
    except JourneyFailed as failure:
        record.error = failure.kind
    record.seconds = time.monotonic() - record.started
    return record


async def _reassort(
    browser: _Browser, target: Target, voter: Voter, mailbox: Mailbox, page: str, channel: str, link_wait: float
) -> tuple[str, str | None]:
    """From « Saisie du code de vote » to the new code: (the code, where « Voter » leads)."""
    idp = target.idp_url
    if "/reassort/code" not in page:
        raise JourneyFailed("unexpected page at idp.vote_code (no réassort link)")
    choice, _ = await browser.get("reassort.choice", f"{idp}/reassort/code")
    _expect_heading(choice, "Choix du réassort de votre code de vote", "reassort.choice")
    form_url = f"{idp}/reassort/code/defi"
    form, _ = await browser.get("reassort.request", form_url)
    _expect_heading(form, "Demande de réassort du code de vote", "reassort.request")
    action, fields = form_fields(form, "/reassort/code/defi", form_url)
    where = destination(voter, channel)
    fields.update(answer=SECRET_ANSWER, identity=numen(voter), channel=channel)
    fields["email" if channel == "email" else "phone"] = where
    sent, _ = await browser.post("reassort.request.post", action, fields, expect=200)
    if _SENT not in sent:
        raise JourneyFailed("unexpected page at reassort.request.post")
    promise = LinkPromise(voter.identifier, channel, where, time.monotonic())
    mailbox.promises.append(promise)
    link = await mailbox.wait_link(where, link_wait)
    if link is None:
        raise JourneyFailed(f"no link by {channel} within {link_wait:g} s")
    promise.arrived_at = time.monotonic()
    if not link.startswith(idp):
        raise JourneyFailed("link to another host")
    opened, _ = await browser.get("reassort.link", link)
    _expect_heading(opened, "Réassort de votre code de vote", "reassort.link")
    action, fields = form_fields(opened, link.split("?")[0].removeprefix(idp), link)
    _, location = await browser.post("reassort.generate", action, fields, expect=303)
    shown, _ = await browser.redirect("reassort.code", location, expect=200)
    _expect_heading(shown, "Votre nouveau code de vote", "reassort.code")
    found = _NEW_CODE_RE.search(shown)
    if found is None:
        raise JourneyFailed("unexpected page at reassort.code (no code)")
    noted_url = urljoin(idp, "/reassort/code/nouveau-code")
    action, fields = form_fields(shown, "/reassort/code/nouveau-code", noted_url)
    fields["noted"] = "y"
    _, location = await browser.post("reassort.noted", action, fields, expect=302)
    return found.group(1), location


async def vote_and_sign_out(
    http: aiohttp.ClientSession, target: Target, voter: Voter, recorder: Recorder
) -> JourneyRecord:
    """A voting journey (as :func:`benchmarks.journey_load.journey`) that ends with « Se déconnecter »."""
    record = JourneyRecord(voter.identifier, time.monotonic())
    recorder.journeys.append(record)
    browser = _Browser(http, target, recorder, record)
    try:
        await _sign_in(browser, target, voter)
        record.receipt = await _vote(browser, target, voter)
        await sign_out(browser, target)
        record.ok = True
    except JourneyFailed as failure:
        record.error = failure.kind
    record.seconds = time.monotonic() - record.started
    return record


async def sign_out(browser: _Browser, target: Target) -> None:
    portal = target.portal_url
    home, _ = await browser.get("portal.home.before_sign_out", f"{portal}/")
    action, fields = form_fields(home, "/deconnexion", portal)
    _, location = await browser.post("portal.sign_out", action, fields)
    for hop in range(6):  # portal → IdP end session → portal /deconnexion/fin → home
        if location is None:
            raise JourneyFailed("no redirect at sign-out")
        status, page, next_location = await browser.request(f"sign_out.{hop}", "GET", location)
        if status == 200:
            if "/connexion" not in page:
                raise JourneyFailed("unexpected page after sign-out")
            return
        if status not in (302, 303):
            raise JourneyFailed(f"HTTP {status} at sign-out")
        location = next_location
    raise JourneyFailed("too many redirects at sign-out")


def feed(voters: Iterable[Voter]) -> Callable[[], Voter | None]:
    iterator = iter(voters)
    return lambda: next(iterator, None)
