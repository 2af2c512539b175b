"""The authorization_code grant (the portal's two token calls per journey), in process: CPU and SQL statements.

    .venv/bin/python -m benchmarks.code_grant [--requests 300] [--profile] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]

The IdP (the real app, its signing keys initialised) on a throw-away SQLite database, or a scratch PostgreSQL
database and Redis (a prefix of the run's own). A client registered as the portal is (``client_secret_basic``, first
party, the code and refresh grants, its scopes' claims in the ID token where the tree has that setting) and
``--requests`` authorization codes, each of its own grant with its PKCE challenge and a nonce, are stored directly
in the database (their issuance is the authorization endpoint's cost, not the grant's). Each code is then redeemed
by a ``POST /token`` as the portal's callback sends it (``code``, ``redirect_uri``, ``code_verifier``, Basic
credentials), through the IdP's whole WSGI stack in this thread, after 10 of warm-up. It prints the median and mean
CPU time of this thread per request (``time.thread_time``, without the HTTP server's share, which
``benchmarks.request_overhead`` measures) and the SQL statements per request (SQLAlchemy's
``before_cursor_execute``); then the same for the Flask views alone (the request handed past the lean path,
:mod:`idp.oidc.lean`) when the tree has one. ``--profile`` prints cProfile's top functions of the first pass (thread
CPU clock; shares, not figures).

To measure another tree with this script, run it from that tree: ``cd <tree> && PYTHONPATH=. .venv/bin/python
<this tree>/benchmarks/code_grant.py …`` (it uses only what the tree's ``benchmarks.request_overhead`` offers).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import importlib
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.test import EnvironBuilder

from benchmarks.request_overhead import idp_app
from idp.db import get_db
from idp.models import utcnow
from idp.oidc.crypto import digest, new_identifier, new_secret
from idp.oidc.models import OidcAuthorizationCode
from idp.oidc.provider import get_provider
from tests.helpers import VoterFactory
from tests.oidc_helpers import RP, install_keys, make_client, pkce_pair

WARM_UP = 10
BASE_URL = "https://127.0.0.1"


def store_codes(app: Flask, rp: RP, voter_id: int, count: int) -> list[tuple[str, str]]:
    """``count`` fresh codes of the voter for ``rp``, each of its own grant: (code, verifier) pairs."""
    found: list[tuple[str, str]] = []
    with app.app_context(), get_db(app).transaction() as session:
        for _ in range(count):
            code, (verifier, challenge) = new_secret(), pkce_pair()
            session.add(
                OidcAuthorizationCode(
                    code_hash=digest(code),
                    client_id=rp.client_id,
                    voter_id=voter_id,
                    grant_id=new_identifier(),
                    redirect_uri=rp.redirect_uri,
                    scope="openid profile email academie",
                    nonce=new_identifier(),
                    code_challenge=challenge,
                    code_challenge_method="S256",
                    auth_time=int(time.time()),
                    acr="eidas1",
                    amr=["pwd"],
                    sid=new_identifier(),
                    expires_at=utcnow() + dt.timedelta(minutes=30),
                )
            )
            found.append((code, verifier))
    return found


def environ_of(rp: RP, code: str, verifier: str) -> dict[str, Any]:
    assert rp.secret is not None
    basic = "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
    }
    return EnvironBuilder(
        path="/token",
        method="POST",
        base_url=BASE_URL,
        headers={"Authorization": basic},
        data=body,
        content_type="application/x-www-form-urlencoded",
    ).get_environ()


# Not imported from benchmarks.steps_common, whose copy this is: this script runs against other trees (see above),
# whose benchmarks package may not have that module.
def count_pipelined_statements(count: Callable[..., None]) -> None:
    """Also count the statements sent through psycopg directly on PostgreSQL, which SQLAlchemy's events do not see:
    the audit append's pipeline (:func:`hashchain.append.send`) and the lean path's reads and writes
    (:mod:`idp.oidc.direct_read`), in the trees that have them."""
    for module, name in (
        ("hashchain.append", "send"),
        ("idp.oidc.direct_read", "execute"),
        ("idp.oidc.direct_read", "send"),
    ):
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        original = getattr(found, name, None)
        if original is not None:
            setattr(found, name, _counted(original, count))


def _counted(original: Callable[..., Any], count: Callable[..., None]) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        count()
        return original(*args)

    return counted


class Counter:
    def __init__(self, app: Flask) -> None:
        self.statements = 0
        event.listen(get_db(app).engine, "before_cursor_execute", self._statement)
        count_pipelined_statements(self._statement)

    def _statement(self, *_: Any) -> None:
        self.statements += 1


def _recorder(seen: list[str]) -> Callable[..., None]:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        seen.append(status)

    return start_response


def measure(
    wsgi: Callable[..., Any],
    counter: Counter,
    rp: RP,
    codes: list[tuple[str, str]],
    profiler: cProfile.Profile | None = None,
) -> tuple[list[float], list[int]]:
    """Thread CPU µs and statements of each redemption (after the warm-up ones)."""
    cpu: list[float] = []
    statements: list[int] = []
    for index, (code, verifier) in enumerate(codes):
        environ = environ_of(rp, code, verifier)
        seen: list[str] = []
        start_response = _recorder(seen)
        counter.statements = 0
        if profiler is not None and index >= WARM_UP:
            profiler.enable()
        started = time.thread_time()
        body = b"".join(wsgi(environ, start_response))
        spent = time.thread_time() - started
        if profiler is not None and index >= WARM_UP:
            profiler.disable()
        if not seen or not seen[0].startswith("200") or "id_token" not in json.loads(body):
            raise RuntimeError(f"the code exchange answered {seen}: {body[:300]!r}")
        if index >= WARM_UP:
            cpu.append(spent * 1e6)
            statements.append(counter.statements)
    return cpu, statements


def line(label: str, cpu: list[float], statements: list[int]) -> str:
    return (
        f"  {label:<34} {statistics.median(cpu):>8,.0f} µs median {statistics.fmean(cpu):>8,.0f} µs mean"
        f"   {statistics.median_low(statements):>3} SQL statements"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="measured redemptions per pass (after 10)")
    parser.add_argument("--postgres", help="a scratch database on this PostgreSQL server (dropped at the end)")
    parser.add_argument("--redis", help="the ephemeral store in this Redis (a prefix of the run's own)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first pass")
    parser.add_argument("--top", type=int, default=25, help="functions of the profile shown")
    args = parser.parse_args(argv)
    one, five, fifteen = os.getloadavg()
    print(f"code_grant: load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores")
    store = "PostgreSQL and Redis" if args.postgres and args.redis else "SQLite"
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp, idp_app(Path(tmp), args.postgres, args.redis) as app:
        install_keys(app)
        registration: dict[str, Any] = {"grant_types": ["authorization_code", "refresh_token"]}
        rp = make_client(app, **registration)
        voter_id = VoterFactory(app).create("banc.code@ac-exemple.fr").id
        counter = Counter(app)
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        count = args.requests + WARM_UP
        print(f"{args.requests} code exchanges one at a time, {store}, in process (thread CPU per request)")
        cpu, statements = measure(app.wsgi_app, counter, rp, store_codes(app, rp, voter_id, count), profiler)
        print(line("POST /token, the app as deployed", cpu, statements), flush=True)
        lean = getattr(get_provider(app), "lean", None)
        if lean is not None:
            # The same requests handed past the lean path: what the Flask views alone cost.
            cpu, statements = measure(lean.app, counter, rp, store_codes(app, rp, voter_id, count))
            print(line("POST /token, the Flask views alone", cpu, statements), flush=True)
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
            print(f"\ncProfile of the first pass (thread CPU clock; shares, not figures):\n{out.getvalue()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
