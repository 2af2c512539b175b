"""The federation client against an OpenID Provider we did not write: panva's oidc-provider (pinned in
interop/package.json), configured the FranceConnect way by interop/oidc_provider_fc.mjs (ES256 ID tokens and
userinfo as application/jwt, pairwise subjects, the pivot claims of a fictitious citizen, acr eidas1,
client_secret_post, RP-initiated logout), started as a Node process on a free port for each test.

Without Node.js the test is skipped, except in CI (CI=true) where it fails (tests/backends.unavailable)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from idp.federation.extension import get_federation
from tests import backends
from tests import interop_node as node
from tests.helpers import DEFAULT_PASSWORD, VoterFactory, csrf_of
from tests.idp.federation.helpers import (
    CALLBACK,
    FC_CLIENT_ID,
    FC_CLIENT_SECRET,
    LOGGED_OUT,
    LOGIN_PATH,
    claire,
    events,
    path_of,
    query_of,
)

SCRIPT = node.INTEROP_DIR / "oidc_provider_fc.mjs"
START_TIMEOUT = 30
CITIZENS = {
    "claire": {
        "id": "citoyenne-claire",
        "given_name": "Claire",
        "family_name": "JULLIEN",
        "birthdate": "1985-07-21",
        "gender": "female",
        "birthplace": "21231",
        "birthcountry": "99100",
    },
    "inconnue": {
        "id": "citoyenne-inconnue",
        "given_name": "Zoé",
        "family_name": "ABSENTE",
        "birthdate": "1991-03-04",
        "gender": "female",
        "birthplace": "",
        "birthcountry": "99134",
    },
}


@dataclass
class PanvaProvider:
    issuer: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def node_path() -> str:
    try:
        return node.node_or_reason("oidc-provider")
    except LookupError as why:
        backends.unavailable(str(why))
        raise


@pytest.fixture(params=["claire"])
def citizen(request: pytest.FixtureRequest) -> dict[str, str]:
    return CITIZENS[request.param]


@pytest.fixture
def panva(node_path: str, citizen: dict[str, str]) -> Iterator[PanvaProvider]:
    config = {
        "client": {
            "client_id": FC_CLIENT_ID,
            "client_secret": FC_CLIENT_SECRET,
            "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": [LOGGED_OUT],
        },
        "citizen": citizen,
    }
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [node_path, str(SCRIPT), json.dumps(config)],
            cwd=node.INTEROP_DIR,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(
            target=lambda: lines.append(process.stdout.readline() if process.stdout else ""), daemon=True
        )
        reader.start()
        reader.join(START_TIMEOUT)
        try:
            if not lines or not lines[0].strip():
                stderr.seek(0)
                pytest.fail(f"oidc-provider did not start: {stderr.read()[-2000:]}")
            yield PanvaProvider(json.loads(lines[0])["issuer"], process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()


@pytest.fixture
def app_config(app_config: dict[str, Any], panva: PanvaProvider) -> dict[str, Any]:
    return {**app_config, "FC_ISSUER": panva.issuer}


def _to_callback(browser: requests.Session, url: str) -> str:
    """Follow the provider's redirects (authorize, interactions, resume) until it sends the browser back."""
    for _ in range(12):
        answer = browser.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 303, (answer.status_code, answer.url, answer.headers.get("Location"))
        location = answer.headers["Location"]
        if location.startswith(CALLBACK):
            return location
        url = urljoin(url, location)
    raise AssertionError("too many redirects at the provider")


def _sign_out_through(client: FlaskClient, browser: requests.Session, panva: PanvaProvider) -> Any:
    page = client.get("/logout")
    answer = client.post("/logout", data={"csrf_token": csrf_of(page)})
    # A page that moves on to the provider (meta refresh and link), not a redirect: see idp/federation/logout.py.
    assert answer.status_code == 200
    refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', answer.get_data(as_text=True))
    assert refresh, answer.get_data(as_text=True)[:500]
    location = html.unescape(refresh.group(1))
    assert location.startswith(panva.issuer + "/session/end?")
    confirm = browser.get(location, timeout=10)
    assert confirm.status_code == 200, confirm.text[:500]
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
    action = re.search(r'action="([^"]+)"', confirm.text)
    assert xsrf and action, confirm.text[:500]
    done = browser.post(
        urljoin(confirm.url, action.group(1)),
        data={"xsrf": xsrf.group(1), "logout": "yes"},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303, (done.status_code, done.headers.get("Location"))
    back = done.headers["Location"]
    assert back.startswith(LOGGED_OUT + "?")
    assert query_of(back)["state"] == query_of(location)["state"]
    return client.get(path_of(back))


def test_sign_in_and_out_with_oidc_provider(
    app: Flask, client: FlaskClient, voters: VoterFactory, browser: requests.Session, panva: PanvaProvider
) -> None:
    voter = claire(voters)
    started = client.get(LOGIN_PATH)
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    request = query_of(started.headers["Location"])
    assert started.headers["Location"].startswith(panva.issuer + "/auth?")
    assert request["acr_values"] == "eidas1"
    assert request["code_challenge_method"] == "S256"  # announced by this provider, so sent
    callback = _to_callback(browser, started.headers["Location"])
    assert query_of(callback)["iss"] == panva.issuer
    answer = client.get(path_of(callback))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    assert answer.headers["Location"].endswith("/login/password")
    matched = [e for e in events(app) if e["type"] == "federation.matched"]
    assert [e["subject"] for e in matched] == [voter.subject]
    with app.app_context():
        metadata = get_federation().directory.metadata()
    # Signed userinfo announced, hence required (a JSON answer would have been refused): it was a verified JWT.
    assert metadata.userinfo_algorithms == ("ES256",)
    assert metadata.token_auth_methods == ("client_secret_post",)
    page = client.get("/login/password")
    client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert client.get("/").status_code == 200
    final = _sign_out_through(client, browser, panva)
    assert final.status_code == 303 and final.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("citizen", [CITIZENS["inconnue"]], ids=["inconnue"])
def test_unknown_citizen_is_refused(
    app: Flask, client: FlaskClient, voters: VoterFactory, browser: requests.Session, panva: PanvaProvider
) -> None:
    claire(voters)
    started = client.get(LOGIN_PATH)
    answer = client.get(path_of(_to_callback(browser, started.headers["Location"])))
    assert answer.status_code == 403
    assert "FC-08" in answer.get_data(as_text=True)
    refused = [e for e in events(app) if e["type"] == "federation.not_matched"]
    assert refused and refused[0]["reason"] == "no_match"
