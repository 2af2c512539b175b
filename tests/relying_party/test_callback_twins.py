"""The portal's sign-in callback answered twice redeems its code once (``relying_party.signin.views.claim``).

Through the real IdP (the end-to-end tests' fixture): two callbacks with the same ``state`` at the same time, a late
twin carrying the cookie from before the sign-in, a reload of the callback after it succeeded, and the same on the
vote-code step. Each time the IdP's token endpoint is called once for the code, the IdP records no code reuse and
revokes no token, and the voter ends signed in without a failure message.
"""

from __future__ import annotations

import html
import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from sqlalchemy import select

from idp.db import get_db as idp_db
from idp.models import AuditEvent
from idp.oidc.models import OidcToken
from infra.oidc_client import get_client
from infra.store.interface import StoreUnavailable
from relying_party.signin import views
from relying_party.store import get_store
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA
from tests.relying_party import test_signin_live_idp as live_idp
from tests.relying_party.helpers import CLAIRE
from tests.relying_party.test_signin_live_idp import Browser, Suite

#: The IdP and the portal served on 127.0.0.1, a voter with a vote code (the end-to-end tests' fixture).
suite = live_idp.suite

FAILURES = ("n'a pas abouti", "n'a pas pu être vérifié")


def _token_calls(
    suite: Suite, *, hold: threading.Event | None = None, arrived: threading.Event | None = None
) -> list[str]:
    """The IdP's token requests, counted (one entry each); with ``hold``, each waits for it before it is answered
    (``arrived`` set first)."""
    calls: list[str] = []
    served = suite.idp_app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/token":
            calls.append("/token")
            if arrived is not None:
                arrived.set()
            if hold is not None:
                hold.wait(10)
        return served(environ, start_response)

    suite.idp_app.wsgi_app = counting  # type: ignore[method-assign]
    return calls


def _follow_to_callback(suite: Suite, browser: Browser, answer: requests.Response) -> str:
    """The redirects from ``answer`` up to the portal's callback; its address (not requested)."""
    while not answer.headers["Location"].startswith(f"{suite.portal_url}/connexion/retour"):
        answer = browser.get(urljoin(answer.url, answer.headers["Location"]), allow_redirects=False)
    return answer.headers["Location"]


def _signin_callback(suite: Suite, browser: Browser, next_path: str | None = None) -> str:
    """A sign-in at the IdP's screens up to the code; the callback's address (not requested)."""
    start = browser.get(f"{suite.portal_url}/connexion", params={"next": next_path} if next_path else None)
    password_page = browser.submit(start, "/login", {"identifier": CLAIRE, "captcha": TEST_CAPTCHA})
    answer = browser.submit(password_page, "/login/password", {"password": DEFAULT_PASSWORD}, allow_redirects=False)
    return _follow_to_callback(suite, browser, answer)


def _vote_callback(suite: Suite, browser: Browser) -> str:
    """The vote-code step at the IdP up to the code (the voter signed in); the callback's address."""
    step_up = browser.get(f"{suite.portal_url}/je-vote/OPEN")
    assert "Saisie du code de vote" in html.unescape(step_up.text)
    answer = browser.submit(
        step_up, "/login/vote-code", {"code": suite.vote_code, "captcha": TEST_CAPTCHA}, allow_redirects=False
    )
    return _follow_to_callback(suite, browser, answer)


def _twin_browser(browser: Browser) -> Browser:
    """A browser with ``browser``'s cookies as they are now (the cookie a twin request carries)."""
    twin = Browser()
    twin.http.cookies.update(browser.http.cookies.copy())
    return twin


def _no_reuse(suite: Suite) -> None:
    """The IdP saw no code presented twice and revoked no token."""
    with suite.idp_app.app_context(), idp_db(suite.idp_app).transaction() as session:
        types = list(session.execute(select(AuditEvent.type)).scalars())
        revoked = session.execute(select(OidcToken).where(OidcToken.revoked_at.is_not(None))).scalars().all()
    assert "oidc.code_reused" not in types and "token.issued" in types
    assert revoked == []


def _signed_in_page(page: requests.Response) -> str:
    text = html.unescape(page.text)
    assert "Mme JULLIEN CLAIRE" in text, text[:2000]
    assert not any(failure in text for failure in FAILURES)
    return text


