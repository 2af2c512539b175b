"""Every fault the development provider's scenario file can inject, and the callback's own checks: each ends on a
French page with a stable code and an audit event naming the step and the reason — never a 500, never a session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.federation.errors import FAULTS
from tests.helpers import VoterFactory
from tests.idp.federation.helpers import FederationActions, claire, events, path_of

#: scenario -> (reason, step, detail) expected in the audit event.
SCENARIO_OUTCOMES = {
    "token-500": ("provider_error", "token", "http_500"),
    "token-401": ("provider_error", "token", "oauth:invalid_client"),
    "userinfo-503": ("provider_error", "userinfo", "http_503"),
    "sans-date-naissance": ("incomplete_identity", "identity", "missing:birthdate"),
    "sans-prenoms": ("incomplete_identity", "identity", "missing:given_name"),
    "sans-lieu": ("incomplete_identity", "identity", "missing:birthplace"),
    "refus-usager": ("cancelled", "callback", "oauth:access_denied"),
    "erreur-au-retour": ("provider_error", "callback", "oauth:server_error"),
    "userinfo-signature-invalide": ("invalid_response", "userinfo", "bad_signature"),
    "userinfo-cle-inconnue": ("invalid_response", "userinfo", "unknown_kid"),
    "id-token-signature-invalide": ("invalid_response", "id_token", "bad_signature"),
    "id-token-cle-inconnue": ("invalid_response", "id_token", "unknown_kid"),
}


def assert_refused(
    app: Flask, client: FlaskClient, answer: TestResponse, reason: str, stage: str, detail: str | None = None
) -> dict[str, Any]:
    fault = FAULTS[reason]
    body = answer.get_data(as_text=True)
    assert answer.status_code == fault.status, body[:300]
    assert answer.status_code != 500
    assert fault.title in body
    assert fault.message.split(":")[0].replace("'", "&#39;") in body
    assert fault.code in body
    failed = [e for e in events(app) if e["type"] == "federation.failed"]
    assert failed, "no audit event"
    assert (failed[-1]["reason"], failed[-1]["stage"]) == (reason, stage)
    if detail is not None:
        assert failed[-1]["detail"] == detail
    assert failed[-1]["code"] == fault.code
    assert client.get("/").status_code == 302  # no session was opened
    return failed[-1]


@pytest.mark.parametrize("scenario", SCENARIO_OUTCOMES)
def test_scenario(scenario: str, app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient) -> None:
    claire(voters)
    answer = fc.identify("claire-jullien", scenario)
    reason, stage, detail = SCENARIO_OUTCOMES[scenario]
    event = assert_refused(app, client, answer, reason, stage, detail)
    assert "Revenir à la page de connexion" in answer.get_data(as_text=True)
    serialized = repr(event)
    for personal in ("JULLIEN", "Claire", "1985", "21231"):
        assert personal not in serialized


@pytest.mark.parametrize("scenario", ["token-lent", "userinfo-lent"])
def test_slow_but_in_time(scenario: str, fc: FederationActions, voters: VoterFactory) -> None:
    claire(voters)
    answer = fc.identify("claire-jullien", scenario)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/login/password")


@pytest.mark.parametrize(("scenario", "stage"), [("token-trop-lent", "token"), ("userinfo-trop-lent", "userinfo")])
def test_too_slow(
    scenario: str, stage: str, make_app: Callable[..., Flask], voters: VoterFactory, browser: requests.Session
) -> None:
    app = make_app(FC_HTTP_TIMEOUT=1)
    client = app.test_client()
    claire(voters)
    answer = FederationActions(client, browser).identify("claire-jullien", scenario)
    assert_refused(app, client, answer, "timeout", stage, "timeout")


def test_cancel_on_the_provider_page(
    app: Flask, fc: FederationActions, client: FlaskClient, browser: requests.Session
) -> None:
    started = fc.start()
    page = fc.provider_page(started.headers["Location"])
    from tests.idp.federation.helpers import FC_CSRF_RE

    token = FC_CSRF_RE.search(page.text)
    assert token
    cancelled = browser.post(
        page.url, data={"csrf_token": token.group(1), "action": "annuler"}, allow_redirects=False, timeout=10
    )
    answer = fc.callback(cancelled.headers["Location"])
    assert_refused(app, client, answer, "cancelled", "callback", "oauth:access_denied")


def test_callback_replayed(app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient) -> None:
    """A callback URL used twice (reload, or an attacker who saw it): the second finds no pending login."""
    claire(voters)
    started = fc.start()
    location = fc.pick(started.headers["Location"], "claire-jullien")
    assert fc.callback(location).status_code == 302
    client.get("/login/restart")
    assert_refused(app, client, fc.callback(location), "expired", "callback", "unknown_state")


def test_callback_in_another_browser(app: Flask, fc: FederationActions, voters: VoterFactory) -> None:
    """Login CSRF / code injection: a callback carried to another browser is refused (state bound to the session)."""
    claire(voters)
    started = fc.start()
    location = fc.pick(started.headers["Location"], "claire-jullien")
    other = app.test_client()
    assert_refused(app, other, other.get(path_of(location)), "expired", "callback", "unknown_state")


def test_forged_state(app: Flask, client: FlaskClient) -> None:
    answer = client.get("/federation/franceconnect/callback?state=" + "x" * 43 + "&code=abc")
    assert_refused(app, client, answer, "expired", "callback", "unknown_state")
    answer = client.get("/federation/franceconnect/callback?code=abc")
    assert_refused(app, client, answer, "expired", "callback", "unknown_state")


def test_callback_without_code(app: Flask, fc: FederationActions, client: FlaskClient) -> None:
    started = fc.start()
    state = started.headers["Location"].split("state=")[1].split("&")[0]
    answer = client.get(f"/federation/franceconnect/callback?state={state}")
    assert_refused(app, client, answer, "invalid_response", "callback", "no_code")


def test_answer_from_another_issuer(app: Flask, fc: FederationActions, client: FlaskClient) -> None:
    """RFC 9207: a callback whose iss names another provider is never redeemed (mix-up defence)."""
    started = fc.start()
    state = started.headers["Location"].split("state=")[1].split("&")[0]
    answer = client.get(f"/federation/franceconnect/callback?state={state}&code=abc&iss=https%3A%2F%2Fautre.example")
    assert_refused(app, client, answer, "invalid_response", "callback", "issuer_mismatch")


def test_provider_down(make_app: Callable[..., Flask], client: FlaskClient) -> None:
    """Nothing listens at the issuer: the button leads to a French page, audited, without a redirect."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(FC_ISSUER=f"http://127.0.0.1:{port}/api/v2")
    down = app.test_client()
    answer = down.get("/federation/franceconnect/login")
    assert_refused(app, down, answer, "unavailable", "discovery", "ConnectionError")


def test_expired_code(
    app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient, fc_server: Any
) -> None:
    """The provider's codes live 30 s: one redeemed later is refused by the provider (invalid_grant)."""
    claire(voters)
    started = fc.start()
    location = fc.pick(started.headers["Location"], "claire-jullien")
    provider = fc_server.provider
    real_clock = provider.clock
    provider.clock = lambda: real_clock() + 31
    try:
        answer = fc.callback(location)
    finally:
        provider.clock = real_clock
    assert_refused(app, client, answer, "provider_error", "token", "oauth:invalid_grant")
