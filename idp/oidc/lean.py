"""Userinfo, introspection and the token grants answered before Flask, in their common case; the rest goes to Flask.

The token endpoints are the provider's hot path: a voter's portal reads userinfo after each sign-in and a resource
server introspects the access token of every call it receives. Through Flask and Authlib each such request built a
Flask request and context, Authlib's request and validator objects, and an ORM load of the token joined with its
client and voter (about 60 columns turned into three objects). :class:`LeanEndpoints`, a WSGI middleware just in
front of Flask (behind the trusted-proxy fix, so scheme and host are the client's), answers:

* ``GET /userinfo`` with ``Authorization: Bearer``: one narrow statement (the token's state, its client's two
  columns that matter and the voter's claims), outside any transaction on PostgreSQL and through psycopg directly
  (:mod:`idp.oidc.direct_read`), then the same JSON Flask would have sent;
* ``POST /introspect`` authenticated by ``client_secret_basic`` for a token of that same client: one narrow
  statement outside any transaction, as userinfo's (the token and which of its answers were recorded, its client's
  secret digest and method, its voter's subject); the first time this answer (active or inactive) is given for
  this token, the mark and the ``token.introspected`` audit event in one transaction
  (:func:`idp.oidc.tokens.send_introspection`): on PostgreSQL on the read's own pooled connection (one checkout),
  the mark and the event sent together in one round trip, the transaction rolled back if a concurrent request
  marked the same answer first (its event is the one kept); the same JSON;
* ``POST /token`` with ``grant_type=client_credentials`` (and at most ``scope``), authenticated by
  ``client_secret_basic``, for a client registered for that grant and the scopes it asks: in one transaction, as
  the grant does, the client read, its access token stored and the ``token.issued`` event;
* ``POST /token`` with ``grant_type=refresh_token`` (and no ``scope``), authenticated by ``client_secret_basic``,
  for a live refresh token of that client not yet rotated: in one transaction, as the grant does
  (:mod:`idp.oidc.grants`, :func:`idp.oidc.tokens.save`), the narrow read, the signing key resolved, the rotation
  mark (``UPDATE … WHERE rotated_at IS NULL``: of two concurrent uses one only wins), the two new tokens in one
  ``INSERT``, the ``token.refreshed`` audit event and the ID token; then the commit. On PostgreSQL the read goes
  through psycopg directly and the mark, the tokens and the event travel together in one round trip (psycopg's
  pipeline, :class:`hashchain.append.PipelinedWrite`, :func:`hashchain.append.queue`): a mark that did not take
  (a concurrent rotation won) rolls the whole transaction back, as the client_credentials and authorization_code
  grants below do with theirs;
* ``POST /token`` with ``grant_type=authorization_code``, ``code``, ``redirect_uri`` and ``code_verifier`` (the
  portal's callbacks), authenticated by ``client_secret_basic``, for an unused, unexpired code of that client with
  its S256 challenge met, a matching redirect URI and a public subject: in one transaction, as the grant does
  (:mod:`idp.oidc.grants`, :func:`idp.oidc.codes.consume`, :func:`idp.oidc.tokens.save`), the code read with its
  client and voter in one statement, the signing key resolved, the code marked used (``UPDATE … WHERE used_at IS
  NULL``: of two concurrent redemptions one only wins, the other goes to Flask, where it is a reuse that revokes
  the grant), the access and refresh tokens in one ``INSERT``, the ``token.issued`` audit event and the ID token
  (with the authorization request's nonce, and the claims of its scopes for a client registered with
  ``id_token_claims``, read in the same statement); then the commit.

Whenever anything is not that common case — another method of client authentication, a token unknown or of
another client, a wrong secret, a disabled client, a client that wants its userinfo signed, a refresh token already
rotated or a code already used (its reuse revokes the grant, in the grant's code), a race lost on the rotation or
the redemption, a PKCE verifier or redirect URI that does not match, a pairwise client, an insecure transport,
a duplicated or unexpected parameter, an error of the database — the request is handed, untouched, to the Flask
views (:mod:`idp.oidc.views.protocol`), which remain the reference: they give the standard error answers
(``WWW-Authenticate`` included), signed userinfo and the ``503`` of an unavailable database. Nothing is written
before the hand-over (an introspection's audit event commits only once its answer is settled), so a request is
never half-served twice. ``tests/idp/oidc/test_lean.py`` checks that both paths answer the same bytes and headers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, create_s256_code_challenge
from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, text, update
from werkzeug.wsgi import get_current_url

from hashchain.append import PipelinedWrite, pipeline
from idp.audit import queue_record
from idp.models import Voter
from idp.oidc import jwt_signing
from idp.oidc.claims import claims_for_scope, id_token_claims
from idp.oidc.crypto import digest, new_identifier, new_secret
from idp.oidc.direct_read import DirectRead
from idp.oidc.models import OidcAuthorizationCode, OidcClient, OidcToken, allowed_scope
from idp.oidc.tokens import MAX_TOKEN_LENGTH, introspection_claims, introspection_recorded, send_introspection
from infra.db import READ_ONLY, Database
from infra.observability import FACTS_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from idp.oidc.provider import Provider

logger = logging.getLogger(__name__)

USERINFO_PATH = "/userinfo"
INTROSPECTION_PATH = "/introspect"
TOKEN_PATH = "/token"  # noqa: S105 - a path
BASIC = "client_secret_basic"
#: A form larger than this is not a plain introspection request: Flask reads it.
MAX_FORM_BYTES = 4096
#: Hosts whose transport check is kept (a server is reached under a few names; any beyond are checked each time).
MAX_HOSTS_KEPT = 16
#: The headers Authlib's JSON answers carry (``authlib.consts.default_json_headers``).
JSON_HEADERS = (("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache"))

_token = OidcToken.__table__.c
_client = OidcClient.__table__.c
_voter = Voter.__table__.c
#: The voter's columns that the released claims are made of (idp.oidc.claims), read with userinfo's token and, for
#: a client registered to have them in its ID token, with the code.
_CLAIM_COLUMNS = (
    _voter.first_names,
    _voter.family_name,
    _voter.identifier,
    _voter.activated_at,
    _voter.role,
    _voter.birth_date,
    _voter.academie,
    _voter.gender,
)
_HOLDERS = OidcToken.__table__.join(OidcClient.__table__, _client.client_id == _token.client_id).outerjoin(
    Voter.__table__, _voter.id == _token.voter_id
)
#: Userinfo: the token's state, whether its client is enabled and wants signed answers, the voter's claims.
_USERINFO = (
    select(
        _token.kind,
        _token.subject,
        _token.scope,
        _token.expires_at,
        _token.revoked_at,
        _token.voter_id,
        _client.disabled_at,
        _client.userinfo_signed_response_alg,
        _voter.id.label("voter_found"),
        *_CLAIM_COLUMNS,
    )
    .select_from(_HOLDERS)
    .where(_token.token_hash == bindparam("token_hash"))
)
#: Introspection: the token and which of its answers were recorded, its client's credentials, its voter's public
#: subject (named in the audit event).
_INTROSPECTION = (
    select(
        _token.id,
        _token.introspected_active_at,
        _token.introspected_inactive_at,
        _token.kind,
        _token.jti,
        _token.client_id,
        _token.subject,
        _token.scope,
        _token.auth_time,
        _token.acr,
        _token.issued_at,
        _token.expires_at,
        _token.revoked_at,
        _token.rotated_at,
        _token.voter_id,
        _client.client_secret_hash,
        _client.token_endpoint_auth_method,
        _client.disabled_at,
        _voter.id.label("voter_found"),
        _voter.subject.label("voter_subject"),
    )
    .select_from(_HOLDERS)
    .where(_token.token_hash == bindparam("token_hash"))
)
#: Both reads outside any transaction: on PostgreSQL through psycopg directly (:mod:`idp.oidc.direct_read`).
_USERINFO_READ = DirectRead(_USERINFO)
_INTROSPECTION_READ = DirectRead(_INTROSPECTION)
#: The refresh grant: the token and what its successors copy, the client's credentials and what the grant reads
#: of it (grant types, scopes, lifetimes, ID token algorithm), the voter's public subject (named in the event).
_REFRESH = (
    select(
        _token.id,
        _token.kind,
        _token.jti,
        _token.grant_id,
        _token.client_id,
        _token.voter_id,
        _token.subject,
        _token.scope,
        _token.auth_time,
        _token.acr,
        _token.amr,
        _token.sid,
        _token.expires_at,
        _token.revoked_at,
        _token.rotated_at,
        _client.client_secret_hash,
        _client.token_endpoint_auth_method,
        _client.disabled_at,
        _client.grant_types,
        _client.scope.label("client_scope"),
        _client.access_token_ttl,
        _client.id_token_signed_response_alg,
        _client.id_token_ttl,
        _voter.id.label("voter_found"),
        _voter.subject.label("voter_subject"),
    )
    .select_from(_HOLDERS)
    .where(_token.token_hash == bindparam("token_hash"))
)
_CODES_TABLE: Table = OidcAuthorizationCode.__table__  # type: ignore[assignment]
_code = _CODES_TABLE.c
#: The authorization_code grant: the code and what its tokens copy, the client's credentials and what the grant
#: reads of it (grant types, scopes, lifetimes, subject type, ID token algorithm), the voter's public subject.
_REDEEM = (
    select(
        _code.id,
        _code.client_id,
        _code.voter_id,
        _code.grant_id,
        _code.redirect_uri,
        _code.scope,
        _code.nonce,
        _code.code_challenge,
        _code.code_challenge_method,
        _code.auth_time,
        _code.acr,
        _code.amr,
        _code.sid,
        _code.expires_at,
        _code.used_at,
        _client.client_secret_hash,
        _client.token_endpoint_auth_method,
        _client.disabled_at,
        _client.grant_types,
        _client.scope.label("client_scope"),
        _client.subject_type,
        _client.access_token_ttl,
        _client.refresh_token_ttl,
        _client.id_token_signed_response_alg,
        _client.id_token_ttl,
        _client.id_token_claims,
        _voter.id.label("voter_found"),
        _voter.subject.label("voter_subject"),
        *_CLAIM_COLUMNS,  # for a client registered to have its claims in its ID token (claims.id_token_claims)
    )
    .select_from(
        _CODES_TABLE.join(OidcClient.__table__, _client.client_id == _code.client_id).outerjoin(
            Voter.__table__, _voter.id == _code.voter_id
        )
    )
    .where(_code.code_hash == bindparam("code_hash"))
)
#: Marks a code used if it was not (:func:`idp.oidc.codes.consume`'s UPDATE in Core): of two concurrent
#: redemptions one only wins; on PostgreSQL the other waits for the winner's commit, then matches no row.
_TAKE_CODE = (
    update(_CODES_TABLE)
    .where(_code.id == bindparam("code_id"), _code.used_at.is_(None))
    .values(used_at=bindparam("used_at", type_=_code.used_at.type))
)
#: The parameters of the portal's code exchange: anything more or less is Flask's to read.
_REDEEM_PARAMS = frozenset({"grant_type", "code", "redirect_uri", "code_verifier"})
_TOKENS_TABLE: Table = OidcToken.__table__  # type: ignore[assignment]
#: :data:`idp.oidc.tokens.TAKE_FOR_ROTATION` in Core (the ORM's bulk UPDATE machinery is not needed for one row).
_TAKE_FOR_ROTATION = (
    update(_TOKENS_TABLE)
    .where(
        _TOKENS_TABLE.c.id == bindparam("token_id"),
        _TOKENS_TABLE.c.rotated_at.is_(None),
        _TOKENS_TABLE.c.revoked_at.is_(None),
    )
    .values(rotated_at=bindparam("taken_at", type_=_TOKENS_TABLE.c.rotated_at.type))
)
#: client_credentials: what the grant reads of the client that authenticates.
_SERVICE_CLIENT = select(
    _client.client_secret_hash,
    _client.token_endpoint_auth_method,
    _client.disabled_at,
    _client.grant_types,
    _client.scope,
    _client.access_token_ttl,
).where(_client.client_id == bindparam("client_id"))
_NEW_TOKEN_COLUMNS = [column for column in _TOKENS_TABLE.c if column.name != "id"]
#: One token (a service's access token, or a code's when its client has no refresh grant), every column bound by
#: its name.
_INSERT_ONE_TOKEN = insert(_TOKENS_TABLE).values(
    {column.name: bindparam(column.name, type_=column.type) for column in _NEW_TOKEN_COLUMNS}
)
_TOKEN_PREFIXES = ("access", "refresh")
#: Both new tokens of the refresh grant in one multi-row INSERT, each column bound as ``access_<name>`` and
#: ``refresh_<name>`` (the ORM's bulk insert of two dictionaries cost about as much as the rest of the grant).
#: Written as text: SQLAlchemy gives a multi-row ``insert().values([...])`` no cache key, so it compiled that
#: statement again on every request (about a third of the grant's Python time when profiled); a ``text()`` with
#: typed parameters is compiled once. Both dialects take a multi-row ``VALUES``.
_COLUMN_LIST = ", ".join(column.name for column in _NEW_TOKEN_COLUMNS)
_VALUES_LIST = ", ".join(
    "(" + ", ".join(f":{prefix}_{column.name}" for column in _NEW_TOKEN_COLUMNS) + ")" for prefix in _TOKEN_PREFIXES
)
#: The table's and its columns' own names, and named parameters: nothing of a request is in the text.
_INSERT_TOKENS = text(
    f"INSERT INTO {_TOKENS_TABLE.name} ({_COLUMN_LIST}) VALUES {_VALUES_LIST}"  # noqa: S608
).bindparams(
    *(
        bindparam(f"{prefix}_{column.name}", type_=column.type)
        for prefix in _TOKEN_PREFIXES
        for column in _NEW_TOKEN_COLUMNS
    )
)

#: The grants' transactions on PostgreSQL: each read on the transaction's own connection through psycopg directly,
#: then the writes and the audit event queued in one pipeline, one round trip (:mod:`idp.oidc.direct_read`,
#: :func:`hashchain.append.queue`); through SQLAlchemy elsewhere.
_REFRESH_READ = DirectRead(_REFRESH)
_REDEEM_READ = DirectRead(_REDEEM)
_SERVICE_CLIENT_READ = DirectRead(_SERVICE_CLIENT)
_TAKE_FOR_ROTATION_WRITE = PipelinedWrite(_TAKE_FOR_ROTATION)
_TAKE_CODE_WRITE = PipelinedWrite(_TAKE_CODE)
_INSERT_ONE_TOKEN_WRITE = PipelinedWrite(_INSERT_ONE_TOKEN)
_INSERT_TOKENS_WRITE = PipelinedWrite(_INSERT_TOKENS)

Answer = tuple[str, list[tuple[str, str]], bytes]


def _authenticated(client: Any, secret: str) -> bool:
    """``client_secret_basic`` on the narrow row (as :mod:`idp.oidc.clients` authenticates): a client registered for
    it, not disabled, whose secret's digest matches."""
    return (
        client.token_endpoint_auth_method == BASIC
        and client.disabled_at is None
        and client.client_secret_hash is not None
        and hmac.compare_digest(digest(secret), client.client_secret_hash)
    )


