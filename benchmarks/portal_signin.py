"""The portal's side of the two sign-ins, one step at a time, in process: what each step costs the portal.

    .venv/bin/python -m benchmarks.portal_signin [--journeys 30] [--profile portal.callback [--top 30]] \\
        [--postgres private | --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The IdP runs as deployed (granian, 1 worker × 4 threads, argon2id at its production parameters, the fixed CAPTCHA
of tests) in a process of its own; the portal (the real app) is called in this thread through Flask's test client,
so that what is measured is the portal's work alone: its CPU (``time.thread_time`` of this thread, the client side
of its calls to the IdP's token and userinfo endpoints included, the IdP's side not), its SQL statements
(SQLAlchemy's ``before_cursor_execute``) and its Redis round trips (commands or pipelines sent). The browser's
requests to the IdP (its sign-in screens, the vote-code page) are made between the measured steps.

Storage as in ``benchmarks.voter_journey`` (:func:`benchmarks.suite_servers.storage`): SQLite files by default;
``--postgres private`` a PostgreSQL cluster and a Redis of the run's own; a server URL scratch databases there (and
a private Redis). Each journey: ``/connexion`` (the sign-in's authorization request), the IdP's screens, the
callback (``/connexion/retour``: the code exchanged, the ID token checked, userinfo read, the sign-in audited, the
new session), then ``/je-vote/code?next=/je-vote/BENCH`` (the vote-code authorization request, where « Voter »
leads without the level), the IdP's vote-code page, the vote-code callback (the code exchanged, the ID token's
level checked, the step audited, a new session id). ``--profile STEP`` runs cProfile on the
thread's CPU clock during that step (shares, not figures: it inflates everything) and prints its ``--top``
functions.

Instruction counts, repeatable on a loaded machine: ``valgrind --tool=callgrind --toggle-collect=_operator_call``
counts the measured steps alone (each is called through :func:`operator.call`, which nothing else here calls); the
difference between two runs with different ``--journeys`` gives the steps of that many journeys without the
warm-up's.

``benchmarks.voter_journey --steps`` measures the same steps over real HTTP (granian's share and the databases'
processes included), with more noise on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from benchmarks.journey_load import form_fields
from benchmarks.oidc_servers import _stop, _wait_http, free_port
from benchmarks.steps_common import StepProbe, count_pipelined_statements, print_profile, print_table
from benchmarks.suite_servers import (
    CAPTCHA,
    PASSWORD,
    SCRUTIN,
    _start,
    idp_environment,
    portal_environment,
    provision_idp,
    provision_portal,
    stop_signal_handlers,
    storage,
)
from benchmarks.web_servers import SERVERS

#: The portal's steps of a journey's two sign-ins, in order.
STEPS = ("portal.connexion", "portal.callback", "portal.vote_code", "portal.callback.vote")
_CAPTCHA_RE = re.compile(r'<img[^>]*src="([^"]*/captcha/[^"]+)"')


class Probe(StepProbe):
    """Per step: this thread's CPU, the portal's SQL statements and its Redis round trips."""

    def __init__(self, app: Flask, profile: str | None) -> None:
        from relying_party.db import get_db

        super().__init__(profile)
        event.listen(get_db(app).engine, "before_cursor_execute", self._statement)
        count_pipelined_statements(self._statement)  # the audit append's pipeline on PostgreSQL


def _local(url: str) -> str:
    """The path and query of one of the portal's addresses (the test client's request)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _captcha(idp: requests.Session, page: requests.Response) -> None:
    found = _CAPTCHA_RE.search(page.text)
    if found is None:
        raise RuntimeError(f"no CAPTCHA image on {page.url}")
    idp.get(urljoin(page.url, found.group(1).replace("&amp;", "&")), timeout=30).raise_for_status()


def _to_portal(idp: requests.Session, response: requests.Response, portal_url: str) -> str:
    """Follow the IdP's redirects until one leaves for the portal: that address."""
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(portal_url):
            return location
        response = idp.get(location, allow_redirects=False, timeout=30)
    raise RuntimeError(f"the IdP did not send the browser back to the portal ({response.status_code} {response.url})")


