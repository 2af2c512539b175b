"""Accessibility of the journey beyond what axe-core sees (RGAA 4 / WCAG 2.1 AA), in the real browser:

* the sign-in, the vote-code step and the ballot completed with the keyboard alone, every control reached with Tab
  showing where the focus is;
* the audio CAPTCHA reachable with the keyboard and playable (a real WAV file, an <audio> element with controls);
* errors tied to their fields (aria-invalid, aria-describedby naming the error text: the accessible description);
* the countdown not announced every second (its figures are a role="timer", never live; the polite status region
  speaks only at the thresholds);
* the pages work without JavaScript.

These check the markup, not the storage: they run on the SQLite back end only (the journeys run on both).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import journey
from tests.e2e.browser import Screens, chromium_context
from tests.e2e.servers import CLAIRE, Suite
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA

pytestmark = pytest.mark.parametrize("storage", ["sqlite"], indirect=True)

#: What the focused element is, and whether the browser draws a focus indicator around it.
_FOCUSED = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  // The ring is drawn on the element, on its ::before (the DSFR's enlarged links), on its label's ::before (the
  // DSFR's radio buttons and checkboxes), or around an enclosing block.
  const drawn = (node, pseudo) => {
    const style = getComputedStyle(node, pseudo);
    return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none";
  };
  let ring = drawn(el, "::before") || drawn(el, "::after");
  const label = el.id ? document.querySelector(`label[for="${el.id}"]`) : null;
  ring = ring || (label !== null && (drawn(label, "::before") || drawn(label, null)));
  for (let node = el, depth = 0; !ring && node && node !== document.body && depth < 4; depth++) {
    ring = drawn(node, null);
    node = node.parentElement;
  }
  return {tag: el.tagName.toLowerCase(), id: el.id, type: el.getAttribute("type") || "",
          text: (el.innerText || el.value || el.getAttribute("aria-label") || "").replace(/\s+/g, " ").trim(),
          outline: ring};
}"""


