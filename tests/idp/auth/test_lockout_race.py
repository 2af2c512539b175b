"""Lockout under parallel tries: of any number of simultaneous guesses of one secret holder, exactly the threshold
are evaluated, never more, and the right secret sent after the lock is refused — for the password here, the vote
code and the réassort's défi (tests/reassort_plugin/test_lockout_race.py) likewise.

The issue: 30 parallel wrong passwords for one identifier got 8 evaluated with a threshold of 5, and the right
password sent 7th signed in after 7 failures while the lock was already set (lock read, argon2, then count). Each
burst here is released at once by a barrier, from separate browsers (test clients), on SQLite and on PostgreSQL +
Redis. argon2 is given a few milliseconds of work (8 MiB) so that, as in production, many requests are inside the
verification at the same time: with the old order every one of them would have been evaluated.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.models import AuditEvent, Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, AuthActions, VoterFactory, captcha_id_of, csrf_of

THRESHOLD = 5
LOCK_TEXT = "temporairement suspendue"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "LOCKOUT_THRESHOLD": THRESHOLD,
        "VOTECODE_LOCKOUT_THRESHOLD": THRESHOLD,
        "IP_FAILURE_THRESHOLD": 100_000,  # only the per-identifier limit is under test
        "ARGON2_MEMORY_COST": 8192,
    }


def burst(calls: list[Callable[[], TestResponse]]) -> list[TestResponse]:
    """Run every call at the same instant, each in its own thread; their responses, in order."""
    barrier = threading.Barrier(len(calls))
    responses: list[TestResponse | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], TestResponse]) -> None:
        try:
            barrier.wait()
            responses[index] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return [r for r in responses if r is not None]


def event_counts(app: Flask) -> Counter[str]:
    with get_db(app).transaction() as session:
        return Counter(session.execute(select(AuditEvent.type)).scalars())


def password_pages(app: Flask, identifier: str, count: int) -> list[tuple[FlaskClient, str]]:
    """``count`` browsers at the password step of ``identifier``, each with its form's CSRF token."""
    ready = []
    for _ in range(count):
        client = app.test_client()
        assert AuthActions(client).submit_identifier(identifier).status_code == 302
        ready.append((client, csrf_of(client.get("/login/password"))))
    return ready


def post_password(client: FlaskClient, csrf: str, password: str) -> Callable[[], TestResponse]:
    return lambda: client.post("/login/password", data={"csrf_token": csrf, "password": password})


@pytest.mark.parametrize("parallel", [30, 100])
def test_parallel_wrong_passwords_evaluate_exactly_the_threshold(
    app: Flask, voters: VoterFactory, parallel: int
) -> None:
    voter = voters.create()
    before = event_counts(app)
    pages = password_pages(app, voter.identifier, parallel + 1)
    responses = burst([post_password(c, csrf, f"wrong password {n:04}") for n, (c, csrf) in enumerate(pages[:-1])])
    assert [r.status_code for r in responses] == [401] * parallel
    counts = event_counts(app) - before
    assert counts["login.password_failed"] == THRESHOLD, counts
    assert counts["login.throttled"] == parallel - THRESHOLD, counts
    assert counts["login.locked"] == 1, counts
    assert sum(LOCK_TEXT in r.get_data(as_text=True) for r in responses) >= parallel - THRESHOLD + 1
    # The right password, after the lock: refused without being evaluated.
    client, csrf = pages[-1]
    right = post_password(client, csrf, DEFAULT_PASSWORD)()
    assert right.status_code == 401 and LOCK_TEXT in right.get_data(as_text=True)
    counts = event_counts(app) - before
    assert counts["login.succeeded"] == 0 and counts["login.password_failed"] == THRESHOLD


def test_the_right_password_inside_a_burst_signs_in_only_if_its_try_was_reserved(
    app: Flask, voters: VoterFactory
) -> None:
    """29 wrong passwords and the right one, at once: whichever order the store gives them, at most the threshold
    of tries are evaluated before the lock, and the right one succeeds only as one of them."""
    voter = voters.create()
    before = event_counts(app)
    pages = password_pages(app, voter.identifier, 30)
    calls = [post_password(c, csrf, f"wrong password {n:04}") for n, (c, csrf) in enumerate(pages[:-1])]
    calls.append(post_password(*pages[-1], DEFAULT_PASSWORD))
    responses = burst(calls)
    counts = event_counts(app) - before
    signed_in = responses[-1].status_code == 302
    assert counts["login.succeeded"] == int(signed_in)
    # A success resets the count, so a burst that contains it may evaluate one threshold before it and one after.
    assert counts["login.password_failed"] <= 2 * THRESHOLD, counts
    if not signed_in:
        assert counts["login.password_failed"] == THRESHOLD and counts["login.locked"] == 1, counts


@pytest.mark.parametrize("parallel", [30, 100])
def test_parallel_wrong_vote_codes_evaluate_exactly_the_threshold(
    app: Flask, client: FlaskClient, voters: VoterFactory, auth: AuthActions, parallel: int
) -> None:
    voter = voters.create()
    with app.app_context(), get_db(app).transaction() as session:
        code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    assert auth.login(voter.identifier).status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    before = event_counts(app)
    calls = []
    wrong = "".join("23456789ABCDEFGHJKMNPQRSTUVWXYZ"[(i * 7) % 31] for i in range(13))
    for _ in range(parallel):
        page = client.get("/login/vote-code")
        browser = app.test_client()  # another tab of the same signed-in browser
        browser.set_cookie(cookie.key, cookie.value, domain="localhost")
        form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "captcha": TEST_CAPTCHA, "code": wrong}
        calls.append(lambda b=browser, f=form: b.post("/login/vote-code", data=f))
    responses = burst(calls)
    # Wrong codes answered before the lock was set get 401; the one that set it, any answered after it, and every
    # try refused unevaluated get 429.
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {401, 429} and statuses[429] >= parallel - THRESHOLD + 1, statuses
    counts = event_counts(app) - before
    assert counts["votecode.failed"] == THRESHOLD, counts
    assert counts["votecode.throttled"] == parallel - THRESHOLD, counts
    assert counts["votecode.locked"] == 1, counts
    page = client.get("/login/vote-code")
    right = client.post(
        "/login/vote-code",
        data={"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "captcha": TEST_CAPTCHA, "code": code},
    )
    assert right.status_code == 429
    assert (event_counts(app) - before)["votecode.verified"] == 0
