"""The portal's own pages of a voter's journey, one by one, in process: where each page's time goes.

    .venv/bin/python -m benchmarks.portal_steps [--journeys 30] [--profile portal.cast [--top 30]] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]

The portal (the real app) on a throw-away SQLite database and the SQL-backed store, or a scratch PostgreSQL
database and Redis (a prefix of the run's own), with the journey benchmark's scrutin (three lists, its election
key from the demo's ceremony) and one voter per journey on its roll. Each journey is the browser's requests to the
portal's own pages, made with Flask's test client in this thread: the anonymous home page, then — the signed-in
session written as the sign-in callback writes it (the callbacks are measured by ``benchmarks.code_grant`` and the
journey benchmark) — the signed-in home page, « Je vote », the ballot's link bouncing to the vote-code step, then —
the vote-code level written as the vote callback writes it, with a new session id — the ballot page, the cast of a
ballot encrypted as the page's script does (its proofs checked by the portal) and the receipt. For each page it
prints the median CPU time of this thread (``time.thread_time``: the portal process's share without the HTTP
server's), the SQL statements and the Redis round trips; ``--profile STEP`` runs cProfile on the thread's CPU
clock during that step (shares, not figures) and prints its ``--top`` functions.

The journey benchmark (``benchmarks.voter_journey --steps``) measures the same pages over real HTTP, the server's
and the databases' processes included, at the cost of more noise on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from benchmarks.journey_load import _ELECTION_RE, _RECEIPT_RE, _VOTE_LINK_RE, form_fields
from benchmarks.request_overhead import portal_app
from benchmarks.steps_common import StepProbe, count_pipelined_statements, print_profile, print_table
from benchmarks.suite_servers import SCRUTIN
from infra.logs import json_handler
from infra.sessions import entry_for, store_key
from relying_party.db import get_db
from relying_party.store import get_store
from votecrypto.ballot import encrypt_ballot

#: The portal's own pages, in the order of a journey (the callbacks and the sign-in's bounce are not the portal's
#: pages: ``portal.connexion``, ``portal.callback``, ``portal.vote_code`` and ``portal.callback.vote``).
STEPS = (
    "portal.home",
    "portal.home.signed_in",
    "portal.je_vote",
    "portal.ballot.step_up",
    "portal.ballot",
    "portal.cast",
    "portal.receipt",
)
VOTE_ACR = "urn:portail-elections:acr:password+vote-code"


class Probe(StepProbe):
    """Per step: this thread's CPU, the SQL statements and the Redis round trips of each request."""

    default_status = 200

    def __init__(self, app: Flask, profile: str | None) -> None:
        super().__init__(profile)
        event.listen(get_db(app).engine, "before_cursor_execute", self._statement)
        count_pipelined_statements(self._statement)  # the audit append's pipeline on PostgreSQL

    def _statement(self, *args: Any) -> None:
        statement = str(args[2]) if len(args) > 2 else ""
        if "portal_ephemeral" not in statement:  # the SQL store's table on SQLite: counted as store round trips
            self.statements += 1
        else:
            self.round_trips += 1


def signed_in(app: Flask, browser: FlaskClient, identifier: str, *, vote_level: bool) -> None:
    """Give ``browser`` a new session holding ``identifier`` signed in (and at the vote-code level), as the
    portal's callbacks write it: a new session id each time, the CSRF secret already in it."""
    now = time.time()
    data: dict[str, Any] = {
        "user": {
            "sub": "bench-" + secrets.token_hex(8),
            "email": identifier,
            "given_name": "Camille",
            "family_name": "Testeur",
            "gender": "female",
            "idp_sid": "bench-sid-" + secrets.token_hex(8),
            "id_token": "bench.id.token",
            "auth_time": int(now),
            "userinfo": {"email": identifier, "given_name": "Camille", "family_name": "Testeur"},
        },
        "csrf_token": secrets.token_hex(20),
    }
    if vote_level:
        data["vote_level"] = {"acr": VOTE_ACR, "amr": ["pwd", "otp"], "auth_time": int(now)}
    sid = secrets.token_urlsafe(32)
    get_store(app).set(store_key(sid), entry_for(data, now, now), 3600)
    browser.set_cookie(str(app.config["SESSION_COOKIE_NAME"]), sid, domain="localhost")


