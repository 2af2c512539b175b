"""The whole suite served for real on 127.0.0.1, as a voter's browser meets it.

The IdP (réassort plugin and FranceConnect federation enabled, mail through SMTP to an aiosmtpd server on loopback,
the fixed CAPTCHA of development and tests), the voter portal registered at the IdP as its first-party client, and
the development FranceConnect provider with the IdP registered there: each in a werkzeug thread on its own port.
Every address is known before its application is built (the socket is bound first), so that the applications'
public URLs, redirect URIs and issuers are the real ones.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

import idp
import relying_party
from fc_dev_provider import create_app as create_fc_app
from idp.db import get_db as idp_db
from idp.delivery.worker import run_once
from idp.models import Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from relying_party.db import get_db as portal_db
from relying_party.models import utcnow
from relying_party.store import get_store as portal_store
from tests.delivery_servers import SmtpServer, wait_for
from tests.helpers import TEST_CAPTCHA, VoterFactory
from tests.idp.federation.helpers import FC_CLIENT_ID, FC_CLIENT_SECRET, claire, fc_clients
from tests.oidc_helpers import install_keys, make_client
from tests.relying_party.ceremony import TrusteeFiles, run_ceremony
from tests.relying_party.helpers import load as load_elections
from tests.relying_party.helpers import standard_document

CLAIRE = "claire.jullien@ac-dijon.fr"
#: The development provider's citizen whose identité pivot is Claire's (fc_dev_provider/data/citizens.csv).
CLAIRE_CITIZEN = "claire-jullien"

_LINK_RE = re.compile(r"https?://\S+")


def _not_started(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not started"]


class Listener:
    """A threaded werkzeug server bound at once (so its address is known), serving an app set later."""

    def __init__(self) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, _not_started, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, app: Flask) -> None:
        self.server.app = app
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()


@dataclass(frozen=True)
class Storage:
    """Where the IdP and the portal keep their data in one run: SQLite files, or PostgreSQL + Redis."""

    name: str
    idp: dict[str, Any]
    portal: dict[str, Any]


@dataclass
class Suite:
    idp_app: Flask
    portal_app: Flask
    fc_app: Flask
    idp_url: str
    portal_url: str
    fc_url: str
    smtp: SmtpServer
    vote_code: str
    #: The trustees of the election key every scrutin uses (their private files in the run's folder).
    trustees: list[TrusteeFiles]

    def deliver(self) -> int:
        """What the delivery worker does between two requests: send the queued messages (to the SMTP server)."""
        return run_once(self.idp_app)

    def mail_link(self, recipient: str, count_before: int, timeout: float = 10.0) -> str:
        """The link of the newest message the SMTP server received for ``recipient`` after ``count_before``."""

        def arrived() -> bool:
            return len(self.smtp.received) > count_before

        assert wait_for(arrived, timeout), "no message reached the SMTP server"
        received = self.smtp.received[-1]
        assert received.rcpt_tos == [recipient], received.rcpt_tos
        body = received.message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        match = _LINK_RE.search(text)
        assert match, text
        return match.group(0)


def _idp_config(url: str, storage: Storage, smtp: SmtpServer, fc_issuer: str) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "e2e-idp-secret-key-not-for-production-0123456789",
        "HMAC_KEY": "e2e-idp-hmac-key-not-for-production-0123456789",
        "CAPTCHA_BACKEND": f"fixed:{TEST_CAPTCHA}",
        "PUBLIC_URL": url,
        "PLUGINS": "reassort",
        "FC_ENABLED": True,
        "FC_ISSUER": fc_issuer,
        "FC_CLIENT_ID": FC_CLIENT_ID,
        "FC_CLIENT_SECRET": FC_CLIENT_SECRET,
        "FC_HTTP_TIMEOUT": 10,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
        **smtp.config(),
        **storage.idp,
    }


def _fc_app(url: str, directory: Path, idp_url: str) -> Flask:
    scenarios = directory / "scenarios.json"
    scenarios.write_text(json.dumps({"scenarios": {}, "citizens": {}}), encoding="utf-8")
    clients = fc_clients(
        callback=f"{idp_url}/federation/franceconnect/callback",
        logged_out=f"{idp_url}/federation/franceconnect/logged-out",
    )
    return create_fc_app(
        {
            "ISSUER": f"{url}/api/v2",
            "SECRET_KEY": "e2e-fcdev-secret-key-0123456789",
            "SCENARIOS_FILE": str(scenarios),
            "TESTING": True,
        },
        environ={"FCDEV_CLIENTS": json.dumps({"clients": clients})},
    )


def _claire_with_a_notice(idp_app: Flask) -> str:
    """Claire (the seed's voter, activated, question défi football_team) and the vote code of her paper notice."""
    voter = claire(VoterFactory(idp_app))
    with idp_app.app_context(), idp_db(idp_app).transaction() as session:
        found = session.get(Voter, voter.id)
        assert found is not None
        return issue_code(session, found, "notice", hasher=keyed_hasher())


@contextmanager
def serve_suite(storage: Storage, directory: Path) -> Iterator[Suite]:
    with ExitStack() as stack:
        listeners = [Listener() for _ in range(3)]
        for listener in listeners:
            stack.callback(listener.close)
        idp_listener, portal_listener, fc_listener = listeners
        smtp = stack.enter_context(SmtpServer())

        fc_app = _fc_app(fc_listener.url, directory, idp_listener.url)
        idp_app = idp.create_app(_idp_config(idp_listener.url, storage, smtp, f"{fc_listener.url}/api/v2"))
        stack.callback(idp_db(idp_app).dispose)
        install_keys(idp_app)
        vote_code = _claire_with_a_notice(idp_app)
        rp = make_client(
            idp_app,
            client_name="Portail Élections",
            first_party=True,
            redirect_uris=[f"{portal_listener.url}/connexion/retour"],
            post_logout_redirect_uris=[f"{portal_listener.url}/deconnexion/fin"],
            backchannel_logout_uri=f"{portal_listener.url}/backchannel-logout",
        )
        portal_app = relying_party.create_app(
            {
                "ENV": "testing",
                "TESTING": True,
                "SECRET_KEY": "e2e-portal-secret-key-not-for-production-0123456789",
                "PUBLIC_URL": portal_listener.url,
                "IDP_ISSUER": idp_listener.url,
                "CLIENT_ID": rp.client_id,
                "CLIENT_SECRET": rp.secret,
                **storage.portal,
            }
        )
        stack.callback(portal_db(portal_app).dispose)
        stack.callback(portal_store(portal_app).close)
        document = standard_document(utcnow())
        load_elections(portal_app, document)
        # Every scrutin encrypts to one election key (2 of 3 trustees, their files in a folder of the run).
        trustees = run_ceremony(portal_app, directory / "garants", tuple(s["code"] for s in document["scrutins"]))

        fc_listener.serve(fc_app)
        idp_listener.serve(idp_app)
        portal_listener.serve(portal_app)
        yield Suite(
            idp_app,
            portal_app,
            fc_app,
            idp_listener.url,
            portal_listener.url,
            fc_listener.url,
            smtp,
            vote_code,
            trustees,
        )