def tab_to(page: Page, wanted: str, *, limit: int = 60) -> list[dict[str, str | bool]]:
    """Press Tab until the focused element matches ``wanted`` (tag#id, or text); the elements passed on the way.

    Every element reached must show its focus (RGAA 10.7: an outline drawn by the DSFR or the browser)."""
    passed: list[dict[str, str | bool]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused is None:
            continue
        passed.append(focused)
        assert focused["outline"] or focused["tag"] == "audio", f"no visible focus on {focused} ({page.url})"
        if wanted in (f"{focused['tag']}#{focused['id']}", focused["text"]):
            return passed
    raise AssertionError(f"{wanted!r} not reached with Tab on {page.url}: {passed}")


def test_sign_in_vote_code_and_ballot_with_the_keyboard_alone(suite: Suite, page: Page, screens: Screens) -> None:
    page.goto(f"{suite.portal_url}/")
    tab_to(page, "Accéder au portail Élections")
    page.keyboard.press("Enter")
    journey.heading(page, "Accès au portail Élections")

    tab_to(page, "input#identifier")
    page.keyboard.type(CLAIRE)
    on_the_way = tab_to(page, "input#captcha")
    assert any(f["tag"] == "audio" for f in on_the_way), "the audio CAPTCHA player is reached with Tab"
    assert any(str(f["text"]).startswith("Écouter le CAPTCHA") for f in on_the_way)
    page.keyboard.type(TEST_CAPTCHA)
    page.keyboard.press("Enter")
    journey.heading(page, "Saisie du mot de passe Élections")

    tab_to(page, "input#password")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    journey.heading(page, journey.WELCOME)

    # « Je vote » in the menu, « Voter » for a scrutin, the vote code of the notice: still the keyboard alone.
    tab_to(page, "Je vote")
    page.keyboard.press("Enter")
    journey.heading(page, "Je vote")
    tab_to(page, "Voter pour le scrutin Scrutin de test OPEN")
    page.keyboard.press("Enter")
    journey.heading(page, "Saisie du code de vote")
    tab_to(page, "input#code")
    page.keyboard.type(suite.vote_code)
    tab_to(page, "input#captcha")
    page.keyboard.type(TEST_CAPTCHA)
    page.keyboard.press("Enter")
    journey.heading(page, "Bulletin de vote")

    # The radio group: Tab enters it, the arrow keys move the choice, Space ticks it.
    tab_to(page, "input#choix-0")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#choix-1")).to_be_checked()
    tab_to(page, "Valider mon choix")
    page.keyboard.press("Enter")
    journey.heading(page, "Confirmation de votre vote")
    expect(page.get_by_role("status")).to_contain_text("Union imaginaire B")
    tab_to(page, "Voter")
    page.keyboard.press("Enter")
    journey.heading(page, "Votre vote a été enregistré")
    screens.check("recu-au-clavier")


def test_the_audio_captcha_is_reachable_and_playable(suite: Suite, page: Page) -> None:
    page.goto(f"{suite.idp_url}/login")
    audio = page.locator("audio")
    expect(audio).to_have_attribute("controls", "")
    expect(audio).to_have_accessible_name("CAPTCHA audio : les chiffres à recopier")
    source = audio.get_attribute("src")
    assert source is not None
    link = page.get_by_role("link", name="Écouter le CAPTCHA (version audio, fichier WAV)")
    assert link.get_attribute("href") == source

    wav = page.request.get(urljoin(page.url, source))
    assert wav.status == 200 and wav.headers["content-type"] == "audio/wav"
    body = wav.body()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and len(body) > 10_000

    duration = page.evaluate(
        """(a) => new Promise((resolve) => {
      a.addEventListener("loadedmetadata", () => resolve(a.duration), {once: true});
      a.addEventListener("error", () => resolve(-1), {once: true});
      a.load();
    })""",
        audio.element_handle(),
    )
    assert duration > 1, f"the browser decodes the CAPTCHA's audio ({duration} s)"
    played = page.evaluate(
        "(a) => { a.muted = true; return a.play().then(() => !a.paused, () => false); }", audio.element_handle()
    )
    assert played, "the player starts"
    audio.focus()
    assert page.evaluate("document.activeElement.tagName") == "AUDIO"


def test_errors_are_tied_to_their_fields(suite: Suite, page: Page, screens: Screens) -> None:
    journey.open_portal(page, screens, suite)
    page.get_by_role("link", name="Accéder au portail Élections").click()
    page.get_by_role("button", name="Connexion").click()
    for name in ("Identifiant", "CAPTCHA"):
        field = page.get_by_label(name, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        described = field.get_attribute("aria-describedby") or ""
        error_id = next(i for i in described.split() if i.endswith("-error"))
        error = page.locator(f"#{error_id}")
        expect(error).to_be_visible()
        expect(field).to_have_accessible_description(re.compile(re.escape(error.inner_text().strip())))
    screens.check("identifiant-erreurs")

    # The vote-code step and the ballot, after signing in.
    journey.identifier_step(page, screens)
    journey.password_step(page, screens)
    journey.je_vote(page, screens, "OPEN")
    page.get_by_role("button", name="Valider").click()
    code = page.get_by_label("Code de vote", exact=True)
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(code).to_have_accessible_description(re.compile("Ce champ est obligatoire"))
    screens.check("code-de-vote-erreurs")
    journey.vote_code_step(page, screens, suite.vote_code)
    journey.heading(page, "Bulletin de vote")
    page.get_by_role("button", name="Valider mon choix").click()
    group = page.get_by_role("group", name=re.compile("Votre choix"))
    expect(group).to_have_accessible_description(re.compile("Choisissez"))
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient 1 erreur(s)")
    screens.check("bulletin-erreur")


def test_the_countdown_is_not_announced_every_second(suite: Suite, page: Page, screens: Screens) -> None:
    page.clock.install()
    journey.sign_in(page, screens, suite)
    timer = page.get_by_role("timer")
    assert timer.get_attribute("aria-live") in (None, "off"), "a timer is never live"
    assert page.evaluate("(t) => t.closest('[aria-live]:not([aria-live=off])') === null", timer.element_handle())
    status = page.locator("[data-countdown-status]")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_text("")
    # Count what the live regions would say while the countdown runs.
    page.evaluate("""() => {
      window.__announced = [];
      for (const region of document.querySelectorAll('[aria-live]:not([aria-live=off]), [role=status], [role=alert]')) {
        new MutationObserver(() => window.__announced.push(region.textContent.trim()))
          .observe(region, {childList: true, characterData: true, subtree: true});
      }
    }""")
    expect(page.locator("[data-countdown]").first.locator('[data-label="days"]')).to_have_text("jours")  # 7 days
    minutes = page.locator('[data-unit="minutes"]').inner_text()
    page.clock.fast_forward("03:00")  # three minutes of ticks: the figures move, nobody is told
    expect(page.locator('[data-unit="minutes"]')).not_to_have_text(minutes)
    assert page.evaluate("window.__announced") == []

    closes_at = dt.datetime.fromisoformat(page.locator("[data-countdown]").get_attribute("data-closes-at") or "")
    now = dt.datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, dt.UTC)
    page.clock.fast_forward(int((closes_at - now - dt.timedelta(minutes=59)).total_seconds() * 1000))
    expect(status).to_have_text("Fermeture du vote dans une heure.")
    assert page.evaluate("window.__announced") == ["Fermeture du vote dans une heure."], "one announcement"
    # The script keeps the words in French plurals as the figures move (« 00 jour 00 heure 59 minutes »): 0 and 1
    # take the singular.
    section = page.locator("[data-countdown]").first
    expect(section.locator('[data-unit="days"]')).to_have_text("00")
    for unit, one, other in (("days", "jour", "jours"), ("hours", "heure", "heures"), ("minutes", "minute", "minutes")):
        value = int(section.locator(f'[data-unit="{unit}"]').inner_text())
        expect(section.locator(f'[data-label="{unit}"]')).to_have_text(one if value < 2 else other)


def test_the_pages_work_without_javascript(suite: Suite, browser: Browser) -> None:
    with chromium_context(browser, javascript=False) as context:
        page = context.new_page()
        page.goto(f"{suite.portal_url}/")
        page.get_by_role("link", name="Accéder au portail Élections").click()
        page.get_by_label("Identifiant", exact=True).fill(CLAIRE)
        page.get_by_label("CAPTCHA", exact=True).fill(TEST_CAPTCHA)
        page.get_by_role("button", name="Connexion").click()
        page.get_by_label("Mot de passe Élections", exact=True).fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Connexion").click()
        journey.heading(page, journey.WELCOME)
        expect(page.get_by_text("Fermeture du vote dans")).to_be_visible()  # the countdown, rendered by the server
        # The ballot cannot be encrypted without JavaScript: the page says so and what to do, and offers no choice.
        page.goto(f"{suite.portal_url}/je-vote/OPEN")
        page.get_by_label("Code de vote", exact=True).fill(suite.vote_code)
        page.get_by_label("CAPTCHA", exact=True).fill(TEST_CAPTCHA)
        page.get_by_role("button", name="Valider").click()
        journey.heading(page, "Bulletin de vote")
        expect(page.get_by_role("heading", name="Le vote nécessite JavaScript")).to_be_visible()
        expect(page.get_by_text("activez JavaScript dans votre navigateur")).to_be_visible()
        expect(page.get_by_role("radio")).to_have_count(0)
        expect(page.get_by_role("button", name="Voter", exact=True)).to_have_count(0)
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("status")).to_contain_text("Vous êtes déconnecté du portail Élections.")


