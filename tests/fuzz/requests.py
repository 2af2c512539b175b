"""Generated HTTP requests for the fuzz suite: any route of an application's ``url_map``, any method, hostile path
values, duplicated and badly encoded parameters, huge and empty fields, bodies that are not what they claim, with
or without a CSRF token, with broken credentials. Hypothesis draws them; :func:`send` plays one on a test client
and checks the two rules that hold for every input: never a 5xx, never a redirect off the origin."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st

from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
#: Parameter names the applications read, so that generated requests reach their code, not only the 400s.
NAMES = [
    "next", "tx", "req", "state", "code", "iss", "error", "error_description", "page", "type", "debut", "fin",
    "client", "sujet", "jeton", "apres", "client_id", "client_secret", "redirect_uri", "response_type", "scope",
    "nonce", "code_challenge", "code_challenge_method", "code_verifier", "prompt", "max_age", "acr_values",
    "login_hint", "id_token_hint", "post_logout_redirect_uri", "ui_locales", "response_mode", "token",
    "token_type_hint", "grant_type", "refresh_token", "client_assertion", "client_assertion_type", "csrf_token",
    "identifier", "captcha", "captcha_id", "password", "password_confirm", "question", "answer", "identity",
    "channel", "email", "phone", "noted", "decision", "choice", "contact_name", "contact_email", "academie",
    "topic", "message", "scrutin", "logout_token", "access_token",
]  # fmt: skip
_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


@dataclass
class Generated:
    method: str
    path: str
    query: bytes
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    with_csrf: bool = False


texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HOSTILE_LOCATIONS),
    st.sampled_from(["", " ", "0", "-1", "99999999999999999999", "null", "[]", "{}", "%", "%ff", "a" * 5000]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8).map(lambda s: s * 300),
)


def _encode(value: str, raw: bool) -> str:
    """Percent-encoded (as a browser would), or left raw with invalid percent-escapes and bytes added."""
    if raw:
        return value.replace(" ", "+").replace("&", "%26").replace("#", "%23") + "%FF%FE%C3"
    return quote(value, safe="")


# The strategies are built once, here, not at each draw: Hypothesis works out a new strategy's properties the first
# time it draws from it, which cost more than the draws themselves when every request built its strategies afresh.
_ITEMS = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=10)), texts), max_size=6)
_INTEGERS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 3]))
_SEGMENTS = st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(["OPEN", "x", "..", "%2e%2e"]))
_BODY_KINDS = st.sampled_from(["none", "form", "form", "json", "bytes", "multipart"])
_JSON = st.one_of(st.just(b"{"), st.just(b"[]"), st.binary(max_size=60), st.just(b'{"redirect_uris": 1}'))
_CONTENT_TYPES = st.sampled_from(["text/plain", "", "application/x"])
_AUTHORIZATIONS = st.sampled_from(["none", "none", "basic", "bearer", "other"])
_LATIN1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=60)
_ACCEPTS = st.sampled_from(["application/json", "*/*", "text/html", "application/jwt"])
_ANY_METHOD = st.sampled_from(METHODS)


@st.composite
def pairs(draw: st.DrawFn) -> bytes:
    items = draw(_ITEMS)
    if items and draw(st.booleans()):
        items.append(items[0])  # a duplicated parameter
    raw = draw(st.booleans())
    text = "&".join(f"{_encode(k, raw)}={_encode(v, raw)}" for k, v in items)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def path_for(draw: st.DrawFn, rule: str) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group("conv") == "int":
            return str(draw(_INTEGERS))
        text = draw(_SEGMENTS)
        return quote(text, safe="") or "x"

    return _ARG.sub(value, rule)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes | None, dict[str, str]]:
    kind = draw(_BODY_KINDS)
    if kind == "none":
        return None, {}
    if kind == "form":
        return draw(pairs()), {"Content-Type": "application/x-www-form-urlencoded"}
    if kind == "json":
        data = draw(_JSON)
        return data, {"Content-Type": "application/json"}
    if kind == "multipart":
        return draw(st.binary(max_size=200)), {"Content-Type": "multipart/form-data; boundary=x"}
    return draw(st.binary(max_size=300)), {"Content-Type": draw(_CONTENT_TYPES)}


@st.composite
def headers(draw: st.DrawFn) -> dict[str, str]:
    chosen: dict[str, str] = {}
    auth = draw(_AUTHORIZATIONS)
    if auth == "basic":
        chosen["Authorization"] = "Basic " + base64.b64encode(draw(st.binary(max_size=40))).decode()
    elif auth == "bearer":
        chosen["Authorization"] = "Bearer " + draw(_LATIN1)
    elif auth == "other":
        chosen["Authorization"] = draw(_LATIN1)
    if draw(st.booleans()):
        chosen["Accept"] = draw(_ACCEPTS)
    return {k: v for k, v in chosen.items() if "\n" not in v and "\r" not in v}


def rules_of(app: Flask) -> list[tuple[str, list[str]]]:
    """Every route of the application with its methods (HEAD and OPTIONS aside)."""
    found = []
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        found.append((rule.rule, methods))
    return sorted(found)


def requests_for(rules: list[tuple[str, list[str]]]) -> st.SearchStrategy[Generated]:
    """Requests to any of ``rules`` (from :func:`rules_of`); their strategies built once."""
    # One entry per route: a path registered twice (a GET view and a POST view) keeps each route's own methods.
    entries = [(rule, tuple(methods)) for rule, methods in rules]
    chosen_entry = st.sampled_from(entries)
    methods_of = {entry: st.one_of(st.sampled_from(entry[1] or ("GET",)), _ANY_METHOD) for entry in entries}
    paths_of = {rule: path_for(rule) for rule, _ in entries}
    body_kinds, queries, header_sets, flags = bodies(), pairs(), headers(), st.booleans()

    @st.composite
    def one(draw: st.DrawFn) -> Generated:
        entry = draw(chosen_entry)
        rule, method = entry[0], draw(methods_of[entry])
        body, content_headers = draw(body_kinds) if method != "GET" else (None, {})
        return Generated(
            method=method,
            path=draw(paths_of[rule]),
            query=draw(queries),
            body=body,
            headers={**draw(header_sets), **content_headers},
            with_csrf=draw(flags),
        )

    return one()


def send(
    client: FlaskClient, request: Generated, *, origin: str, csrf: str | None, allowed_origins: tuple[str, ...] = ()
) -> None:
    """Play ``request`` and check it: no 5xx, no redirect off the origin."""
    body = request.body
    if request.with_csrf and csrf and request.headers.get("Content-Type") == "application/x-www-form-urlencoded":
        body = (body or b"") + b"&csrf_token=" + quote(csrf, safe="").encode()
    response = client.open(
        request.path,
        method=request.method,
        query_string=request.query.decode("latin-1"),
        data=body,
        headers=request.headers,
    )
    shown = f"{request.method} {request.path}?{request.query[:200]!r}"
    assert_stays_on_origin(response, origin + request.path, allowed_origins=allowed_origins, value=shown)
    response.close()
