"""The FranceConnect provider down, or answering in 10 s: the FranceConnect button leads to the IdP's French page
(FC-01, FC-02) within 5 s, with its audit event — never a browser left waiting on the provider — and the password
sign-in goes on as if nothing happened."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask

from idp.federation import provider
from idp.federation.errors import FAULTS
from tests.helpers import AuthActions, VoterFactory
from tests.idp.federation.conftest import FcServer
from tests.idp.federation.helpers import LOGIN_PATH, events


def press_the_button(app: Flask) -> tuple[float, str, int]:
    client = app.test_client()
    started = time.monotonic()
    answer = client.get(LOGIN_PATH)
    return time.monotonic() - started, answer.get_data(as_text=True), answer.status_code


def assert_french_page(app: Flask, took: float, body: str, status: int, reason: str) -> None:
    fault = FAULTS[reason]
    assert took < 5, f"answered after {took:.1f} s"
    assert status == fault.status
    assert fault.title in body and fault.code in body
    failed = [event for event in events(app) if event["type"] == "federation.failed"]
    assert (failed[-1]["reason"], failed[-1]["stage"]) == (reason, "discovery")


def test_a_provider_that_went_down_gets_the_french_page_at_once(
    make_app: Callable[..., Flask], fc_server: FcServer, voters: VoterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(FC_HTTP_TIMEOUT=4)
    took, _, status = press_the_button(app)
    assert status == 302, "the provider answers: the voter is sent there"
    fc_server.stop()
    monkeypatch.setattr(provider, "REACHABLE_TTL", 0.0)  # its last answer is now older than 30 s
    took, body, status = press_the_button(app)
    assert_french_page(app, took, body, status, "unavailable")
    voter = voters.create()
    assert AuthActions(app.test_client()).login(voter.identifier).status_code == 302, "password sign-in unaffected"


def test_a_provider_answering_in_ten_seconds_gets_the_french_page_within_five(
    make_app: Callable[..., Flask], fc_server: FcServer, voters: VoterFactory
) -> None:
    app = make_app(FC_HTTP_TIMEOUT=4)
    fc_server.stall = 10
    took, body, status = press_the_button(app)
    assert_french_page(app, took, body, status, "timeout")
    voter = voters.create()
    assert AuthActions(app.test_client()).login(voter.identifier).status_code == 302, "password sign-in unaffected"