def test_the_checker_reports_what_it_must(suite: Suite, page: Page, screens: Screens) -> None:
    """The screen checks fail when they should: a field without its label is a critical axe violation."""
    page.goto(f"{suite.idp_url}/login")
    assert screens.axe() == []
    page.evaluate("document.querySelector('label[for=identifier]').remove()")
    found = {(v["id"], v["impact"]) for v in screens.axe()}
    assert ("label", "critical") in found, found


def _take_the_only_slot(suite: Suite) -> None:
    """A waiting room of one journey, taken by another voter."""
    import requests

    suite.portal_app.config["WAITING_ROOM_CAPACITY"] = 1
    assert requests.get(f"{suite.portal_url}/connexion", allow_redirects=False, timeout=10).status_code == 302


def test_the_waiting_room_is_accessible(
    suite: Suite, page: Page, screens: Screens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """« Salle d'attente », checked like every screen (axe-core, the DSFR, 1280 and 375 px)."""
    from relying_party.signin import admission

    # The page asks again every 2 s when the voter is next; the checks below (axe, four screenshots) take longer than
    # that on a loaded machine, and the refresh's navigation would pull the page from under them. The same page,
    # asking every 2 minutes (the portal runs in this process).
    monkeypatch.setattr(admission, "MIN_REFRESH", 120)
    _take_the_only_slot(suite)
    page.goto(f"{suite.portal_url}/")
    page.get_by_role("link", name="Accéder au portail Élections").click()
    journey.heading(page, "Salle d'attente")
    expect(page.get_by_role("status")).to_contain_text("Vous êtes n° 1 dans la file d'attente.")
    expect(page.get_by_role("status")).to_contain_text("Temps d'attente estimé")
    # axe-core reports any meta refresh under 20 hours (WCAG 2.2.1, RGAA 13.1). RGAA 13.1.1 accepts one that the
    # voter can make at least ten times slower: « Actualiser moins souvent » does (10 × the interval, checked in
    # tests/relying_party/test_waiting_room.py), and « Actualiser maintenant » asks at once.
    expect(page.get_by_role("link", name="Actualiser moins souvent")).to_be_visible()
    screens.check("salle-d-attente", accepted=("meta-refresh",))


def test_the_waiting_room_lets_the_voter_in_by_itself_without_javascript(suite: Suite, browser: Browser) -> None:
    """No JavaScript, no click: the page asks again by itself (meta refresh) and leads to the sign-in once a slot
    is free."""
    from relying_party.signin.admission import room

    _take_the_only_slot(suite)
    with chromium_context(browser, javascript=False) as context:
        page = context.new_page()
        page.goto(f"{suite.portal_url}/connexion")
        journey.heading(page, "Salle d'attente")
        expect(page.get_by_role("status")).to_contain_text("Vous êtes n° 1 dans la file d'attente.")
        with suite.portal_app.app_context():
            room().clear()  # every journey ended: the room is empty
        expect(page.get_by_role("heading", level=1)).to_have_text("Accès au portail Élections", timeout=30_000)