@dataclass(frozen=True, slots=True)
class _Audience:
    """What the grant's ID token needs of the client (:class:`idp.oidc.jwt_signing.Audience`), from the narrow
    read: a plain value, where a transient :class:`OidcClient` cost an ORM object's instrumentation per grant."""

    client_id: str
    id_token_signed_response_alg: str
    id_token_ttl: int


def _audience_of(row: Any, client_id: str) -> _Audience:
    return _Audience(client_id, row.id_token_signed_response_alg, row.id_token_ttl)


def _grant_of(row: Any, client_id: str, subject: str | None) -> dict[str, Any]:
    return {"grant_id": row.grant_id, "client_id": client_id, "voter_id": row.voter_id, "subject": subject}


def _token_row(
    grant: Mapping[str, Any],
    now: dt.datetime,
    kind: str,
    value: str,
    scope: str,
    expires_at: dt.datetime,
    **authentication: Any,
) -> dict[str, Any]:
    """A new token's row for :data:`_INSERT_ONE_TOKEN` / :data:`_INSERT_TOKENS`: only the secret's digest is kept."""
    return {
        **grant,
        **authentication,
        "kind": kind,
        "token_hash": digest(value),
        "jti": new_identifier(),
        "scope": scope,
        "issued_at": now,
        "expires_at": expires_at,
        "revoked_at": None,
        "rotated_at": None,
        "introspected_active_at": None,
        "introspected_inactive_at": None,
    }


