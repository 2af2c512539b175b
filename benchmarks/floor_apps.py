"""The two minimal WSGI apps of :mod:`benchmarks.journey_floor`: a voter journey stripped to what any implementation
of it must do.

Plain :class:`flask.Flask` apps (no extension, no template, no form library, no ORM; of Authlib only its PKCE function),
served by granian as the suite's apps are. They answer the browser's requests of :mod:`benchmarks.journey_load` (its
page checks pass: headings, forms, the CAPTCHA image, the ballot's election data, the receipt) and the portal calls the
IdP's token and userinfo endpoints over HTTP through the suite's keep-alive pool (:mod:`infra.http_pool`). Each step
sends PostgreSQL (psycopg, one connection per server thread, prepared from a statement's second run as :mod:`infra.db`
does) and Redis (redis-py, one client per process) as many statements and round trips as the real step does
(:data:`COSTS`), and does the real step's essential cryptography with the suite's own libraries: argon2id at the
production parameters (the password POST), the vote code's keyed hash (:class:`idp.security.keyed.KeyedHasher`), the ID
tokens' ES256 signatures (joserfc, a key of :func:`idp.oidc.keys.generate`) and the portal's checks of them, the CAPTCHA
images (:class:`captcha_challenge.image.LegibleCaptcha`, the suite's image), the ballot's proofs
(:func:`votecrypto.ballot.verify_ballot`). Pages are precomputed bytes of the real pages' sizes (:data:`PAGE_BYTES`).

Configuration from the environment (set by :mod:`benchmarks.journey_floor`): ``FLOOR_DATABASE`` (a psycopg
conninfo), ``FLOOR_REDIS``, ``FLOOR_IDP_URL``, ``FLOOR_PORTAL_URL``, ``FLOOR_SIGNING_KEY`` (the IdP's private JWK,
JSON), ``FLOOR_VERIFY_KEY`` (its public JWK, for the portal), ``FLOOR_ELECTION`` (the scrutin's key and hash, hex,
``key:hash``), ``FLOOR_SECRET`` (the apps' HMAC secret), ``FLOOR_CLIENT_SECRET``, ``FLOOR_CAPTCHA`` (the fixed
CAPTCHA answer, as the journey benchmark's IdP has).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
import redis
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, Response, abort, redirect, request
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.wrappers import Response as Answer

from captcha_challenge.image import LegibleCaptcha
from idp.config import DEFAULTS
from idp.security.keyed import KeyedHasher
from infra.db import PREPARE_THRESHOLD
from infra.http_pool import SharedAdapter, shared_adapter
from votecrypto.ballot import CURRENT_FORMAT, Ballot, BallotRejected, display_code, tracking_code, verify_ballot

SCRUTIN = "BENCH"
CLIENT_ID = "portail-elections"
#: Options of the scrutin's ballot: the journey benchmark's three lists and the blank vote.
OPTIONS = 4
ACR_PASSWORD = "urn:portail-elections:acr:password"
ACR_VOTE_CODE = "urn:portail-elections:acr:vote-code"
SESSION_TTL = 1800


@dataclass(frozen=True)
class Cost:
    """What one step of the real journey sends: SQL statements (``BEGIN``/``COMMIT`` not counted), the
    transactions it commits, and Redis round trips (a command or a pipeline each)."""

    statements: int
    commits: int
    redis: int


#: Per step, the real step's SQL statements, transactions and Redis round trips, read on main at ``488e34e``
#: (7 December 2026) from:
#:
#: - the IdP's browser steps: ``python -m benchmarks.idp_steps --journeys 5 --postgres … --redis …`` (its ``SQL``,
#:   ``BEGIN`` and ``Redis`` columns; no pool ping in any step);
#: - the portal's pages: ``python -m benchmarks.portal_steps --journeys 5 --postgres … --redis …`` (``SQL``,
#:   ``store``); its sign-in steps: ``python -m benchmarks.portal_signin --journeys 5 --postgres private`` (``SQL``,
#:   ``Redis``); each callback's two statements are its audit event's, in a transaction of its own, and the cast's
#:   five its transaction's (docs/operators/capacity.md, "The portal's audit writes");
#: - the back-channel calls: the IdP's ``POST /token`` (the code grant, as ``benchmarks.code_grant`` sends it) and
#:   ``GET /userinfo``, in process with SQLAlchemy's statement events and the lean path's direct statements counted
#:   as ``benchmarks.steps_common`` counts them, and redis-py's sends: 5 statements in one transaction (the code
#:   consumed, the token stored, the grant's audit event) and no Redis round trip; 1 statement and none.
#:
#: The portal's page reads are counted as reads outside a transaction (the floor's cheapest way to send them).
#: Since ``e7b5742`` each callback claims its authorization response's ``state`` first (``SET NX``, so that a twin
#: never redeems the code again): 3 Redis round trips, not 2.
COSTS: dict[str, Cost] = {
    "portal.home": Cost(0, 0, 0),
    "portal.connexion": Cost(0, 0, 1),
    "idp.authorize": Cost(1, 0, 1),
    "idp.captcha": Cost(0, 0, 1),  # and idp.vote_code.captcha: the same route, the same counts
    "idp.login.post": Cost(3, 1, 3),
    "idp.password": Cost(0, 0, 1),
    "idp.password.post": Cost(7, 1, 5),
    "idp.token": Cost(5, 1, 0),  # twice a journey
    "idp.userinfo": Cost(1, 0, 0),
    "portal.callback": Cost(2, 1, 3),
    "portal.home.signed_in": Cost(1, 0, 1),
    "portal.je_vote": Cost(1, 0, 1),
    "portal.vote_code": Cost(0, 0, 2),
    "idp.authorize.vote": Cost(2, 0, 3),
    "idp.vote_code.post": Cost(8, 1, 6),
    "portal.callback.vote": Cost(2, 1, 3),
    "portal.ballot": Cost(1, 0, 1),
    "portal.cast": Cost(5, 1, 1),
    "portal.receipt": Cost(1, 0, 1),
}

#: Per page, the body bytes of the real answer: one journey of ``benchmarks.journey_load`` against the suite on main
#: at ``488e34e`` (granian, PostgreSQL and Redis), each answer's length as the driver read it. The redirects' bodies
#: are Flask's own (the real ones: 189 to 1,211 bytes), the CAPTCHA images the suite's image (2.7 to 2.9 KB).
PAGE_BYTES: dict[str, int] = {
    "portal.home": 4395,
    "idp.authorize": 5509,
    "idp.password": 4557,
    "portal.home.signed_in": 6965,
    "portal.je_vote": 4220,
    "idp.authorize.vote": 5475,
    "portal.ballot": 8923,
    "portal.receipt": 4536,
}


# --- storage ---------------------------------------------------------------------------------------------------------


_local = threading.local()


def _connection() -> psycopg.Connection[Any]:
    """This thread's connection (opened on its first request, kept for the life of the thread)."""
    conn: psycopg.Connection[Any] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(os.environ["FLOOR_DATABASE"], autocommit=True, prepare_threshold=PREPARE_THRESHOLD)
        _local.conn = conn
    return conn


