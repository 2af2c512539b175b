"""The IdP's steps of a voter's sign-in and vote-code step, one by one, in process: where each step's time goes.

    .venv/bin/python -m benchmarks.idp_steps [--journeys 30] [--profile idp.password.post [--top 30]] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]

The IdP (the real app, argon2id at its production parameters, the fixed CAPTCHA of tests) on a throw-away SQLite
database and the SQL-backed store, or a scratch PostgreSQL database and Redis (a prefix of the run's own). Each
journey is the browser's requests to the IdP, made with Flask's test client in this thread: the authorization
request, the identifier page, its CAPTCHA image, the identifier's POST, the password page and its POST (and the
resume, from an IdP whose POST does not answer with the code); then a second authorization request asking for
the vote-code level, its page, its CAPTCHA image and its POST. For each step it prints the median CPU time of this
thread (``time.thread_time``: what the step costs the IdP's process, without the HTTP server's share, which
``benchmarks.request_overhead`` measures), the SQL statements (SQLAlchemy's ``before_cursor_execute``), the
transactions begun (``BEGIN``, each ended by a ``COMMIT`` or ``ROLLBACK``), the
pool's pings (a round trip each that no statement event sees) and the Redis round trips (commands or pipelines
sent); then the sign-in's sum from the authorization request (and, from an IdP that redirects to the identifier
page, from that page) to the code and its ratio to one argon2id verification measured in the same thread.
``--profile STEP`` runs cProfile on the thread's CPU clock during that step (shares, not figures: it inflates
everything) and prints its ``--top`` functions.

The journey benchmark (``benchmarks.voter_journey --steps``) measures the same steps over real HTTP, the server's
and the databases' processes included, at the cost of more noise on a shared machine.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.test import TestResponse

from benchmarks.oidc_servers import CAPTCHA
from benchmarks.request_overhead import idp_app
from benchmarks.steps_common import StepProbe, count_pipelined_statements, print_profile, print_table
from idp.auth.state import ACR_VOTE_CODE
from idp.config import DEFAULTS
from idp.db import get_db
from idp.models import Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import DEFAULT_PASSWORD, VoterFactory, captcha_id_of, csrf_of
from tests.oidc_helpers import RP, install_keys, make_client, pkce_pair

#: The steps from the identifier page to the code: the password sign-in the goal compares with argon2id.
SIGN_IN = ("idp.login", "idp.captcha", "idp.login.post", "idp.password", "idp.password.post", "idp.authorize.resume")
#: The same from the authorization request: the identifier page may be its answer (then there is no ``idp.login``).
SIGN_IN_FROM_AUTHORIZE = ("idp.authorize", *SIGN_IN)
_FORM_ACTION_RE = re.compile(r'<form[^>]* action="([^"]*)"')


class Probe(StepProbe):
    """Per step: this thread's CPU, the SQL statements, the pool's pings and the Redis round trips of each
    request."""

    def __init__(self, app: Flask, profile: str | None) -> None:
        super().__init__(profile)
        self.pings = 0
        self.begins = 0
        engine = get_db(app).engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "before_cursor_execute", self._begin)
        count_pipelined_statements(self._statement)
        # The pool's pings: a round trip to the database each, which no statement event sees.
        dialect: Any = engine.dialect
        do_ping = dialect.do_ping

        def ping(dbapi_connection: Any) -> Any:
            self.pings += 1
            return do_ping(dbapi_connection)

        dialect.do_ping = ping

    def _reset(self) -> None:
        super()._reset()
        self.pings = self.begins = 0

    def _counts(self) -> tuple[int, ...]:
        return (self.statements, self.pings, self.round_trips, self.begins)

    def _begin(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        """A transaction begun: psycopg sends ``BEGIN`` before a statement on a connection outside autocommit and
        outside a transaction (then ``COMMIT`` or ``ROLLBACK``: two round trips); SQLite's ``BEGIN`` statements."""
        driver = conn.connection.dbapi_connection
        if conn.dialect.name != "postgresql":
            self.begins += statement.split()[0].upper() == "BEGIN"
        elif not driver.autocommit and driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            self.begins += 1


