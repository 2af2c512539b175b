"""Fuzzing every route of the IdP (with the réassort plugin), the portal, the auditors' and the operators' consoles:
generated requests — any route of each ``url_map``, right and wrong methods, hostile path values, duplicated and badly
encoded parameters, huge and empty fields, bodies that are not what they claim, missing or present CSRF tokens,
broken credentials — anonymous and signed in, on SQLite and on PostgreSQL + Redis. Every response must be below
500 and no redirect may leave the origin (except, for the IdP, to the registered client's own address, and for the
portal and the console, to the IdP).

``make test`` runs a bounded budget: 10,000 requests in all (``FUZZ_REQUESTS``), drawn from a fixed seed so a run
is repeatable. A longer, random run (a new seed each time; Hypothesis prints the failing example):

    FUZZ_REQUESTS=200000 FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/fuzz -q
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp import create_app as create_idp
from idp.db import get_db as idp_db
from relying_party import create_app as create_portal
from tests.audit_console.test_console_pages import signed_in as console_signed_in
from tests.delivery_servers import free_port
from tests.fuzz.requests import Generated, requests_for, rules_of, send
from tests.helpers import AuthActions, VoterFactory
from tests.oidc_helpers import install_keys, make_client
from tests.operator_console.test_pages import signed_in as operator_signed_in
from tests.relying_party.conftest import close
from tests.relying_party.helpers import sign_in as portal_sign_in
from tests.relying_party.live import LiveServer
from tests.relying_party.test_signin_live_idp import IDP_CONFIG

#: Requests in all, over the tests below (4 applications x 2 back ends, each anonymous and signed in).
TOTAL = int(os.environ.get("FUZZ_REQUESTS", "10000"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
PER_BATCH = 10
#: Shares of the total: the IdP (and its réassort routes) has the most routes and the most logic.
SHARES = {"idp": 0.45, "portal": 0.3, "console": 0.15, "operator_console": 0.1}
ORIGIN = "http://localhost"
RP_ORIGIN = "https://rp.example.fr"
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def fuzz(
    budget: int, rules: list[tuple[str, list[str]]], play: Callable[[Generated], None], counter: list[int]
) -> None:
    examples = max(1, -(-budget // PER_BATCH))  # rounded up: at least the budget is sent

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(requests_for(rules), min_size=PER_BATCH, max_size=PER_BATCH))
    def run(batch: list[Generated]) -> None:
        for request in batch:
            play(request)
            counter[0] += 1

    run()


def budget_of(app: str) -> int:
    """Requests for one test of ``app`` (each runs on both back ends, anonymous and signed in)."""
    return int(TOTAL * SHARES[app] / 2)


def csrf_from(client: FlaskClient, path: str) -> str | None:
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    return match.group(1) if match else None


def both_states(
    budget: int,
    rules: list[tuple[str, list[str]]],
    clients: dict[str, tuple[FlaskClient, str | None]],
    allowed_origins: tuple[str, ...],
) -> None:
    """Half the budget anonymous, half signed in; then check the budget was sent."""
    counter = [0]
    for client, csrf in clients.values():

        def play(request: Generated, client: FlaskClient = client, csrf: str | None = csrf) -> None:
            send(client, request, origin=ORIGIN, csrf=csrf, allowed_origins=allowed_origins)

        fuzz(budget // len(clients), rules, play, counter)
    assert counter[0] >= budget - len(clients)


def test_idp_and_reassort(app: Flask, voters: VoterFactory) -> None:
    install_keys(app)
    make_client(app, redirect_uris=[f"{RP_ORIGIN}/callback"], post_logout_redirect_uris=[f"{RP_ORIGIN}/bye"])
    anonymous, signed_in = app.test_client(), app.test_client()
    assert AuthActions(signed_in).login(voters.create().identifier).status_code == 302
    rules = rules_of(app)
    assert any(rule.startswith("/reassort") for rule, _ in rules), "the réassort's routes are fuzzed too"
    clients = {
        "anonymous": (anonymous, csrf_from(anonymous, "/logout")),
        "signed_in": (signed_in, csrf_from(signed_in, "/logout")),
    }
    both_states(budget_of("idp"), rules, clients, (RP_ORIGIN,))


def test_portal(portal_config: dict[str, Any], sqlite_template: Any, tmp_path: Path) -> None:
    """The portal with an IdP served for real (its back-channel logout and sign-in fetch the IdP's keys and
    metadata: an unreachable IdP is a 503 by design, not what this suite looks for)."""
    port = free_port()
    idp_url = f"http://127.0.0.1:{port}"
    (tmp_path / "idp").mkdir()
    idp_app = create_idp({**IDP_CONFIG, "PUBLIC_URL": idp_url, **sqlite_template.fresh(tmp_path / "idp").config()})
    install_keys(idp_app)
    portal = create_portal({**portal_config, "IDP_ISSUER": idp_url})
    try:
        with LiveServer(idp_app, port):
            anonymous, signed_in = portal.test_client(), portal.test_client()
            portal_sign_in(signed_in, portal, vote_level_age=10)
            clients = {
                "anonymous": (anonymous, csrf_from(anonymous, "/assistance")),
                "signed_in": (signed_in, csrf_from(signed_in, "/assistance")),
            }
            both_states(budget_of("portal"), rules_of(portal), clients, (idp_url,))
    finally:
        close(portal)
        idp_db(idp_app).dispose()


def test_console(suite: Any) -> None:
    """The console with its IdP served for real (its sign-in fetches the IdP's metadata)."""
    console = suite.console
    anonymous, signed_in = console.test_client(), console_signed_in(suite.idp, console)
    clients = {"anonymous": (anonymous, None), "signed_in": (signed_in, csrf_from(signed_in, "/journal"))}
    both_states(budget_of("console"), rules_of(console), clients, (suite.idp_url,))


def test_operator_console(make_app: Callable[..., Flask], portal_storage: Any, tmp_path: Path) -> None:
    """The operators' console with its IdP served for real (its sign-in fetches the IdP's metadata), reading the
    IdP's database and a portal's of the same back end."""
    import operator_console
    from infra.db import get_db as console_db
    from infra.store import get_store
    from operator_console.figures import portal_engine

    port = free_port()
    idp_url = f"http://127.0.0.1:{port}"
    idp_app = make_app(PUBLIC_URL=idp_url)
    install_keys(idp_app)
    console = operator_console.create_app(
        {
            "ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "fuzz-operator-console-secret-key-0123456789",
            "DATABASE_URL": str(idp_app.config["DATABASE_URL"]),
            "PORTAL_DATABASE_URL": portal_storage.database_url,
            "EPHEMERAL_DATABASE_URL": f"sqlite:///{tmp_path / 'operator-console.sqlite3'}",
            "IDP_ISSUER": idp_url,
            "CLIENT_ID": "operator-console",
            "CLIENT_SECRET": "fuzz-operator-console-client-secret",
            "PUBLIC_URL": ORIGIN,
        }
    )
    try:
        with LiveServer(idp_app, port):
            anonymous, signed_in = console.test_client(), operator_signed_in(idp_app, console)
            clients = {
                "anonymous": (anonymous, None),
                "signed_in": (signed_in, csrf_from(signed_in, "/participation")),
            }
            both_states(budget_of("operator_console"), rules_of(console), clients, (idp_url,))
    finally:
        console_db(console).engine.dispose()
        portal_engine(console).dispose()
        get_store(console).close()