def _voter_token(
    grant: Mapping[str, Any], row: Any, now: dt.datetime, kind: str, value: str, scope: str, expires_at: dt.datetime
) -> dict[str, Any]:
    """A voter's token: the authentication (time, ``acr``, ``amr``, ``sid``) carried over from the narrow row."""
    return _token_row(
        grant, now, kind, value, scope, expires_at, auth_time=row.auth_time, acr=row.acr, amr=list(row.amr), sid=row.sid
    )


def _store_tokens(
    session: Any, driver: Any, access: Mapping[str, Any], refresh: Mapping[str, Any] | None = None
) -> None:
    """One ``INSERT`` for the access token, or for both tokens of a grant that also issues a refresh token (queued
    in ``driver``'s pipeline on PostgreSQL, see :class:`hashchain.append.PipelinedWrite`)."""
    if refresh is None:
        _INSERT_ONE_TOKEN_WRITE.send(session, driver, access)
        return
    _INSERT_TOKENS_WRITE.send(
        session,
        driver,
        {
            f"{prefix}_{name}": value
            for prefix, values in zip(_TOKEN_PREFIXES, (access, refresh), strict=True)
            for name, value in values.items()
        },
    )


class _Declined(Exception):
    """Raised inside the refresh transaction to roll it back and hand the request to Flask."""