class Work:
    """One step's statements and round trips: the step's own, then trivial ones up to its :class:`Cost`, so that
    every step sends what the real one sends.

    Reads run outside any transaction, one round trip each. Each transaction is one pipeline (``BEGIN``, the
    statements, ``COMMIT``: one round trip). The step's first transaction takes every statement not read before it
    but one for each later transaction, as one-row ``INSERT`` statements of an event added to its own; a missing
    transaction is one such ``INSERT``. Missing reads are primary-key ``SELECT`` statements, missing round trips
    ``GET`` commands."""

    def __init__(self, step: str, store: redis.Redis) -> None:
        self.store = store
        self.conn = _connection()
        self.statements = self.commits = self.trips = 0
        self.becomes(step)

    def becomes(self, step: str) -> None:
        """The request is ``step`` (the two callbacks share a route: known once the session is read)."""
        self.step, self.cost = step, COSTS[step]

    def read(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        self.statements += 1
        row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
        return row

    def write(self, statements: list[tuple[str, tuple[Any, ...]]], subject: str) -> list[tuple[Any, ...] | None]:
        """One transaction, pipelined: ``statements`` and, in the step's first, event inserts up to its count;
        each statement's first row (None for those that return none)."""
        later = self.cost.commits - self.commits - 1  # transactions still to come: one statement kept for each
        missing = self.cost.statements - self.statements - later if not self.commits else 1
        missing -= len(statements)
        padded = statements + [(_PAD_WRITE, (self.step, subject))] * max(0, missing)
        self.statements += len(padded)
        self.commits += 1
        with self.conn.pipeline(), self.conn.transaction():
            cursors = [self.conn.execute(sql, params) for sql, params in padded]
        return [cursor.fetchone() if cursor.description else None for cursor in cursors]

    def redis(self) -> redis.Redis:
        """The store, for one round trip."""
        self.trips += 1
        return self.store

    def done(self, subject: str) -> None:
        while self.commits < self.cost.commits:
            self.write([], subject)
        while self.statements < self.cost.statements:
            self.read(_PAD_READ, (subject,))
        while self.trips < self.cost.redis:
            self.redis().get("floor:pad")
        sent = Cost(self.statements, self.commits, self.trips)
        if sent != self.cost:
            raise RuntimeError(f"{self.step}: sent {sent}, the real step {self.cost}")


_PAD_READ = "SELECT identifier, display_name FROM floor_voter WHERE identifier = %s"
_PAD_WRITE = "INSERT INTO floor_event (kind, subject, at) VALUES (%s, %s, now())"

#: The tables, small, as in the suite (a voter per journey, a code and a token per sign-in, an event per write).
SCHEMA = """
CREATE TABLE floor_voter (
    identifier text PRIMARY KEY, display_name text NOT NULL, password_hash text NOT NULL, vote_code_hash bytea NOT NULL
);
CREATE TABLE floor_client (client_id text PRIMARY KEY, secret_hash bytea NOT NULL, redirect_uri text NOT NULL);
CREATE TABLE floor_code (
    code_hash bytea PRIMARY KEY, identifier text NOT NULL, nonce text NOT NULL, challenge text NOT NULL,
    acr text NOT NULL, auth_time bigint NOT NULL
);
CREATE TABLE floor_token (token_hash bytea PRIMARY KEY, identifier text NOT NULL, expires_at bigint NOT NULL);
CREATE TABLE floor_event (id bigserial PRIMARY KEY, kind text NOT NULL, subject text NOT NULL, at timestamptz NOT NULL);
CREATE TABLE floor_emargement (
    voter text NOT NULL, scrutin text NOT NULL, tracking_code bytea NOT NULL, PRIMARY KEY (scrutin, voter)
);
CREATE TABLE floor_ballot (
    tracking_code bytea PRIMARY KEY, scrutin text NOT NULL, ciphertexts bytea NOT NULL, proofs bytea NOT NULL
);
"""


def store() -> redis.Redis:
    return redis.Redis.from_url(os.environ["FLOOR_REDIS"], decode_responses=True)


# --- pages -----------------------------------------------------------------------------------------------------------


def page(step: str, heading: str, body: str) -> str:
    """A page of ``step``'s real size: its heading and what the browser reads there, padded with a comment (a
    ``%s``-template for the request's values, which are about as long as the real page's)."""
    head = f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{heading}</title></head><body>'
    text = f"{head}<main><h1>{heading}</h1>{body}</main>"
    filler = max(0, PAGE_BYTES.get(step, 0) - len(text.encode()) - len("<!---->") - len("</body></html>"))
    return f"{text}<!--{'x' * filler}--></body></html>"


def html(text: str, status: int = 200) -> Answer:
    return Response(text.encode(), status, content_type="text/html; charset=utf-8")


def _cookie(response: Answer, name: str, value: str) -> Answer:
    response.set_cookie(name, value, httponly=True, samesite="Lax", max_age=SESSION_TTL)
    return response


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


# --- the IdP ---------------------------------------------------------------------------------------------------------


def create_idp() -> Flask:
    app = Flask("floor_idp")
    kv = store()
    public_url = os.environ["FLOOR_IDP_URL"]
    signing = ECKey.import_key(json.loads(os.environ["FLOOR_SIGNING_KEY"]))
    hasher = PasswordHasher(
        time_cost=DEFAULTS["ARGON2_TIME_COST"],
        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
        parallelism=DEFAULTS["ARGON2_PARALLELISM"],
    )
    keyed = KeyedHasher(os.environ["FLOOR_SECRET"])
    image = LegibleCaptcha()
    captcha_answer = os.environ["FLOOR_CAPTCHA"]  # the fixed CAPTCHA of tests, as the journey benchmark's IdP
    login_page = page(
        "idp.authorize",
        "Accès au portail Élections",
        '<form method="post" action="/login"><input type="hidden" name="rid" value="%s">'
        '<input type="hidden" name="captcha_id" value="%s"><img class="captcha-image" src="/captcha/%s.png" alt="">'
        '<input name="identifier"><input name="captcha"></form>',
    )
    password_page = page(
        "idp.password",
        "Saisie du mot de passe Élections",
        '<form method="post" action="/login/password"><input type="hidden" name="csrf" value="%s">'
        '<input type="password" name="password"></form>',
    )
    vote_code_page = page(
        "idp.authorize.vote",
        "Saisie du code de vote",
        '<form method="post" action="/login/vote-code"><input type="hidden" name="rid" value="%s">'
        '<input type="hidden" name="captcha_id" value="%s"><img class="captcha-image" src="/captcha/%s.png" alt="">'
        '<input name="code"><input name="captcha"></form>',
    )

    def session(work: Work) -> dict[str, Any] | None:
        sid = request.cookies.get("idp_sid")
        found = work.redis().get(f"idp:s:{sid}") if sid else None
        return json.loads(found) if found else None

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/authorize")
    def authorize() -> Answer:
        vote = request.args.get("acr_values") == ACR_VOTE_CODE
        work = Work("idp.authorize.vote" if vote else "idp.authorize", kv)
        client = work.read(
            "SELECT redirect_uri FROM floor_client WHERE client_id = %s", (request.args.get("client_id", ""),)
        )
        redirect_uri = request.args.get("redirect_uri", "")
        if client is None or client[0] != redirect_uri or request.args.get("code_challenge_method") != "S256":
            abort(400)
        voter = ""
        if vote:
            signed_in = session(work)
            if signed_in is None or "voter" not in signed_in:
                abort(400)
            voter = signed_in["voter"]
        rid, captcha_id = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        params = {name: request.args.get(name, "") for name in ("state", "nonce", "code_challenge", "redirect_uri")}
        with work.redis().pipeline(transaction=False) as pipe:
            pipe.set(f"idp:ar:{rid}", json.dumps({**params, "voter": voter}), ex=SESSION_TTL)
            pipe.set(f"idp:captcha:{captcha_id}", captcha_answer, ex=600)
            pipe.execute()
        work.done(voter or rid)
        return html((vote_code_page if vote else login_page) % (rid, captcha_id, captcha_id))

    @app.get("/captcha/<captcha_id>.png")
    def captcha(captcha_id: str) -> Answer:
        work = Work("idp.captcha", kv)
        answer = work.redis().get(f"idp:captcha:{captcha_id}")
        if answer is None:
            abort(404)
        png = image.png(str(answer))
        work.done(captcha_id)
        return Response(png, content_type="image/png", headers={"Cache-Control": "no-store"})

    def challenge(work: Work) -> dict[str, Any]:
        """The form's authorization request and its CAPTCHA answer, taken in one round trip."""
        form = request.form
        with work.redis().pipeline(transaction=False) as pipe:
            pipe.getdel(f"idp:captcha:{form.get('captcha_id', '')}")
            pipe.get(f"idp:ar:{form.get('rid', '')}")
            expected, params = pipe.execute()
        if expected is None or params is None or not hmac.compare_digest(form.get("captcha", ""), expected):
            abort(400)
        found: dict[str, Any] = json.loads(params)
        found["rid"] = form["rid"]
        return found

    @app.post("/login")
    def login() -> Answer:
        work = Work("idp.login.post", kv)
        params = challenge(work)
        identifier = request.form.get("identifier", "")
        if work.read("SELECT 1 FROM floor_voter WHERE identifier = %s", (identifier,)) is None:
            abort(400)
        sid, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        work.redis().set(
            f"idp:s:{sid}", json.dumps({"pending": identifier, "rid": params["rid"], "csrf": csrf}), ex=SESSION_TTL
        )
        work.done(identifier)
        return _cookie(redirect("/login/password", 302), "idp_sid", sid)

    @app.get("/login/password")
    def password() -> Answer:
        work = Work("idp.password", kv)
        state = session(work)
        if state is None or "pending" not in state:
            abort(400)
        work.done(state["pending"])
        return html(password_page % state["csrf"])

    def issue_code(work: Work, params: dict[str, Any], voter: str, acr: str) -> str:
        """The authorization code and the sign-in's audit event, in the step's transaction; where the browser
        goes with it."""
        code = secrets.token_urlsafe(32)
        work.write(
            [
                (
                    "INSERT INTO floor_code (code_hash, identifier, nonce, challenge, acr, auth_time) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (_digest(code), voter, params["nonce"], params["code_challenge"], acr, int(time.time())),
                ),
                (_PAD_WRITE, (acr, voter)),
            ],
            voter,
        )
        return f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params['state']})}"

    @app.post("/login/password")
    def password_post() -> Answer:
        work = Work("idp.password.post", kv)
        state = session(work)
        if state is None or "pending" not in state or request.form.get("csrf") != state["csrf"]:
            abort(400)
        voter = state["pending"]
        row = work.read("SELECT password_hash FROM floor_voter WHERE identifier = %s", (voter,))
        try:
            if row is None or not hasher.verify(row[0], request.form.get("password", "")):
                abort(400)
        except VerifyMismatchError:
            abort(400)
        params = json.loads(work.redis().getdel(f"idp:ar:{state['rid']}") or "null")
        if params is None:
            abort(400)
        location = issue_code(work, params, voter, ACR_PASSWORD)
        sid = secrets.token_urlsafe(24)
        with work.redis().pipeline(transaction=False) as pipe:
            pipe.set(f"idp:s:{sid}", json.dumps({"voter": voter}), ex=SESSION_TTL)
            pipe.delete(f"idp:s:{request.cookies['idp_sid']}")
            pipe.execute()
        work.done(voter)
        return _cookie(redirect(location, 302), "idp_sid", sid)

    @app.post("/login/vote-code")
    def vote_code_post() -> Answer:
        work = Work("idp.vote_code.post", kv)
        params = challenge(work)
        state = session(work)
        voter = params["voter"]
        if state is None or state.get("voter") != voter:
            abort(400)
        found = work.read("SELECT vote_code_hash FROM floor_voter WHERE identifier = %s", (voter,))
        if found is None or not keyed.matches("vote_code", request.form.get("code", ""), bytes(found[0])):
            abort(400)
        work.redis().delete(f"idp:ar:{params['rid']}")
        location = issue_code(work, params, voter, ACR_VOTE_CODE)
        work.done(voter)
        return redirect(location, 302)

    @app.post("/token")
    def token() -> Answer:
        work = Work("idp.token", kv)
        client_id, _, secret = base64.b64decode(request.headers["Authorization"].split()[1]).decode().partition(":")
        client = work.read("SELECT secret_hash FROM floor_client WHERE client_id = %s", (client_id,))
        if client is None or not hmac.compare_digest(_digest(secret), bytes(client[0])):
            abort(401)
        access = secrets.token_urlsafe(32)
        rows = work.write(
            [
                (
                    "WITH code AS (DELETE FROM floor_code WHERE code_hash = %s RETURNING *), "
                    "token AS (INSERT INTO floor_token (token_hash, identifier, expires_at) "
                    "SELECT %s, identifier, %s FROM code) "
                    "SELECT identifier, nonce, challenge, acr, auth_time FROM code",
                    (_digest(request.form.get("code", "")), _digest(access), int(time.time()) + 600),
                )
            ],
            client_id,
        )
        if rows[0] is None:
            abort(400)
        voter, nonce, challenge_, acr, auth_time = rows[0]
        verifier = request.form.get("code_verifier", "")
        if not hmac.compare_digest(create_s256_code_challenge(verifier), challenge_):
            abort(400)
        now = int(time.time())
        claims = {
            "iss": public_url,
            "sub": hashlib.sha256(voter.encode()).hexdigest()[:32],
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": auth_time,
            "acr": acr,
            "amr": ["pwd"] if acr == ACR_PASSWORD else ["otp"],
            "nonce": nonce,
            "sid": secrets.token_urlsafe(16),
        }
        id_token = jwt.encode({"alg": "ES256", "kid": signing.kid, "typ": "JWT"}, claims, signing, algorithms=["ES256"])
        work.done(client_id)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 600, "id_token": id_token}
        return Response(json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"})

    @app.get("/userinfo")
    def userinfo() -> Answer:
        work = Work("idp.userinfo", kv)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        row = work.read(
            "SELECT v.identifier, v.display_name FROM floor_token t JOIN floor_voter v ON v.identifier = t.identifier "
            "WHERE t.token_hash = %s AND t.expires_at > %s",
            (_digest(bearer), int(time.time())),
        )
        if row is None:
            abort(401)
        work.done(row[0])
        claims = {
            "sub": hashlib.sha256(row[0].encode()).hexdigest()[:32],
            "email": row[0],
            "name": row[1],
            "academie": "exemple",
        }
        return Response(json.dumps(claims), content_type="application/json")

    return app


# --- the portal ------------------------------------------------------------------------------------------------------


def create_portal() -> Flask:
    app = Flask("floor_portal")
    kv = store()
    idp_url, portal_url = os.environ["FLOOR_IDP_URL"], os.environ["FLOOR_PORTAL_URL"]
    verify_key = ECKey.import_key(json.loads(os.environ["FLOOR_VERIFY_KEY"]))
    election_key, election_hash = (bytes.fromhex(part) for part in os.environ["FLOOR_ELECTION"].split(":"))
    secret = os.environ["FLOOR_SECRET"].encode()
    basic = base64.b64encode(f"{CLIENT_ID}:{os.environ['FLOOR_CLIENT_SECRET']}".encode()).decode()
    adapter: SharedAdapter = shared_adapter(app)
    settings = {"proxies": {}, "verify": True, "cert": None}
    token_route = adapter.route(f"{idp_url}/token", settings)
    userinfo_route = adapter.route(f"{idp_url}/userinfo", settings)
    callback = f"{portal_url}/connexion/retour"
    home_page = page("portal.home", "Portail Élections", '<a href="/connexion">Accéder au portail Élections</a>')
    signed_in_page = page("portal.home.signed_in", "Bienvenue sur votre portail Élections", "<p>%s</p>")
    je_vote_page = page(
        "portal.je_vote",
        "Je vote",
        f'<p>%s</p><a href="/je-vote/code?next=%%2Fje-vote%%2F{SCRUTIN}">Voter</a>',
    )
    ballot_page = page(
        "portal.ballot",
        "Bulletin de vote",
        f'<form method="post" action="/je-vote/{SCRUTIN}/bulletin" data-key="{election_key.hex()}" '
        f'data-election="{election_hash.hex()}" data-nonce="%s" data-options="{OPTIONS}" '
        f'data-format="{CURRENT_FORMAT}"><input type="hidden" name="csrf" value="%s"></form>',
    )
    receipt_page = page("portal.receipt", "Votre vote a été enregistré", '<p class="receipt-code">%s</p>')

    def session(work: Work) -> tuple[str, dict[str, Any]] | None:
        sid = request.cookies.get("portal_sid")
        found = work.redis().get(f"portal:s:{sid}") if sid else None
        return (sid, json.loads(found)) if sid and found else None

    def signed_in(work: Work, level: str | None = None) -> tuple[str, dict[str, Any]]:
        found = session(work)
        if found is None or "voter" not in found[1] or (level is not None and found[1].get("level") != level):
            abort(403)
        return found

    def sign_in(work: Work, acr: str, data: dict[str, Any], follow: str) -> Answer:
        """Start an authorization request: its state, nonce and PKCE verifier in a new session; the redirect."""
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        sid = secrets.token_urlsafe(24)
        pending = {"state": state, "nonce": nonce, "verifier": verifier, "acr": acr, "next": follow}
        work.redis().set(f"portal:s:{sid}", json.dumps({**data, "pending": pending}), ex=SESSION_TTL)
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": callback,
            "scope": "openid profile email academie",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if acr == ACR_VOTE_CODE:
            query["acr_values"] = acr
        return _cookie(redirect(f"{idp_url}/authorize?{urlencode(query)}", 302), "portal_sid", sid)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/")
    def home() -> Answer:
        if "portal_sid" not in request.cookies:
            Work("portal.home", kv).done("")
            return html(home_page)
        work = Work("portal.home.signed_in", kv)
        _, data = signed_in(work)
        roll = work.read(_PAD_READ, (data["voter"],))
        work.done(data["voter"])
        return html(signed_in_page % (roll[1] if roll else ""))

    @app.get("/connexion")
    def connexion() -> Answer:
        work = Work("portal.connexion", kv)
        response = sign_in(work, ACR_PASSWORD, {}, "/")
        work.done("")
        return response

    @app.get("/je-vote/code")
    def vote_code() -> Answer:
        work = Work("portal.vote_code", kv)
        sid, data = signed_in(work)
        response = sign_in(work, ACR_VOTE_CODE, {"voter": data["voter"], "retired": sid}, f"/je-vote/{SCRUTIN}")
        work.done(data["voter"])
        return response

    @app.get("/connexion/retour")
    def callback_() -> Answer:
        work = Work("portal.callback", kv)
        found = session(work)
        pending = found[1].get("pending") if found else None
        if found is None or pending is None or request.args.get("state") != pending["state"]:
            abort(400)
        vote = pending["acr"] == ACR_VOTE_CODE
        if vote:
            work.becomes("portal.callback.vote")
        claim = "portal:claimed:" + hashlib.sha256(pending["state"].encode()).hexdigest()
        if not work.redis().set(claim, "1", nx=True, ex=3600):  # a twin: the code is redeemed once
            abort(409)
        body = urlencode(
            {
                "grant_type": "authorization_code",
                "code": request.args.get("code", ""),
                "redirect_uri": callback,
                "code_verifier": pending["verifier"],
            }
        ).encode()
        headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
        answer = adapter.send_on(token_route, "POST", headers, body, 10.0)
        if answer.status != 200:
            abort(502)
        tokens = json.loads(answer.data)
        claims = jwt.decode(tokens["id_token"], verify_key, algorithms=["ES256"]).claims
        now = time.time()
        if (
            claims["iss"] != idp_url
            or claims["aud"] != CLIENT_ID
            or claims["exp"] < now
            or claims["nonce"] != pending["nonce"]
            or claims["acr"] != pending["acr"]
        ):
            abort(400)
        if vote:
            voter = found[1]["voter"]
        else:
            info = adapter.send_on(
                userinfo_route, "GET", {"Authorization": f"Bearer {tokens['access_token']}"}, None, 10.0
            )
            if info.status != 200:
                abort(502)
            voter = json.loads(info.data)["email"]
        work.write([(_PAD_WRITE, (pending["acr"], voter))], voter)
        sid = secrets.token_urlsafe(24)
        data = {"voter": voter, "level": pending["acr"], "sub": claims["sub"]}
        with work.redis().pipeline(transaction=False) as pipe:
            pipe.set(f"portal:s:{sid}", json.dumps(data), ex=SESSION_TTL)
            pipe.delete(f"portal:s:{found[0]}")
            pipe.execute()
        work.done(voter)
        return _cookie(redirect(pending["next"], 302), "portal_sid", sid)

    @app.get("/je-vote")
    def je_vote() -> Answer:
        work = Work("portal.je_vote", kv)
        _, data = signed_in(work)
        roll = work.read(_PAD_READ, (data["voter"],))
        work.done(data["voter"])
        return html(je_vote_page % (roll[1] if roll else ""))

    def ballot_nonce(sid: str) -> bytes:
        return hmac.new(secret, f"ballot-nonce|{sid}|{SCRUTIN}".encode(), hashlib.sha256).digest()

    @app.get(f"/je-vote/{SCRUTIN}")
    def ballot() -> Answer:
        work = Work("portal.ballot", kv)
        sid, data = signed_in(work, ACR_VOTE_CODE)
        work.read(_PAD_READ, (data["voter"],))
        work.done(data["voter"])
        return html(ballot_page % (ballot_nonce(sid).hex(), hmac.new(secret, sid.encode(), "sha256").hexdigest()))

    @app.post(f"/je-vote/{SCRUTIN}/bulletin")
    def cast() -> Answer:
        work = Work("portal.cast", kv)
        sid, data = signed_in(work, ACR_VOTE_CODE)
        if not hmac.compare_digest(request.form.get("csrf", ""), hmac.new(secret, sid.encode(), "sha256").hexdigest()):
            abort(400)
        try:
            cast_ballot = Ballot.from_json(json.loads(request.form.get("ballot", "")))
            verify_ballot(
                cast_ballot,
                key=election_key,
                election=election_hash,
                options=OPTIONS,
                nonce=ballot_nonce(sid),
                proof_format=CURRENT_FORMAT,
            )
        except (BallotRejected, ValueError):
            abort(400)
        ciphertexts = cast_ballot.ciphertexts()
        code = tracking_code(election_hash, ciphertexts)
        voter = data["voter"]
        work.write(
            [
                (
                    "INSERT INTO floor_emargement (voter, scrutin, tracking_code) VALUES (%s, %s, %s)",
                    (voter, SCRUTIN, code),
                ),
                (
                    "INSERT INTO floor_ballot (tracking_code, scrutin, ciphertexts, proofs) VALUES (%s, %s, %s, %s)",
                    (code, SCRUTIN, ciphertexts, cast_ballot.proofs()),
                ),
                (_PAD_WRITE, ("ballot.cast", voter)),
            ],
            voter,
        )
        work.done(voter)
        return redirect(f"/je-vote/{SCRUTIN}/recu", 303)

    @app.get(f"/je-vote/{SCRUTIN}/recu")
    def receipt() -> Answer:
        work = Work("portal.receipt", kv)
        _, data = signed_in(work)
        row = work.read(
            "SELECT tracking_code FROM floor_emargement WHERE scrutin = %s AND voter = %s", (SCRUTIN, data["voter"])
        )
        if row is None:
            abort(404)
        work.done(data["voter"])
        return html(receipt_page % display_code(bytes(row[0])))

    return app
