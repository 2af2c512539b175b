"""The provider's two public documents, discovery and JWKS, built once and answered with ``ETag`` and ``304``.

Both change only with the configuration (discovery) or the published keys (JWKS: a rotation, a key retired), yet
every client fetches them, and a relying party's library may do so on every start. So each is serialised once into
a :class:`Document` (body, strong ``ETag`` of the body, and every header of the answer), and served:

* by :class:`FastPath`, a WSGI middleware in front of Flask, for ``GET``/``HEAD`` while the document is known to be
  current (discovery: always, once built; JWKS: while the per-process key snapshot is fresh and no published key
  has reached its ``retire_after``). No session, no database, no Flask request: the headers were computed with the
  document, security headers included;
* otherwise by the Flask views (:mod:`idp.oidc.views.discovery`), which read the keys and rebuild the document
  when its content changed. Both answer the same bytes and the same headers.

Caching: ``Cache-Control: public, max-age=…`` lets a proxy and the client keep the document; the JWKS max-age is
the key manager's (a quarter of the activation delay at most, so a new key reaches every cache before it signs
anything), discovery's an hour. A client or proxy that revalidates with ``If-None-Match`` gets ``304 Not
Modified`` and no body while the ETag is current; a rotation changes the body, hence the ETag.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from idp.models import utcnow
from idp.oidc.discovery import metadata
from infra.observability import FACTS_KEY, FirstAnswer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from sqlalchemy.orm import Session

    from idp.oidc.keys import KeyRing
    from idp.oidc.provider import Provider

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks.json"
#: The metadata changes only with a new release or configuration.
DISCOVERY_MAX_AGE = 3600
DISCOVERY_TYPE = "application/json"
JWKS_TYPE = "application/jwk-set+json"

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Document:
    """One serialised document and the headers of its answers."""

    body: bytes
    etag: str
    #: Headers of the ``200`` answer (Content-Type and Content-Length included).
    headers: Headers
    #: Headers of the ``304`` answer: the same minus the body's (RFC 9110 15.4.5).
    not_modified_headers: Headers
    #: JWKS: the key snapshot it was built from, and when its content changes next (a key leaves it) or None.
    ring: KeyRing | None = None
    changes_at: dt.datetime | None = None

    def matches(self, if_none_match: str | None) -> bool:
        """Whether an ``If-None-Match`` header names this document (weak comparison, RFC 9110 13.1.2)."""
        if not if_none_match:
            return False
        if if_none_match.strip() == "*":
            return True
        return any(tag.strip().removeprefix("W/") == self.etag for tag in if_none_match.split(","))

    def answer(self, if_none_match: str | None) -> tuple[int, Headers, bytes]:
        """Status, headers and body of the answer to a request carrying ``if_none_match``."""
        if self.matches(if_none_match):
            return 304, self.not_modified_headers, b""
        return 200, self.headers, self.body


def build(payload: Mapping[str, Any], content_type: str, max_age: int, extra: Iterable[tuple[str, str]]) -> Document:
    """Serialise ``payload`` (compact JSON) with its ETag and headers; ``extra``: the app's security headers."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    etag = '"' + base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode() + '"'
    shared = (
        ("ETag", etag),
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Access-Control-Allow-Origin", "*"),
        *extra,
    )
    headers = (("Content-Type", content_type), ("Content-Length", str(len(body))), *shared)
    return Document(body, etag, headers, shared)


class PublishedDocuments:
    """The discovery and JWKS documents of one provider, rebuilt when what they show changes.

    ``security_headers`` returns the headers every answer of the app carries (:func:`infra.headers.security_headers`);
    it is called when a document is built, after the app is fully set up.
    """

    def __init__(self, provider: Provider, security_headers: Callable[[], Sequence[tuple[str, str]]]) -> None:
        self._provider = provider
        self._security_headers = security_headers
        self._discovery: Document | None = None
        self._jwks: Document | None = None

    def discovery(self) -> Document:
        found = self._discovery
        if found is None:
            found = build(metadata(self._provider), DISCOVERY_TYPE, DISCOVERY_MAX_AGE, self._security_headers())
            self._discovery = found
        return found

    def current_jwks(self) -> Document | None:
        """The JWKS document if it is known to be current without reading the database, else None."""
        found = self._jwks
        ring = self._provider.keys.fresh_ring()
        if found is None or ring is None or found.ring is not ring:
            return None
        if found.changes_at is not None and found.changes_at <= utcnow():
            return None
        return found

    def jwks(self, session: Session) -> Document:
        """The JWKS document, the keys read with ``session`` if the snapshot is stale."""
        current = self.current_jwks()
        if current is not None:
            return current
        keys = self._provider.keys
        ring = keys.ring(session)
        now = utcnow()
        payload = ring.jwks(now)
        leaving = [k.retire_after for k in ring.keys if k.retire_after is not None and k.retire_after > now]
        built = build(payload, JWKS_TYPE, keys.jwks_max_age, self._security_headers())
        # Two threads may rebuild at once from the same snapshot: the same bytes, the last one kept.
        document = replace(built, ring=ring, changes_at=min(leaving) if leaving else None)
        self._jwks = document
        return document

    def forget(self) -> None:
        """Drop both documents (the configuration changed: tests)."""
        self._discovery = None
        self._jwks = None


class FastPath:
    """``GET``/``HEAD`` of the two documents answered from memory while they are current; everything else (and a
    JWKS whose keys must be read again) goes to the application.

    Inside an app's request observer, :meth:`answer` is its first answer (:attr:`RequestObserver.first
    <infra.observability.RequestObserver.first>`): the observer gives the request its id, counts it under the
    document's route and writes its line, and nothing else runs. Without one, this is a WSGI middleware."""

    def __init__(self, app: WSGIApplication, documents: PublishedDocuments) -> None:
        self.app = app
        self.documents = documents

    def answer(self, environ: WSGIEnvironment) -> FirstAnswer | None:
        """Route, status line, headers and body of the answer from memory, or None."""
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return None
        path = environ.get("PATH_INFO")
        if path == DISCOVERY_PATH:
            document: Document | None = self.documents.discovery()
        elif path == JWKS_PATH:
            document = self.documents.current_jwks()
        else:
            return None
        if document is None:
            return None
        if document.matches(environ.get("HTTP_IF_NONE_MATCH")):
            return path, "304 Not Modified", document.not_modified_headers, []
        return path, "200 OK", document.headers, [document.body] if method == "GET" else []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = self.answer(environ)
        if answer is None:
            return self.app(environ, start_response)
        route, status, headers, body = answer
        # The request's metrics and log line (infra.observability, around this middleware) name its route.
        environ.setdefault(FACTS_KEY, {})["route"] = route
        start_response(status, list(headers))
        return body
