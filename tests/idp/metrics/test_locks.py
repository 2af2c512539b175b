"""The vote-code step's and the réassort's failures and locks in the metrics."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import AuthActions, VoterFactory
from tests.idp.votecode.test_step import issue, submit
from tests.metrics_helpers import value
from tests.reassort_plugin.helpers import ReassortActions


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "PLUGINS": "reassort",
        "VOTECODE_LOCKOUT_THRESHOLD": 3,
        "REASSORT_LOCKOUT_THRESHOLD": 3,
        "REASSORT_IP_THRESHOLD": 50,
    }


def test_wrong_vote_codes_then_the_lock(
    app: Flask, client: FlaskClient, voters: VoterFactory, auth: AuthActions
) -> None:
    voter = voters.create()
    assert auth.login(voter.identifier).status_code == 302
    issue(app, voter)

    def steps(outcome: str) -> float:
        return value("elections_votecode_steps_total", outcome=outcome)

    failed, rejected, throttled = steps("failed"), steps("rejected"), steps("throttled")
    locks = value("elections_lockouts_total", kind="vote_code", scope="voter")
    captcha_wrong = value("elections_captcha_checks_total", app="idp", outcome="wrong")
    assert submit(client, "ABCD-EFGH-JKMNP", captcha="00000").status_code == 400  # the CAPTCHA first: not counted
    assert steps("rejected") == rejected + 1
    assert value("elections_captcha_checks_total", app="idp", outcome="wrong") == captcha_wrong + 1
    for _ in range(3):
        submit(client, "ABCD-EFGH-JKMNP")
    assert steps("failed") == failed + 3
    assert value("elections_lockouts_total", kind="vote_code", scope="voter") == locks + 1
    assert submit(client, "ABCD-EFGH-JKMNP").status_code == 429
    assert steps("throttled") == throttled + 1


def test_reassort_failures_and_the_lock(client: FlaskClient, voters: VoterFactory, auth: AuthActions) -> None:
    assert auth.login(voters.create().identifier).status_code == 302
    reassort = ReassortActions(client)

    def requests(outcome: str) -> float:
        return value("elections_reassort_requests_total", kind="code", channel="email", outcome=outcome)

    failed, throttled = requests("failed"), requests("throttled")
    locks = value("elections_reassort_lockouts_total", scope="voter")
    sent = value("elections_reassort_links_sent_total", kind="code", channel="email")
    for _ in range(3):
        reassort.ask_code(answer="non")
    assert requests("failed") == failed + 3
    assert value("elections_reassort_lockouts_total", scope="voter") == locks + 1
    assert reassort.ask_code().status_code == 429
    assert requests("throttled") == throttled + 1
    assert value("elections_reassort_links_sent_total", kind="code", channel="email") == sent, "no link"
