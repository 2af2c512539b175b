"""What a browser and a relying party do, over HTTP, for ``benchmarks.oidc_throughput``: the authorization code
flow (to mint refresh tokens before the timed phase) and the password sign-in (the timed sign-in load).

The IdP's screens are driven like ``tests.helpers.AuthActions`` does (identifier + the fixed CAPTCHA of
``IDP_ENV=testing``, then the password); node-oidc-provider's sign-in and consent are answered by its benchmark
script's own interaction route, so its code flow needs no form.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from benchmarks.oidc_servers import CAPTCHA, REDIRECT_URI, Server, cpu_between

_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CAPTCHA_ID_RE = re.compile(r'name="captcha_id" type="hidden" value="([^"]+)"')


def _field(pattern: re.Pattern[str], page: requests.Response) -> str:
    match = pattern.search(page.text)
    if match is None:
        raise RuntimeError(f"{page.url}: the page has no {pattern.pattern.split()[0]} field ({page.status_code})")
    return match.group(1)


def identifier_step(http: requests.Session, server: Server, identifier: str) -> tuple[str, requests.Response]:
    """The IdP's first screen: identifier + CAPTCHA. Returns the form's CSRF token and the answer to the POST."""
    page = http.get(server.base_url + "/login", timeout=30)
    csrf = _field(_CSRF_RE, page)
    step = http.post(
        server.base_url + "/login",
        timeout=30,
        allow_redirects=False,
        data={
            "csrf_token": csrf,
            "identifier": identifier,
            "captcha_id": _field(_CAPTCHA_ID_RE, page),
            "captcha": CAPTCHA,
        },
    )
    return csrf, step


def password_step(http: requests.Session, server: Server, csrf: str) -> requests.Response:
    """The IdP's second screen: the password POST (where argon2id runs)."""
    return http.post(
        server.base_url + "/login/password",
        timeout=30,
        allow_redirects=False,
        data={"csrf_token": csrf, "password": server.password},
    )


def sign_in(http: requests.Session, server: Server, identifier: str) -> requests.Response:
    """The IdP's two screens: identifier + CAPTCHA, then password. Returns the answer to the password POST."""
    csrf, step = identifier_step(http, server, identifier)
    if step.status_code != 302:
        raise RuntimeError(f"identifier step answered {step.status_code}")
    return password_step(http, server, csrf)


def authorization_code(
    http: requests.Session, server: Server, metadata: dict[str, str], identifier: str | None
) -> tuple[str, str]:
    """One authorization request (PKCE S256, state, nonce) followed to the client's redirect: (code, verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": server.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    location = metadata["authorization_endpoint"] + "?" + urlencode(params)
    for _ in range(12):
        if location.startswith(REDIRECT_URI):
            query = parse_qs(urlsplit(location).query)
            if "code" not in query:
                raise RuntimeError(f"authorization refused: {query}")
            return query["code"][0], verifier
        if urlsplit(location).path == "/login" and identifier is not None:
            http.get(location, timeout=30)  # the IdP records where to resume after the sign-in
            answer = sign_in(http, server, identifier)
        else:
            answer = http.get(location, timeout=30, allow_redirects=False)
            if answer.status_code == 200 and 'name="identifier"' in answer.text and identifier is not None:
                # The identifier page in the authorization request's own answer (where to resume is recorded).
                answer = sign_in(http, server, identifier)
        if answer.status_code not in (302, 303):
            raise RuntimeError(f"{location}: {answer.status_code} {answer.text[:300]}")
        location = urljoin(location, answer.headers["Location"])
    raise RuntimeError("too many redirects in the authorization flow")


def mint_tokens(server: Server, count: int) -> tuple[list[str], str]:
    """``count`` refresh tokens, each of its own grant, through the real code flow; and one access token."""
    metadata = server.discovery()
    http = requests.Session()
    identifier = server.voters[0] if server.voters else None
    refresh_tokens: list[str] = []
    access_token = ""
    for _ in range(count):
        code, verifier = authorization_code(http, server, metadata, identifier)
        answer = requests.post(
            metadata["token_endpoint"],
            auth=(server.client_id, server.client_secret),
            timeout=30,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        if answer.status_code != 200:
            raise RuntimeError(f"code exchange answered {answer.status_code}: {answer.text[:300]}")
        body: dict[str, Any] = answer.json()
        if "refresh_token" not in body:
            raise RuntimeError("the token endpoint issued no refresh token")
        refresh_tokens.append(body["refresh_token"])
        access_token = body["access_token"]
    http.close()
    return refresh_tokens, access_token


@dataclass
class SignInResult:
    sign_ins: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.sign_ins / self.seconds if self.seconds else 0.0


def sign_in_load(server: Server, *, duration: float, concurrency: int, max_sign_ins: int) -> SignInResult:
    """``concurrency`` browsers signing in again and again (each as its own fictitious voter) for ``duration``
    seconds; the latency is that of the password POST, where argon2id runs."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    budget = [max_sign_ins]
    deadline = time.perf_counter() + duration

    def browser(identifier: str) -> None:
        http = requests.Session()
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            http.cookies.clear()
            try:
                csrf, step = identifier_step(http, server, identifier)
                started = time.perf_counter()
                answer = password_step(http, server, csrf)
                elapsed = time.perf_counter() - started
            except (requests.RequestException, RuntimeError):
                with lock:
                    errors[0] += 1
                continue
            with lock:
                if step.status_code == 302 and answer.status_code == 302:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
        http.close()

    identifiers = [server.voters[i % len(server.voters)] for i in range(concurrency)]
    browsers = [threading.Thread(target=browser, args=(identifier,)) for identifier in identifiers]
    cpu_before = server.cpu()
    started = time.perf_counter()
    for thread in browsers:
        thread.start()
    for thread in browsers:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_between(cpu_before, server.cpu())
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return SignInResult(len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors[0], cpu)