class _AlreadyRecorded(Exception):
    """Raised inside an introspection's write to roll it back: a concurrent request recorded the same answer."""


@dataclass(frozen=True)
class VoterClaims:
    """What :func:`idp.oidc.claims.claims_for_scope` reads of a voter, from the narrow row."""

    first_names: str
    family_name: str
    identifier: str
    is_activated: bool
    role: str
    birth_date: dt.date | None
    academie: str | None
    gender: str | None


def _voter_claims(row: Any) -> VoterClaims:
    """The voter's facts of a narrow row that has them (userinfo's, the code's)."""
    return VoterClaims(
        first_names=row.first_names,
        family_name=row.family_name,
        identifier=row.identifier,
        is_activated=row.activated_at is not None,
        role=row.role,
        birth_date=row.birth_date,
        academie=row.academie,
        gender=row.gender,
    )


def _json(payload: Mapping[str, Any]) -> bytes:
    # As Flask's JSON provider serialises Authlib's answers (sorted keys, ASCII): the same bytes either way.
    return json.dumps(payload, sort_keys=True).encode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _live(row: Any, now: dt.datetime) -> bool:
    """The token is neither expired nor revoked (a refresh token: nor rotated), its client is enabled and its voter,
    if it has one, still exists: :func:`idp.oidc.endpoints.token_usable` on the narrow row."""
    if row.expires_at <= now or row.revoked_at is not None or row.disabled_at is not None:
        return False
    if row.kind == "refresh" and row.rotated_at is not None:
        return False
    return row.voter_id is None or row.voter_found is not None


