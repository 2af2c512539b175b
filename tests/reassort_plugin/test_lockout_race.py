"""The réassort's défi (secret answer + NUMEN/NIR) under parallel tries: exactly the threshold are checked, the
others are refused unchecked, and the right answer after the lock is refused too (see
tests/idp/auth/test_lockout_race.py for the password and the vote code)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import csrf_of
from tests.idp.auth.test_lockout_race import burst, event_counts
from tests.reassort_plugin.helpers import CODE_REQUEST, LOCKED, PERSONAL_EMAIL, ReassortActions

THRESHOLD = 5


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "REASSORT_LOCKOUT_THRESHOLD": THRESHOLD,
        "REASSORT_IP_THRESHOLD": 100_000,
        "ARGON2_MEMORY_COST": 8192,
    }


@pytest.mark.parametrize("parallel", [30, 100])
def test_parallel_wrong_answers_check_exactly_the_threshold(
    app: Flask, client: FlaskClient, signed_in: Any, reassort: ReassortActions, parallel: int
) -> None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    csrf = csrf_of(client.get(CODE_REQUEST))
    before = event_counts(app)
    form = {"csrf_token": csrf, "answer": "Une autre réponse", "identity": "12A3456789ABC", "channel": "email"}
    form["email"] = PERSONAL_EMAIL
    calls = []
    for _ in range(parallel):
        tab = app.test_client()
        tab.set_cookie(cookie.key, cookie.value, domain="localhost")
        calls.append(lambda t=tab: t.post(CODE_REQUEST, data=form))
    responses = burst(calls)
    counts = event_counts(app) - before
    assert counts["reassort.failed"] == THRESHOLD, counts
    assert counts["reassort.throttled"] == parallel - THRESHOLD, counts
    assert counts["reassort.locked"] == 1, counts
    # Every refused try says so, and so does the wrong answer that set the lock (and any answered after it).
    assert sum(LOCKED in r.get_data(as_text=True) for r in responses) >= parallel - THRESHOLD + 1
    right = reassort.ask_code()
    assert LOCKED in right.get_data(as_text=True)
    counts = event_counts(app) - before
    assert counts["reassort.link_sent"] == 0 and counts["reassort.failed"] == THRESHOLD
