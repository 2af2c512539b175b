"""End to end through the real IdP: the portal signs a voter in with Authlib (discovery, PKCE, nonce, state),
steps up to the vote-code level, casts a ballot, signs out (RP-initiated logout), and accepts back-channel logout.

The IdP (``idp.create_app``) and the portal are each served on 127.0.0.1 by werkzeug in a thread; a
``requests.Session`` is the browser. The IdP runs on SQLite; the portal on each back end of the ``app`` fixture.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet

import idp
from idp.db import get_db as idp_db
from idp.models import Voter
from idp.oidc import clients, jwt_signing
from idp.oidc.backchannel import LogoutNotifier
from idp.oidc.models import SIGNING_ALGS
from idp.oidc.provider import get_provider
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from infra import oidc_client
from infra.oidc_client import get_client
from relying_party.models import utcnow
from relying_party.store import get_store
from tests.delivery_servers import free_port
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, VoterFactory
from tests.oidc_helpers import RP, install_keys, make_client
from tests.relying_party.helpers import CLAIRE, load, standard_document
from tests.relying_party.live import LiveServer
from tests.relying_party.voting import ballot_from_html, ensure_key

IDP_CONFIG = {
    "ENV": "testing",
    "TESTING": True,
    "SECRET_KEY": "idp-e2e-secret-key-not-for-production-0123456789",
    "HMAC_KEY": "idp-e2e-hmac-key-not-for-production-0123456789",
    "CAPTCHA_BACKEND": f"fixed:{TEST_CAPTCHA}",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "ARGON2_PARALLELISM": 1,
}


class Browser:
    """A browser as far as these pages need one: cookies, redirects, and forms with their hidden fields."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.http.get(url, timeout=30, **kwargs)

    def submit(
        self, page: requests.Response, action_prefix: str, fields: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        """Post the form of ``page`` whose action starts with ``action_prefix``, hidden fields included."""
        for match in re.finditer(r'<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page.text, re.S):
            action = html.unescape(match.group(1))
            if urlsplit(action).path.startswith(action_prefix):
                hidden = dict(
                    re.findall(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"', match.group(2))
                )
                hidden.update(
                    re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', match.group(2))
                )
                data = {name: html.unescape(value) for name, value in hidden.items()}
                data.update(fields)
                return self.http.post(urljoin(page.url, action), data=data, timeout=30, **kwargs)
        raise AssertionError(f"no form posting to {action_prefix} on {page.url}:\n{page.text[:2000]}")


@dataclass
class Suite:
    idp_app: Flask
    portal_app: Flask
    idp_url: str
    portal_url: str
    rp: RP
    vote_code: str


@pytest.fixture
def suite(request: pytest.FixtureRequest, app: Flask, make_portal, sqlite_template, tmp_path: Path) -> Iterator[Suite]:
    """The IdP and the portal; the portal registered with ``id_token_claims`` when the test asks (``indirect``)."""
    claims_in_id_token = bool(getattr(request, "param", False))
    idp_port, portal_port = free_port(), free_port()
    idp_url, portal_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{portal_port}"
    (tmp_path / "idp").mkdir()
    idp_app = idp.create_app({**IDP_CONFIG, "PUBLIC_URL": idp_url, **sqlite_template.fresh(tmp_path / "idp").config()})
    install_keys(idp_app)
    voter = VoterFactory(idp_app).create(
        CLAIRE, family_name="JULLIEN", first_names="Claire", gender="F", academie="dijon"
    )
    with idp_app.app_context(), idp_db(idp_app).transaction() as session:
        vote_code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    rp = make_client(
        idp_app,
        client_name="Portail Élections",
        first_party=True,
        id_token_claims=claims_in_id_token,
        redirect_uris=[f"{portal_url}/connexion/retour"],
        post_logout_redirect_uris=[f"{portal_url}/deconnexion/fin"],
        backchannel_logout_uri=f"{portal_url}/backchannel-logout",
    )
    load(app, standard_document(utcnow()))
    ensure_key(app, "OPEN")
    portal_app = make_portal(IDP_ISSUER=idp_url, PUBLIC_URL=portal_url, CLIENT_ID=rp.client_id, CLIENT_SECRET=rp.secret)
    with LiveServer(idp_app, idp_port), LiveServer(portal_app, portal_port):
        yield Suite(idp_app, portal_app, idp_url, portal_url, rp, vote_code)
    idp_db(idp_app).dispose()


#: The claims that name or describe a voter, which must never travel in a URL.
PERSONAL_CLAIMS = {"name", "given_name", "family_name", "email", "birthdate", "gender", "academie"}


def suite_jwks(suite: Suite) -> dict[str, Any]:
    jwks: dict[str, Any] = requests.get(f"{suite.idp_url}/jwks.json", timeout=10).json()
    return jwks


def sign_in(suite: Suite, browser: Browser) -> requests.Response:
    start = browser.get(f"{suite.portal_url}/connexion", allow_redirects=False)
    assert start.status_code == 302
    location = start.headers["Location"]
    assert location.startswith(f"{suite.idp_url}/authorize?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert params["client_id"] == suite.rp.client_id and params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["nonce"] and params["state"] and "openid" in params["scope"].split()
    assert params["redirect_uri"] == f"{suite.portal_url}/connexion/retour"
    login = browser.get(location)
    assert "Accès au portail Élections" in login.text, login.text[:500]
    password_page = browser.submit(login, "/login", {"identifier": CLAIRE, "captcha": TEST_CAPTCHA})
    assert "Saisie du mot de passe Élections" in password_page.text, password_page.text[:500]
    return browser.submit(password_page, "/login/password", {"password": DEFAULT_PASSWORD})


def test_sign_in_vote_and_sign_out_through_the_real_idp(suite: Suite, app: Flask) -> None:
    browser = Browser()
    assert "Accéder au portail Élections" in browser.get(f"{suite.portal_url}/").text
    home = sign_in(suite, browser)
    assert home.url == f"{suite.portal_url}/"
    text = html.unescape(home.text)
    assert "Bienvenue sur votre portail Élections" in text and "Mme JULLIEN CLAIRE" in text
    assert "Fermeture du vote dans" in text
    personal = html.unescape(browser.get(f"{suite.portal_url}/mon-compte/informations-personnelles").text)
    assert CLAIRE in personal and "21 juillet 1985" in personal

    # "Je vote": the portal asks the IdP for the vote-code level; the IdP shows "Saisie du code de vote".
    step_up = browser.get(f"{suite.portal_url}/je-vote/OPEN")
    # The IdP answers the authorization request with the step's page itself (no redirect to /login/vote-code).
    assert step_up.url.startswith(f"{suite.idp_url}/authorize?"), step_up.url
    assert "Saisie du code de vote" in html.unescape(step_up.text)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(step_up.url).query).items()}
    assert asked["acr_values"] == "urn:portail-elections:acr:password+vote-code" and asked["max_age"] == "300"
    assert "prompt" not in asked and asked["login_hint"] == CLAIRE
    ballot = browser.submit(step_up, "/login/vote-code", {"code": suite.vote_code, "captcha": TEST_CAPTCHA})
    assert ballot.url == f"{suite.portal_url}/je-vote/OPEN", ballot.url
    assert "Bulletin de vote" in ballot.text
    assert "Vous avez choisi" in ballot.text  # the confirmation, shown by the page's script
    receipt = browser.submit(ballot, "/je-vote/OPEN/bulletin", {"ballot": ballot_from_html(ballot.text, 1)})
    assert receipt.url == f"{suite.portal_url}/je-vote/OPEN/recu"
    assert re.search(r'class="receipt-code">([A-Z2-7]{4}-){12}[A-Z2-7]{4}<', receipt.text)

    # Sign out: the portal session ends, then the IdP's (RP-initiated logout), then back to the portal.
    out = browser.submit(receipt, "/deconnexion", {})
    assert any(r.headers.get("Location", "").startswith(f"{suite.idp_url}/logout/end?") for r in out.history)
    sent = next(
        r.headers["Location"]
        for r in out.history
        if r.headers.get("Location", "").startswith(f"{suite.idp_url}/logout/end?")
    )
    logout_params = {k: v[0] for k, v in parse_qs(urlsplit(sent).query).items()}
    assert logout_params["post_logout_redirect_uri"] == f"{suite.portal_url}/deconnexion/fin"
    assert logout_params["id_token_hint"] and logout_params["state"]
    # The hint travels in a URL (browser history, proxies' logs): as the portal is registered, no personal datum.
    hinted = jwt.decode(logout_params["id_token_hint"], KeySet.import_key_set(suite_jwks(suite))).claims
    assert hinted["sub"] and not PERSONAL_CLAIMS & hinted.keys(), sorted(hinted)
    assert out.url == f"{suite.portal_url}/"
    assert "Vous êtes déconnecté du portail Élections." in html.unescape(out.text)
    assert browser.get(f"{suite.portal_url}/mon-compte", allow_redirects=False).status_code == 302
    # Signed out at the IdP too: signing in again asks for the identifier.
    again = browser.get(f"{suite.portal_url}/connexion")
    assert "Accès au portail Élections" in again.text


@pytest.mark.parametrize("suite", [True, False], indirect=True, ids=["claims-in-id-token", "userinfo"])
def test_the_sign_in_calls_userinfo_only_when_the_id_token_lacks_the_claims(suite: Suite) -> None:
    """The portal registered with ``--claims-in-id-token`` takes the voter's claims from the ID token and makes no
    userinfo call; registered without, it reads userinfo; the same voter either way."""
    paths: list[str] = []
    served = suite.idp_app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        paths.append(environ["PATH_INFO"])
        return served(environ, start_response)

    suite.idp_app.wsgi_app = counting  # type: ignore[method-assign]
    browser = Browser()
    home = sign_in(suite, browser)
    assert "Mme JULLIEN CLAIRE" in html.unescape(home.text)
    personal = html.unescape(browser.get(f"{suite.portal_url}/mon-compte/informations-personnelles").text)
    assert CLAIRE in personal and "21 juillet 1985" in personal and "Dijon" in personal and "JULLIEN" in personal
    claims_in_id_token = suite.rp.settings.id_token_claims
    assert paths.count("/token") == 1 and paths.count("/userinfo") == (0 if claims_in_id_token else 1)


def test_back_channel_logout_ends_the_other_portal_sessions(suite: Suite) -> None:
    browser = Browser()
    sign_in(suite, browser)
    cookie_name = suite.portal_app.config["SESSION_COOKIE_NAME"]
    first_session = browser.http.cookies.get(cookie_name)
    # A second portal session in the same browser (another tab after its cookie was lost): SSO at the IdP.
    browser.http.cookies.clear(domain="127.0.0.1", path="/", name=cookie_name)
    again = browser.get(f"{suite.portal_url}/connexion")
    assert "Bienvenue sur votre portail Élections" in again.text, "single sign-on: no password asked"
    other_tab = Browser()
    other_tab.http.cookies.set(cookie_name, first_session)
    assert other_tab.get(f"{suite.portal_url}/mon-compte", allow_redirects=False).status_code == 200
    # Signing out of the second session ends the IdP session; the IdP tells the portal through the back channel.
    browser.submit(again, "/deconnexion", {})
    assert LogoutNotifier(suite.idp_app).drain() >= 1
    assert other_tab.get(f"{suite.portal_url}/mon-compte", allow_redirects=False).status_code == 302


def _logout_token(suite: Suite, **changes: Any) -> str:
    with suite.idp_app.app_context(), idp_db(suite.idp_app).transaction() as session:
        provider = get_provider(suite.idp_app)
        client = clients.find(session, suite.rp.client_id)
        assert client is not None
        token = jwt_signing.logout_token(provider, session, client, sub="un-sujet", sid="une-session")
        if not changes:
            return token
        claims = dict(jwt.decode(token, provider.keys.verification_keys(session)).claims)
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt_signing.sign(provider, session, "ES256", claims, typ="logout+jwt")


def test_back_channel_logout_token_checks(suite: Suite) -> None:
    endpoint = f"{suite.portal_url}/backchannel-logout"

    def post(token: str) -> int:
        return requests.post(endpoint, data={"logout_token": token}, timeout=30).status_code

    token = _logout_token(suite)
    assert post(token) == 200
    assert post(token) == 400, "a replayed logout token is refused"
    assert post(_logout_token(suite, nonce="n")) == 400, "an ID token is not a logout token"
    assert post(_logout_token(suite, aud="une-autre-application")) == 400
    assert post(_logout_token(suite, iss="https://autre-fournisseur.example.fr")) == 400
    assert post(_logout_token(suite, events={"autre": {}})) == 400
    assert post(_logout_token(suite, sid=None, sub=None)) == 400
    assert post(_logout_token(suite, iat=int(time.time()) - 3600, exp=None)) == 400
    foreign = ECKey.generate_key("P-256", parameters={"kid": "inconnue"})
    forged = jwt.encode(
        {"alg": "ES256", "kid": "inconnue"},
        {
            "iss": suite.idp_url,
            "aud": suite.rp.client_id,
            "iat": int(time.time()),
            "jti": "x",
            "sid": "s",
            "events": {jwt_signing.BACKCHANNEL_LOGOUT_EVENT: {}},
        },
        foreign,
        algorithms=["ES256"],
    )
    assert post(forged) == 400, "signed by a key the IdP does not publish"


def test_the_first_page_after_sign_in_writes_no_session(suite: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The callback's session already holds the pages' CSRF secret: the home page it leads to (with its « Se
    déconnecter » form) only reads the session, and its form's token is accepted."""
    browser = Browser()
    start = browser.get(f"{suite.portal_url}/connexion")
    password_page = browser.submit(start, "/login", {"identifier": CLAIRE, "captcha": TEST_CAPTCHA})
    answer = browser.submit(password_page, "/login/password", {"password": DEFAULT_PASSWORD}, allow_redirects=False)
    while not answer.headers["Location"].startswith(f"{suite.portal_url}/connexion/retour"):
        answer = browser.get(urljoin(answer.url, answer.headers["Location"]), allow_redirects=False)
    callback = browser.get(answer.headers["Location"], allow_redirects=False)
    assert callback.status_code == 302 and callback.headers["Location"] == "/"
    store = get_store(suite.portal_app)
    writes: list[str] = []
    for name in ("set", "delete"):
        original = getattr(store, name)

        def spy(key: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            writes.append(key)
            return _original(key, *args, **kwargs)

        monkeypatch.setattr(store, name, spy)
    home = browser.get(f"{suite.portal_url}/")
    assert "Bienvenue sur votre portail Élections" in html.unescape(home.text)
    assert writes == []
    out = browser.submit(home, "/deconnexion", {})  # the form's CSRF token matches the session's secret
    assert "Vous êtes déconnecté du portail Élections." in html.unescape(out.text)


def _count_key_parsing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many JWKS documents the portal parses into keys (one entry a document)."""
    parsed: list[int] = []
    original = KeySet.import_key_set.__func__  # type: ignore[attr-defined]

    def counting(cls: type[KeySet], document: Any, *args: Any, **kwargs: Any) -> KeySet:
        parsed.append(len(document["keys"]))
        return original(cls, document, *args, **kwargs)

    monkeypatch.setattr(KeySet, "import_key_set", classmethod(counting))
    return parsed


def _signed_in(suite: Suite) -> bool:
    home = sign_in(suite, Browser())
    return home.url == f"{suite.portal_url}/" and "Bienvenue sur votre portail Élections" in html.unescape(home.text)


def test_the_idp_keys_are_parsed_once_and_fetched_again_after_a_rotation(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ID token's signature is checked with the JWKS parsed once per process, not at every token; a token
    signed with a key published after that (rotation at the IdP) makes the portal fetch the JWKS again."""
    parsed = _count_key_parsing(monkeypatch)
    assert _signed_in(suite)
    assert len(parsed) == 1, "the first token: the JWKS fetched and parsed"
    assert _signed_in(suite) and _signed_in(suite)
    assert len(parsed) == 1, "the next tokens: the keys kept"
    with suite.idp_app.app_context(), idp_db(suite.idp_app).transaction() as session:
        keys = get_provider(suite.idp_app).keys
        new_kids = {keys.rotate(session, alg, delay=0)[0].kid for alg in SIGNING_ALGS}
    assert _signed_in(suite), "a token signed with the new key is accepted"
    assert len(parsed) == 2, "the JWKS fetched and parsed again, once"
    client = get_client(suite.portal_app)
    with suite.portal_app.app_context():
        assert new_kids <= {key.kid for key in client.key_set().keys}
    assert _signed_in(suite) and len(parsed) == 2


def test_a_token_whose_key_stays_unknown_is_refused_without_an_error(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token naming a key the IdP does not publish: the JWKS is fetched again once, the token refused with
    joserfc's error (which the callback and the back channel turn into their refusals), and the keys still work."""
    assert _signed_in(suite)
    parsed = _count_key_parsing(monkeypatch)
    foreign = ECKey.generate_key("P-256", parameters={"kid": "inconnue"})
    forged = jwt.encode({"alg": "ES256", "kid": "inconnue"}, {"iss": suite.idp_url}, foreign, algorithms=["ES256"])
    client = get_client(suite.portal_app)
    with suite.portal_app.app_context(), pytest.raises(InvalidKeyIdError):
        client.decode_jwt(forged, algorithms=["ES256"])
    assert len(parsed) == 1, "fetched again once to look for the key"
    assert InvalidKeyIdError.__mro__[1:].count(JoseError) == 1, "one of the callback's errors (CALLBACK_ERRORS)"
    assert _signed_in(suite) and len(parsed) == 1


def test_unknown_keys_make_the_jwks_fetched_again_at_most_once_per_interval(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forged tokens with invented key ids (the back channel takes them from anyone) cost one JWKS fetch per
    interval, not one each; once the interval has passed, an unknown key fetches again (a rotation is still seen)."""
    assert _signed_in(suite)
    parsed = _count_key_parsing(monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(oidc_client.time, "monotonic", lambda: clock[0])
    client = get_client(suite.portal_app)

    def forged(kid: str) -> str:
        key = ECKey.generate_key("P-256", parameters={"kid": kid})
        return jwt.encode({"alg": "ES256", "kid": kid}, {"iss": suite.idp_url}, key, algorithms=["ES256"])

    with suite.portal_app.app_context():
        for number in range(5):
            with pytest.raises(InvalidKeyIdError):
                client.decode_jwt(forged(f"inventee-{number}"), algorithms=["ES256"])
        assert len(parsed) == 1, "five unknown keys within the interval: one fetch"
        clock[0] += oidc_client.UNKNOWN_KID_REFETCH_SECONDS
        with pytest.raises(InvalidKeyIdError):
            client.decode_jwt(forged("plus-tard"), algorithms=["ES256"])
        assert len(parsed) == 2, "the interval over: fetched again"
    assert _signed_in(suite) and len(parsed) == 2, "the IdP's own tokens unaffected"