def journey(probe: Probe, app: Flask, identifier: str) -> None:
    """One voter's requests to the portal's own pages, from the home page to the receipt."""
    browser = app.test_client()
    home = probe.step("portal.home", lambda: browser.get("/"))
    if "/connexion" not in home.get_data(as_text=True):
        raise RuntimeError("the anonymous home page has no link to sign in")
    signed_in(app, browser, identifier, vote_level=False)
    probe.step("portal.home.signed_in", lambda: browser.get("/"))
    index = probe.step("portal.je_vote", lambda: browser.get("/je-vote"))
    link = re.search(_VOTE_LINK_RE.format(code=re.escape(SCRUTIN)), index.get_data(as_text=True))
    if link is None:
        raise RuntimeError("« Je vote » has no « Voter » link")
    if "/je-vote/code" not in link.group(1):  # a portal whose « Voter » leads to the ballot, which bounces
        probe.step("portal.ballot.step_up", lambda: browser.get(f"/je-vote/{SCRUTIN}"), 303)
    signed_in(app, browser, identifier, vote_level=True)
    page = probe.step("portal.ballot", lambda: browser.get(f"/je-vote/{SCRUTIN}"))
    text = page.get_data(as_text=True)
    election = {name: match.group(1) for name, pattern in _ELECTION_RE.items() if (match := pattern.search(text))}
    ballot = encrypt_ballot(
        key=bytes.fromhex(election["key"]),
        election=bytes.fromhex(election["election"]),
        nonce=bytes.fromhex(election["nonce"]),
        options=int(election["options"]),
        choice=0,
        proof_format=int(election["format"]),
    )
    _, fields = form_fields(text, f"/je-vote/{SCRUTIN}/bulletin", "http://127.0.0.1")
    fields["ballot"] = json.dumps(ballot.to_json())
    body = urlencode(fields).encode()  # encoded beforehand: the test client's encoding is not the portal's CPU
    form = "application/x-www-form-urlencoded"
    probe.step("portal.cast", lambda: browser.post(f"/je-vote/{SCRUTIN}/bulletin", data=body, content_type=form), 303)
    receipt = probe.step("portal.receipt", lambda: browser.get(f"/je-vote/{SCRUTIN}/recu"))
    if _RECEIPT_RE.search(receipt.get_data(as_text=True)) is None:
        raise RuntimeError("the receipt page shows no receipt")


def report(probe: Probe) -> None:
    print_table(probe.rows, [("SQL", 5, 1), ("store", 6, 2)], width=28)
    medians = [statistics.median(row[0] for row in rows) for rows in probe.rows.values()]
    print(f"the portal's own pages of a journey: {sum(medians):.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=30, help="measured journeys (after 3 to warm up)")
    parser.add_argument("--postgres", help="a scratch database on this PostgreSQL server (dropped at the end)")
    parser.add_argument("--redis", help="the ephemeral store in this Redis (a prefix of the run's own)")
    parser.add_argument("--profile", metavar="STEP", help="cProfile this step (e.g. portal.cast)")
    parser.add_argument("--top", type=int, default=30, help="functions of the profile shown")
    parser.add_argument("--sort", default="tottime", help="the profile's order (pstats: tottime, cumulative)")
    args = parser.parse_args(argv)
    # The request lines go to /dev/null as JSON, at INFO as in production (their cost counts).
    root = logging.getLogger()
    sink = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    root.handlers[:] = [json_handler(sink)]
    root.setLevel(logging.INFO)
    one, five, fifteen = os.getloadavg()
    print(f"portal_steps: load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores")
    voters = [f"banc.portail{n}@ac-exemple.fr" for n in range(args.journeys + 3)]
    with (
        tempfile.TemporaryDirectory(prefix="portal-steps-") as tmp,
        portal_app(Path(tmp), args.postgres, args.redis, voters=voters) as app,
    ):
        probe = Probe(app, args.profile)
        with probe.counting_round_trips():
            for n, identifier in enumerate(voters):
                if n == 3:  # the first journeys fill the caches and compile the templates
                    probe.rows.clear()
                    if probe.profiler is not None:
                        probe.profiler = cProfile.Profile(time.thread_time)
                journey(probe, app, identifier)
        store = "PostgreSQL and Redis" if args.postgres and args.redis else "the embedded default (SQLite)"
        print(f"{args.journeys} journeys one at a time, {store}")
        report(probe)
        if probe.profiler is not None:
            print_profile(probe.profiler, str(args.profile), sort=args.sort, top=args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
