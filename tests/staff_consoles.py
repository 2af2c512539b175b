"""What the tests of both staff consoles (``tests/audit_console``, ``tests/operator_console``) share: building
console apps and closing what they opened, and the live suite (the IdP and the console, each served on 127.0.0.1 by
werkzeug in a thread, the console registered with ``idp <group> console-client``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask

from infra.db import get_db
from infra.store import get_store
from tests.audit_console.helpers import Browser, text_of
from tests.delivery_servers import free_port
from tests.helpers import TEST_CAPTCHA, delivered_messages, link_path_in
from tests.idp.audit.helpers import cli
from tests.oidc_helpers import install_keys
from tests.relying_party.live import LiveServer


@contextmanager
def console_builder(
    create: Callable[[dict[str, Any]], Flask], config: dict[str, Any], close: Callable[[Flask], None] = lambda _: None
) -> Iterator[Callable[..., Flask]]:
    """``build(**overrides)``: a console app on ``config``; at the end, every app built is closed (its engines, the
    store, and what ``close`` closes)."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        console = create({**config, **overrides})
        made.append(console)
        return console

    yield build
    for console in made:
        get_db(console).engine.dispose()
        close(console)
        get_store(console).close()


@dataclass
class Suite:
    """The IdP and the console, each served on 127.0.0.1 by werkzeug in a thread."""

    idp: Flask
    console: Flask
    idp_url: str
    console_url: str
    client_id: str


@contextmanager
def live_suite(make_app: Callable[..., Flask], make_console: Callable[..., Flask], group: str) -> Iterator[Suite]:
    """The IdP and a console registered with ``idp <group> console-client``, both served."""
    idp_port, console_port = free_port(), free_port()
    idp_url, console_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{console_port}"
    idp_app = make_app(PUBLIC_URL=idp_url)
    install_keys(idp_app)
    registered = cli(idp_app, group, "console-client", "--url", console_url)
    assert registered.exit_code == 0, registered.output
    client_id = re.search(r"client_id: (\S+)", registered.output)
    secret = re.search(r"client_secret: (\S+)", registered.output)
    assert client_id and secret
    console = make_console(
        IDP_ISSUER=idp_url, PUBLIC_URL=console_url, CLIENT_ID=client_id.group(1), CLIENT_SECRET=secret.group(1)
    )
    with LiveServer(idp_app, idp_port), LiveServer(console, console_port):
        yield Suite(idp_app, console, idp_url, console_url, client_id.group(1))


# --- a staff member's browser at a console, through the IdP's screens --------------------------------------------


def identifier_step(suite: Suite, browser: Browser, identifier: str, home: str) -> requests.Response:
    """From the console's ``home`` to the IdP's identifier screen (PKCE, nonce, state checked), then past it."""
    start = browser.get(f"{suite.console_url}{home}", allow_redirects=False)
    assert start.status_code == 302 and start.headers["Location"].startswith("/connexion")
    to_idp = browser.get(f"{suite.console_url}{start.headers['Location']}", allow_redirects=False)
    assert to_idp.status_code == 302 and to_idp.headers["Location"].startswith(f"{suite.idp_url}/authorize?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_idp.headers["Location"]).query).items()}
    assert params["client_id"] == suite.client_id and params["scope"] == "openid profile email audit"
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    login = browser.get(to_idp.headers["Location"])
    assert "Accès au portail Élections" in text_of(login)
    return browser.submit(login, "/login", {"identifier": identifier, "captcha": TEST_CAPTCHA})


def sign_in(suite: Suite, browser: Browser, identifier: str, password: str, home: str) -> requests.Response:
    password_page = identifier_step(suite, browser, identifier, home)
    return browser.submit(password_page, "/login/password", {"password": password})


def activate(suite: Suite, browser: Browser, identifier: str, home: str, activation: dict[str, str]) -> None:
    """A staff member's first sign-in: the same screens as a voter's, the activation link sent to its address."""
    password_page = identifier_step(suite, browser, identifier, home)
    assert browser.submit(password_page, "/login/activation", {}).status_code == 200
    [message] = [m for m in delivered_messages(suite.idp) if m.recipient == identifier]
    form = browser.get(f"{suite.idp_url}{link_path_in(message.body)}")
    assert "Votre compte est activé" in text_of(browser.submit(form, None, activation))