def journey(probe: Probe, browser: FlaskClient, rp: RP, voter: Voter, vote_code: str) -> None:
    """One voter's requests to the IdP: the password sign-in, then the vote-code step."""
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile email academie",
        "state": "banc",
        "nonce": "banc",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    answer = probe.step("idp.authorize", lambda: browser.get("/authorize", query_string=query), (200, 302))
    page = _screen(probe, browser, answer, "idp.login")
    captcha = captcha_id_of(page)
    probe.step("idp.captcha", lambda: browser.get(f"/captcha/{captcha}.png"), 200)
    form = {"csrf_token": csrf_of(page), "identifier": voter.identifier, "captcha_id": captcha, "captcha": CAPTCHA}
    answer = probe.step("idp.login.post", lambda: browser.post("/login", data=form))
    page = probe.step("idp.password", lambda: browser.get(answer.headers["Location"]), 200)
    password = {"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD}
    answer = probe.step("idp.password.post", lambda: browser.post("/login/password", data=password))
    answer = _resumed(probe, browser, answer, "idp.authorize.resume")
    if not answer.headers["Location"].startswith(rp.redirect_uri):
        raise RuntimeError(f"the sign-in did not end at the client: {answer.headers['Location']}")
    answer = probe.step(
        "idp.authorize.vote",
        lambda: browser.get("/authorize", query_string={**query, "acr_values": ACR_VOTE_CODE}),
        (200, 302),
    )
    page = _screen(probe, browser, answer, "idp.vote_code")
    captcha = captcha_id_of(page)
    probe.step("idp.vote_code.captcha", lambda: browser.get(f"/captcha/{captcha}.png"), 200)
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha, "captcha": CAPTCHA, "code": vote_code}
    action = _FORM_ACTION_RE.findall(page.get_data(as_text=True))
    location = html.unescape(next(a for a in action if urlsplit(html.unescape(a)).path == "/login/vote-code"))
    answer = probe.step("idp.vote_code.post", lambda: browser.post(location, data=form))
    answer = _resumed(probe, browser, answer, "idp.authorize.vote.resume")
    if not answer.headers["Location"].startswith(rp.redirect_uri):
        raise RuntimeError(f"the vote-code step did not end at the client: {answer.headers['Location']}")


def _screen(probe: Probe, browser: FlaskClient, answer: TestResponse, step: str) -> TestResponse:
    """The screen the authorization request needs: in its answer, or (from an IdP that redirects to the screen)
    the screen's own page, followed as ``step``."""
    if answer.status_code == 200:
        return answer
    return probe.step(step, lambda: browser.get(answer.headers["Location"]), 200)


def _resumed(probe: Probe, browser: FlaskClient, answer: TestResponse, step: str) -> TestResponse:
    location = answer.headers["Location"]
    if urlsplit(location).path == "/authorize/resume":
        return probe.step(step, lambda: browser.get(location))
    return answer


def argon2id_ms() -> float:
    """CPU milliseconds of one argon2id verification at the production parameters, in this thread."""
    hasher = PasswordHasher(
        time_cost=DEFAULTS["ARGON2_TIME_COST"],
        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
        parallelism=DEFAULTS["ARGON2_PARALLELISM"],
    )
    stored = hasher.hash(DEFAULT_PASSWORD)
    hasher.verify(stored, DEFAULT_PASSWORD)
    started = time.thread_time()
    for _ in range(10):
        hasher.verify(stored, DEFAULT_PASSWORD)
    return (time.thread_time() - started) / 10 * 1000


def report(probe: Probe, argon2: float) -> None:
    columns = [("SQL", 5, 1), ("BEGIN", 6, 4), ("pings", 6, 2), ("Redis", 6, 3)]
    print_table(probe.rows, columns, width=28)
    medians = {name: statistics.median(row[0] for row in rows) for name, rows in probe.rows.items()}
    sign_in = sum(medians.get(name, 0.0) for name in SIGN_IN)
    whole = sum(medians.get(name, 0.0) for name in SIGN_IN_FROM_AUTHORIZE)
    print(f"argon2id {argon2:.2f} ms in this thread; all steps {sum(medians.values()):.2f} ms")
    if "idp.login" in medians:  # from an IdP that redirects to the identifier page
        print(f"the sign-in, identifier page to the code: {sign_in:.2f} ms = {sign_in / argon2:.2f} × argon2id")
    print(f"the sign-in, authorization request to the code: {whole:.2f} ms = {whole / argon2:.2f} × argon2id")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=30, help="measured journeys (after 3 to warm up)")
    parser.add_argument("--postgres", help="a scratch database on this PostgreSQL server (dropped at the end)")
    parser.add_argument("--redis", help="the ephemeral store in this Redis (a prefix of the run's own)")
    parser.add_argument("--profile", metavar="STEP", help="cProfile this step (e.g. idp.password.post)")
    parser.add_argument("--top", type=int, default=30, help="functions of the profile shown")
    args = parser.parse_args(argv)
    one, five, fifteen = os.getloadavg()
    print(f"idp_steps: load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp, idp_app(Path(tmp), args.postgres, args.redis) as app:
        install_keys(app)
        rp = make_client(app)
        factory = VoterFactory(app)
        voters = [factory.create(f"banc.etapes{n}@ac-exemple.fr") for n in range(args.journeys + 3)]
        codes = []
        with get_db(app).transaction() as session:
            for voter in voters:
                codes.append(issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher(app)))
        probe = Probe(app, args.profile)
        with probe.counting_round_trips():
            for n, (voter, code) in enumerate(zip(voters, codes, strict=True)):
                if n == 3:  # the first journeys fill the caches and compile the templates
                    probe.rows.clear()
                journey(probe, app.test_client(), rp, voter, code)
        store = "PostgreSQL and Redis" if args.postgres and args.redis else "the embedded default (SQLite)"
        print(f"{args.journeys} journeys one at a time, {store}, argon2id at the production parameters")
        report(probe, argon2id_ms())
        if probe.profiler is not None:
            print_profile(probe.profiler, str(args.profile), sort="tottime", top=args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