def journey(probe: Probe, portal: FlaskClient, portal_url: str, identifier: str, vote_code: str) -> None:
    """One voter's two sign-ins: the portal's requests measured, the IdP's made between them."""
    idp = requests.Session()
    try:
        answer = probe.step("portal.connexion", lambda: portal.get("/connexion"))
        page = idp.get(answer.headers["Location"], timeout=30)
        if "Accès au portail Élections" not in page.text:
            raise RuntimeError(f"unexpected page at the IdP's sign-in: {page.url}")
        _captcha(idp, page)
        action, fields = form_fields(page.text, "/login", page.url)
        page = idp.post(action, data={**fields, "identifier": identifier, "captcha": CAPTCHA}, timeout=30)
        action, fields = form_fields(page.text, "/login/password", page.url)
        sent = idp.post(action, data={**fields, "password": PASSWORD}, allow_redirects=False, timeout=30)
        callback = _to_portal(idp, sent, portal_url)
        answer = probe.step("portal.callback", lambda: portal.get(_local(callback)))
        if answer.headers["Location"] != "/":
            raise RuntimeError(f"the sign-in callback did not sign in: {answer.headers['Location']}")
        ballot = f"/je-vote/{SCRUTIN}"
        answer = probe.step("portal.vote_code", lambda: portal.get("/je-vote/code", query_string={"next": ballot}))
        page = idp.get(answer.headers["Location"], timeout=30)
        if "Saisie du code de vote" not in page.text:
            raise RuntimeError(f"unexpected page at the IdP's vote-code step: {page.url}")
        _captcha(idp, page)
        action, fields = form_fields(page.text, "/login/vote-code", page.url)  # the page may be /authorize's answer
        fields.update(code=vote_code, captcha=CAPTCHA)
        sent = idp.post(action, data=fields, allow_redirects=False, timeout=30)
        callback = _to_portal(idp, sent, portal_url)
        answer = probe.step("portal.callback.vote", lambda: portal.get(_local(callback)))
        if answer.headers["Location"] != ballot:
            raise RuntimeError(f"the vote-code callback did not reach the ballot: {answer.headers['Location']}")
    finally:
        idp.close()


def report(probe: Probe) -> None:
    print_table(probe.rows, [("SQL", 5, 1), ("Redis", 6, 2)], width=24, order=STEPS)
    total = sum(statistics.median(row[0] for row in rows) for rows in probe.rows.values())
    print(f"  {'the four steps':24} {total:16.2f}")


@contextlib.contextmanager
def suite(postgres: str | None, voters: int) -> Iterator[tuple[Flask, str, list[tuple[str, str]]]]:
    """The IdP under granian, the portal app in this process: (portal app, its public address, voters)."""
    from relying_party import create_app
    from relying_party.db import get_db
    from relying_party.store import get_store

    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portal-signin-")))
        store = stack.enter_context(storage(postgres, directory))
        idp_port, portal_port = free_port(), free_port()
        portal_url = f"http://127.0.0.1:{portal_port}"
        identifiers = [f"electeur.portail{n}@ac-exemple.fr" for n in range(voters)]
        idp_env = idp_environment(idp_port, store)
        secret, codes = provision_idp(idp_env, portal_url, identifiers)
        portal_env = portal_environment(portal_port, idp_port, store, secret)
        provision_portal(portal_env, identifiers)
        log = directory / "idp.log"
        process = _start(SERVERS["granian"].argv("idp:create_app", idp_port, 1, 4), idp_env, log)
        stack.callback(_stop, process)
        _wait_http(f"http://127.0.0.1:{idp_port}/healthz", process, log)
        app = create_app(environ=portal_env)
        stack.callback(get_db(app).dispose)
        stack.callback(get_store(app).close)
        yield app, portal_url, list(zip(identifiers, codes, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=30, help="measured journeys (after 3 to warm up)")
    parser.add_argument("--postgres", help="'private' (a cluster of the run's own) or a server URL; else SQLite")
    parser.add_argument("--profile", metavar="STEP", choices=STEPS, help="cProfile this step")
    parser.add_argument("--top", type=int, default=30, help="functions of the profile shown")
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"), help="the profile's order")
    args = parser.parse_args(argv)
    stop_signal_handlers()  # SIGTERM stops the servers too
    one, five, fifteen = os.getloadavg()
    print(f"portal_signin: load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores")
    with suite(args.postgres, args.journeys + 3) as (app, portal_url, voters):
        probe = Probe(app, args.profile)
        with probe.counting_round_trips():
            for n, (identifier, code) in enumerate(voters):
                if n == 3:  # the first journeys fill the caches, the pools and compile the templates
                    probe.rows.clear()
                journey(probe, app.test_client(), portal_url, identifier, code)
        where = "PostgreSQL + Redis" if args.postgres else "SQLite"
        print(f"{args.journeys} journeys one at a time, {where}: the portal's thread CPU, statements, round trips")
        report(probe)
        if probe.profiler is not None:
            print_profile(probe.profiler, str(args.profile), sort=args.sort, top=args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