class LeanEndpoints:
    """WSGI middleware: the common case of userinfo and introspection (see the module), the rest to ``app``."""

    def __init__(
        self,
        app: WSGIApplication,
        database: Database,
        *,
        provider: Provider,
        security_headers: Callable[[], Sequence[tuple[str, str]]],
        audit_chains: int,
    ) -> None:
        self.app = app
        self.database = database
        self.provider = provider
        self._security_headers = security_headers
        self._extra: tuple[tuple[str, str], ...] | None = None
        self.audit_chains = audit_chains
        self._reader: Engine | None = None
        self._transport: dict[tuple[Any, ...], bool] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        method = environ.get("REQUEST_METHOD")
        answer: Answer | None = None
        try:
            if path == USERINFO_PATH and method == "GET":
                answer = self.userinfo(environ)
            elif path == INTROSPECTION_PATH and method == "POST":
                answer = self.introspection(environ)
            elif path == TOKEN_PATH and method == "POST":
                answer = self.token(environ)
        except Exception as exc:
            # Nothing was committed: Flask serves the request, with its own answers and logs (503 for a database
            # that cannot serve). The lean path's own fault stays visible here.
            logger.warning("lean path: %s handed to Flask after %s", path, type(exc).__name__)
            answer = None
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        # The request's metrics and log line (infra.observability, around this middleware) name its route.
        environ.setdefault(FACTS_KEY, {})["route"] = path
        start_response(status, headers)
        return [body]

    # --- the endpoints ---------------------------------------------------------------------------------------------

    def userinfo(self, environ: WSGIEnvironment) -> Answer | None:
        scheme, _, value = (environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
        # Exactly "Bearer <token>": any other spacing is left to Authlib's parser, whatever it makes of it.
        if scheme.lower() != "bearer" or not value or len(value) > MAX_TOKEN_LENGTH or len(value.split()) != 1:
            return None
        if value != value.strip():
            return None
        if not self._secure(environ):
            return None
        row = _USERINFO_READ.first(self._read_engine(), {"token_hash": digest(value)})
        if row is None or row.kind != "access" or row.subject is None or row.voter_id is None:
            return None
        if row.userinfo_signed_response_alg or "openid" not in row.scope.split():
            return None
        if not _live(row, _now()) or row.voter_found is None:
            return None
        return self._json_answer(claims_for_scope(_voter_claims(row), row.subject, row.scope))

    def introspection(self, environ: WSGIEnvironment) -> Answer | None:
        found = self._client_form(environ)
        if found is None:
            return None
        (client_id, secret), form = found
        if set(form) - {"token", "token_type_hint"} or not form.get("token"):
            return None
        presented = form["token"]
        if len(presented) > MAX_TOKEN_LENGTH:
            return None
        # One checkout: the read in autocommit and, the first time this answer is given, the write on the same
        # connection.
        reading = _INTROSPECTION_READ.holding(
            self._read_engine(), self.database.engine, {"token_hash": digest(presented)}
        )
        with reading as (row, connection):
            if row is None or row.client_id != client_id or row.token_endpoint_auth_method != BASIC:
                return None  # unknown token, another client's, or another way to authenticate: Flask answers
            if row.disabled_at is not None or row.client_secret_hash is None:
                return None
            if not hmac.compare_digest(digest(secret), row.client_secret_hash):
                return None
            payload = self._introspection_payload(row)
            if not introspection_recorded(row, payload["active"]):
                self._record_introspection(connection, row, client_id, payload["active"])
        environ.setdefault(FACTS_KEY, {})["client_id"] = client_id[:128]
        return self._json_answer(payload)

    def _record_introspection(
        self, connection: Callable[[], Connection] | None, row: Any, client_id: str, active: bool
    ) -> None:
        """The first time this answer is given for this token: the mark and the event, one transaction (on the
        read's own connection when it is psycopg's), one round trip besides ``COMMIT``; rolled back if a concurrent
        request marked it first (its event is the one kept)."""
        maker = self.database.sessionmaker
        session = maker(bind=connection()) if connection is not None else maker()
        try:
            with session, session.begin():
                taken = send_introspection(
                    session,
                    token_id=row.id,
                    jti=row.jti,
                    active=active,
                    client_id=client_id,
                    subject=row.voter_subject,
                    chains=self.audit_chains,
                )
                if not taken:
                    raise _AlreadyRecorded
        except _AlreadyRecorded:
            pass  # recorded by the other request

    def token(self, environ: WSGIEnvironment) -> Answer | None:
        """The token endpoint: the authorization_code, refresh and client_credentials grants' common cases."""
        form = self._client_form(environ)
        if form is None:
            return None
        (client_id, secret), params = form
        grant_type = params.get("grant_type")
        try:
            if grant_type == "refresh_token" and set(params) == {"grant_type", "refresh_token"}:
                presented = params["refresh_token"]
                if not presented or len(presented) > MAX_TOKEN_LENGTH:
                    return None
                with self.database.sessionmaker() as session, session.begin():
                    token = self._rotate(session, presented, client_id, secret)
            elif grant_type == "authorization_code" and params.keys() == _REDEEM_PARAMS:
                presented = params["code"]
                if not presented or len(presented) > MAX_TOKEN_LENGTH:
                    return None
                with self.database.sessionmaker() as session, session.begin():
                    token = self._redeem(session, params, client_id, secret)
            elif grant_type == "client_credentials" and set(params) <= {"grant_type", "scope"}:
                requested = params.get("scope")
                if requested is not None and not requested.split():
                    return None  # an empty scope parameter: Authlib's reading of it is the reference
                with self.database.sessionmaker() as session, session.begin():
                    token = self._service_token(session, client_id, secret, requested)
            else:
                return None
        except _Declined:
            return None
        environ.setdefault(FACTS_KEY, {})["client_id"] = client_id[:128]
        return self._json_answer(token)

    def _service_token(self, session: Any, client_id: str, secret: str, requested: str | None) -> dict[str, Any]:
        """The client_credentials grant's transaction (:class:`idp.oidc.grants.ClientCredentialsGrant` and
        :func:`idp.oidc.tokens.save` for a service): the client read, its access token stored and audited.
        :class:`_Declined` for anything else: a client not registered for the grant, a scope it was not registered
        for (Flask answers ``unauthorized_client``, ``invalid_scope``)."""
        client = _SERVICE_CLIENT_READ.first_in(session, {"client_id": client_id})
        if client is None or not _authenticated(client, secret):
            raise _Declined
        if "client_credentials" not in client.grant_types:
            raise _Declined
        allowed = client.scope.split()
        wanted = requested.split() if requested is not None else allowed
        if any(item not in allowed for item in wanted):
            raise _Declined
        scope = " ".join(dict.fromkeys(wanted))
        now = _now()
        value = new_secret()
        expires_at = now + dt.timedelta(seconds=int(client.access_token_ttl))
        grant = {"grant_id": new_identifier(), "client_id": client_id, "voter_id": None, "subject": None}
        row = _token_row(grant, now, "access", value, scope, expires_at, auth_time=None, acr=None, amr=[], sid=None)
        self._write_grant(
            session,
            None,
            row,
            None,
            "token.issued",
            subject=None,
            client_id=client_id,
            grant_type="client_credentials",
            grant=row["grant_id"],
            jti=row["jti"],
            expires_at=int(expires_at.timestamp()),
            scope=scope,
        )
        return {
            "token_type": "Bearer",
            "access_token": value,
            "expires_in": int(client.access_token_ttl),
            "scope": scope,
        }

    def _rotate(self, session: Any, presented: str, client_id: str, secret: str) -> dict[str, Any]:
        """The refresh grant's transaction (see the module); :class:`_Declined` for anything else."""
        row = _REFRESH_READ.first_in(session, {"token_hash": digest(presented)})
        if row is None or row.client_id != client_id or not _authenticated(row, secret):
            raise _Declined
        now = _now()
        if "refresh_token" not in row.grant_types or row.kind != "refresh" or row.voter_id is None:
            raise _Declined
        if row.revoked_at is not None or row.rotated_at is not None or row.expires_at <= now:
            raise _Declined  # a reuse is detected, and the grant revoked, by the grant's own code
        if row.voter_found is None or row.subject is None or row.auth_time is None or row.acr is None:
            raise _Declined
        client = _audience_of(row, client_id)
        scope = allowed_scope(row.client_scope, row.scope)  # the refresh token's scopes the client may still have
        wants_id_token = "openid" in scope.split()
        # Before anything is written, as the grant does: no signing key is a server error, answered by Flask.
        key = self.provider.keys.signing_key(session, row.id_token_signed_response_alg) if wants_id_token else None
        access_value, refresh_value = new_secret(), new_secret()
        access_expires = now + dt.timedelta(seconds=int(row.access_token_ttl))
        grant = _grant_of(row, client_id, row.subject)
        access = _voter_token(grant, row, now, "access", access_value, scope, access_expires)
        # RFC 6749 6: the new refresh token keeps the old one's scope and the grant's lifetime.
        refresh = _voter_token(grant, row, now, "refresh", refresh_value, row.scope, row.expires_at)
        taken = self._write_grant(
            session,
            (_TAKE_FOR_ROTATION_WRITE, {"token_id": row.id, "taken_at": now}),
            access,
            refresh,
            "token.refreshed",
            subject=row.voter_subject,
            client_id=client_id,
            grant=row.grant_id,
            jti=access["jti"],
            expires_at=int(access_expires.timestamp()),
            scope=scope,
            refresh_jti=refresh["jti"],
            refresh_expires_at=int(row.expires_at.timestamp()),
            previous_jti=row.jti,
        )
        if not taken:
            # Another request rotated it meanwhile: rolled back, the grant's code treats this one as a reuse.
            raise _Declined
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_value,
            "expires_in": int(row.access_token_ttl),
            "scope": scope,
            "refresh_token": refresh_value,
        }
        if wants_id_token:
            # OIDC Core 12.2: no nonce, not the original authentication's.
            token["id_token"] = self._id_token(session, client, row, row.subject, None, access_value, key)
        return token

    def _redeem(self, session: Any, params: Mapping[str, str], client_id: str, secret: str) -> dict[str, Any]:
        """The authorization_code grant's transaction, as :class:`idp.oidc.grants.AuthorizationCodeGrant` with
        PKCE and :class:`~idp.oidc.grants.OpenIDCode` make it (:func:`idp.oidc.codes.consume`,
        :func:`idp.oidc.tokens.save`): the narrow read, every check, the signing key resolved, the code marked used
        (of two concurrent redemptions one only wins), the tokens in one ``INSERT``, the ``token.issued`` event and
        the ID token. :class:`_Declined` for anything else, before anything is written or by rolling back the
        mark: a code unknown, another client's, expired or used already (its reuse revokes the grant, in the
        grant's code), a redirect URI or a verifier that does not match, no PKCE, a pairwise client."""
        row = _REDEEM_READ.first_in(session, {"code_hash": digest(params["code"])})
        if row is None or row.client_id != client_id or not _authenticated(row, secret):
            raise _Declined
        now = _now()
        if "authorization_code" not in row.grant_types or row.used_at is not None or row.expires_at <= now:
            raise _Declined
        if params["redirect_uri"] != row.redirect_uri or row.subject_type != "public" or row.voter_found is None:
            raise _Declined
        verifier = params["code_verifier"]
        if row.code_challenge is None or row.code_challenge_method != "S256":
            raise _Declined
        if not CODE_VERIFIER_PATTERN.match(verifier) or create_s256_code_challenge(verifier) != row.code_challenge:
            raise _Declined
        client = _audience_of(row, client_id)
        scope = allowed_scope(row.client_scope, row.scope)  # the code's scopes the client may have, in order, each once
        wants_id_token = "openid" in scope.split()
        # Before anything is written, as the grant does: no signing key is a server error, answered by Flask.
        key = self.provider.keys.signing_key(session, row.id_token_signed_response_alg) if wants_id_token else None
        subject = row.voter_subject  # a public subject (pairwise clients are declined above)
        access_value = new_secret()
        access_expires = now + dt.timedelta(seconds=int(row.access_token_ttl))
        grant = _grant_of(row, client_id, subject)
        access = _voter_token(grant, row, now, "access", access_value, scope, access_expires)
        details: dict[str, Any] = {
            "grant": row.grant_id,
            "jti": access["jti"],
            "expires_at": int(access_expires.timestamp()),
            "scope": scope,
        }
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_value,
            "expires_in": int(row.access_token_ttl),
            "scope": scope,
        }
        refresh: dict[str, Any] | None = None
        if "refresh_token" in row.grant_types:
            refresh_value = new_secret()
            # The refresh token carries the code's scope and the client's grant lifetime (idp.oidc.tokens.save).
            refresh_expires = now + dt.timedelta(seconds=int(row.refresh_token_ttl))
            refresh = _voter_token(grant, row, now, "refresh", refresh_value, row.scope, refresh_expires)
            details["refresh_jti"] = refresh["jti"]
            details["refresh_expires_at"] = int(refresh["expires_at"].timestamp())
            token["refresh_token"] = refresh_value
        taken = self._write_grant(
            session,
            (_TAKE_CODE_WRITE, {"code_id": row.id, "used_at": now}),
            access,
            refresh,
            "token.issued",
            subject=row.voter_subject,
            client_id=client_id,
            **details,
        )
        if not taken:
            raise _Declined  # redeemed meanwhile: rolled back, the grant's code treats this one as a reuse
        if wants_id_token:
            released = id_token_claims(_voter_claims(row), subject, scope) if row.id_token_claims else None
            token["id_token"] = self._id_token(
                session, client, row, subject, row.nonce, access_value, key, released=released
            )
        return token

    def _write_grant(
        self,
        session: Any,
        mark: tuple[PipelinedWrite, Mapping[str, Any]] | None,
        access: Mapping[str, Any],
        refresh: Mapping[str, Any] | None,
        event: str,
        *,
        subject: str | None,
        client_id: str,
        **details: Any,
    ) -> bool:
        """A grant's writes in one round trip on PostgreSQL: the conditional ``mark`` (the code used, the refresh
        token rotated) first, so that a request waiting for a concurrent one's row lock holds no audit chain
        meanwhile; then the tokens; then the audit ``event``. Returns whether the mark took (no mark: True); when
        it did not, the caller rolls the whole transaction back (:class:`_Declined`)."""
        taken: Any = None
        with pipeline(session) as driver:
            if mark is not None:
                write, params = mark
                taken = write.send(session, driver, params)
            _store_tokens(session, driver, access, refresh)
            queued = queue_record(
                session, event, subject=subject, client_id=client_id, chains=self.audit_chains, **details
            )
        queued.result()
        return mark is None or getattr(taken, "rowcount", 0) == 1

    def _id_token(
        self,
        session: Any,
        client: jwt_signing.Audience,
        row: Any,
        subject: str,
        nonce: str | None,
        access: str,
        key: Any,
        *,
        released: Mapping[str, Any] | None = None,
    ) -> str:
        """The grant's ID token (:func:`idp.oidc.jwt_signing.id_token`), from the narrow row's authentication."""
        return jwt_signing.id_token(
            self.provider,
            session,
            client,
            sub=subject,
            auth_time=row.auth_time,
            acr=row.acr,
            amr=list(row.amr),
            sid=row.sid,
            nonce=nonce,
            access_token=access,
            key=key,
            released=released,
        )

    # --- helpers ---------------------------------------------------------------------------------------------------

    def _client_form(self, environ: WSGIEnvironment) -> tuple[tuple[str, str], dict[str, str]] | None:
        """The Basic credentials and the form of a urlencoded POST over a secure transport, or None."""
        if (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
            return None
        credentials = _basic_credentials(environ.get("HTTP_AUTHORIZATION"))
        if credentials is None or not self._secure(environ):
            return None
        form = _read_form(environ)
        if form is None:
            return None
        return credentials, form

    def _introspection_payload(self, row: Any) -> dict[str, Any]:
        """:meth:`idp.oidc.endpoints.Introspection.introspect_token` on the narrow row."""
        if not _live(row, _now()):
            return {"active": False}
        return introspection_claims(row, self.provider.issuer)

    def _json_answer(self, payload: Mapping[str, Any]) -> Answer:
        body = _json(payload)
        extra = self._extra
        if extra is None:
            # The app's security headers, computed once the app is set up (as the published documents do).
            extra = self._extra = tuple(self._security_headers())
        headers = [*JSON_HEADERS, ("Content-Length", str(len(body))), *extra]
        return "200 OK", headers, body

    def _read_engine(self) -> Engine:
        """A single read: on PostgreSQL in autocommit (no ``BEGIN``/``ROLLBACK`` round trips around one statement,
        which sees one snapshot either way); on SQLite a deferred transaction that takes no lock."""
        engine = self._reader
        if engine is None:
            base = self.database.engine
            if base.dialect.name == "postgresql":
                engine = base.execution_options(isolation_level="AUTOCOMMIT")
            else:
                engine = base.execution_options(**{READ_ONLY: True})
            self._reader = engine
        return engine

    def _secure(self, environ: WSGIEnvironment) -> bool:
        """Authlib refuses OAuth requests over plain http, but for loopback hosts (``insecure_transport``): such a
        request is left to it. Its answer depends on the scheme, the host and one environment variable only: it is
        kept per host seen (a bounded few)."""
        scheme = environ.get("wsgi.url_scheme")
        if scheme == "https":
            return True
        key = (scheme, environ.get("HTTP_HOST"), os.environ.get("AUTHLIB_INSECURE_TRANSPORT"))
        known = self._transport.get(key)
        if known is None:
            known = is_secure_transport(get_current_url(environ, host_only=True))
            if len(self._transport) < MAX_HOSTS_KEPT:
                self._transport[key] = known
        return known


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``client_id`` and secret of ``Authorization: Basic`` as Authlib reads them (RFC 6749 2.3.1: each
    form-encoded), or None for anything else (Flask then answers, ``invalid_client`` included)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    client_id, secret = unquote(client_id), unquote(secret)
    if not client_id or not secret:
        return None
    return client_id, secret


def _read_form(environ: WSGIEnvironment) -> dict[str, str] | None:
    """The form of a small urlencoded body with each name once, or None; the body is put back for Flask either way."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if length <= 0 or length > MAX_FORM_BYTES:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None