def test_two_callbacks_at_once_exchange_the_code_once(suite: Suite) -> None:
    browser = Browser()
    callback = _signin_callback(suite, browser)
    twin = _twin_browser(browser)
    hold, arrived = threading.Event(), threading.Event()
    calls = _token_calls(suite, hold=hold, arrived=arrived)
    answers: dict[str, requests.Response] = {}
    first = threading.Thread(target=lambda: answers.update(first=browser.get(callback, allow_redirects=False)))
    first.start()
    try:
        assert arrived.wait(10), "the first callback calls the token endpoint"
        # The twin, while the first is at the token endpoint: it does not call it, and sends the browser on to the
        # sign-in, which the IdP's session answers without a screen.
        answers["twin"] = twin.get(callback, allow_redirects=False)
    finally:
        hold.set()
        first.join(10)
    assert calls == ["/token"]
    assert answers["first"].status_code == 302 and answers["first"].headers["Location"] == "/"
    assert answers["twin"].status_code == 302
    assert urlsplit(answers["twin"].headers["Location"]).path == "/connexion"
    # The browser shows the twin's answer, with the cookie it had (the first's may not have reached it).
    shown = twin.get(urljoin(callback, answers["twin"].headers["Location"]))
    assert shown.url == f"{suite.portal_url}/"
    _signed_in_page(shown)
    assert len(calls) == 2, "the sign-in again is a new code, exchanged once"
    _signed_in_page(browser.get(f"{suite.portal_url}/"))  # the first answer's session is signed in too
    _no_reuse(suite)


def test_a_late_twin_with_the_old_cookie_signs_in_without_the_code(suite: Suite) -> None:
    browser = Browser()
    callback = _signin_callback(suite, browser, next_path="/mon-compte")
    twin = _twin_browser(browser)
    calls = _token_calls(suite)
    first = browser.get(callback)
    assert first.url == f"{suite.portal_url}/mon-compte"
    _signed_in_page(browser.get(f"{suite.portal_url}/"))
    assert calls == ["/token"]
    late = twin.get(callback, allow_redirects=False)
    assert late.status_code == 302 and calls == ["/token"], "the twin does not present the code again"
    assert urlsplit(late.headers["Location"]).path == "/connexion"
    shown = twin.get(urljoin(callback, late.headers["Location"]))
    assert shown.url == f"{suite.portal_url}/mon-compte", "where the first led"
    _signed_in_page(twin.get(f"{suite.portal_url}/"))
    _no_reuse(suite)


def test_a_reload_after_success_leads_where_the_callback_led(suite: Suite) -> None:
    browser = Browser()
    callback = _signin_callback(suite, browser, next_path="/mon-compte")
    stranger = Browser()
    calls = _token_calls(suite)
    assert browser.get(callback).url == f"{suite.portal_url}/mon-compte"
    reload = browser.get(callback, allow_redirects=False)
    assert reload.status_code == 302 and reload.headers["Location"] == "/mon-compte"
    _signed_in_page(browser.get(f"{suite.portal_url}/"))
    assert calls == ["/token"]
    # A visitor without the session (the address copied elsewhere) keeps the failure message, and nothing more.
    refused = stranger.get(callback)
    assert refused.url == f"{suite.portal_url}/" and "n'a pas abouti" in html.unescape(refused.text)
    assert "Mme JULLIEN CLAIRE" not in html.unescape(refused.text)
    assert calls == ["/token"]
    _no_reuse(suite)


def test_the_vote_code_callback_twice_exchanges_its_code_once(suite: Suite) -> None:
    browser = Browser()
    _signed_in_page(browser.get(_signin_callback(suite, browser)))
    callback = _vote_callback(suite, browser)
    twin = _twin_browser(browser)
    calls = _token_calls(suite)
    ballot = browser.get(callback)
    assert ballot.url == f"{suite.portal_url}/je-vote/OPEN" and "Bulletin de vote" in ballot.text
    # A reload with the new cookie: the ballot again.
    reload = browser.get(callback)
    assert reload.url == f"{suite.portal_url}/je-vote/OPEN" and "Bulletin de vote" in reload.text
    assert calls == ["/token"]
    # A late twin with the cookie from before the step: the ballot's address, whose page asks for the step again,
    # which the IdP's session, at the level for a few minutes more (``max_age``), answers with a new code.
    late = twin.get(callback, allow_redirects=False)
    assert late.status_code == 302 and late.headers["Location"] == "/je-vote/OPEN"
    assert calls == ["/token"], "the twin does not present the code again"
    again = twin.get(f"{suite.portal_url}/je-vote/OPEN")
    assert again.url == f"{suite.portal_url}/je-vote/OPEN" and "Bulletin de vote" in again.text
    assert not any(failure in html.unescape(again.text) for failure in FAILURES)
    assert len(calls) == 2, "the step again is a new code, exchanged once"
    _no_reuse(suite)


def test_the_store_down_at_the_claim_answers_the_unavailable_page_without_the_code(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser()
    callback = _signin_callback(suite, browser)
    calls = _token_calls(suite)

    def down(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("down")

    monkeypatch.setattr(get_store(suite.portal_app), "add", down)
    answer = browser.get(callback, allow_redirects=False)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "momentanément indisponible" in html.unescape(answer.text)
    assert calls == []


def test_a_claim_outlives_the_pending_authorization(suite: Suite) -> None:
    """A callback is accepted as long as Authlib keeps its state data: its claim lasts at least that long."""
    with suite.portal_app.app_context():
        framework = get_client().framework
        assert views.CLAIM_TTL >= framework.expires_in > 0
