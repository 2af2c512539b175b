"""Server-side sessions in the ephemeral store.

The cookie holds only a random id; the data lives in the store under a hash of it, so any web process serves any
request, signing out (or a back-channel logout from the IdP) really ends the session, and a new id is issued at
sign-in and at the vote-code step (:func:`regenerate`). Idle timeout: the entry's expiry, pushed back on activity;
absolute timeout: checked against the creation time kept in the entry. Entries are tagged with the IdP ``sid`` and
``sub`` of the signed-in voter so that back-channel logout finds them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

from flask import Flask, Request, Response, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from relying_party.store.interface import EphemeralStore

#: Activity refreshes the idle expiry at most this often (avoids a store write on every request).
TOUCH_INTERVAL = 60
#: Where the signed-in identity lives in the session (see relying_party.signin.identity).
USER_KEY = "user"


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(
        self,
        data: dict[str, Any] | None = None,
        sid: str | None = None,
        created: float | None = None,
        touched: float | None = None,
    ) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.new = sid is None
        self.modified = False
        self.regenerate = False
        self.created = created or time.time()
        self.touched = touched or self.created


def store_key(sid: str) -> str:
    """The store key of a session id: a hash, so that reading the store does not give usable cookies."""
    return "session:" + hashlib.sha256(sid.encode()).hexdigest()


def entry_for(data: dict[str, Any], created: float, touched: float) -> str:
    return json.dumps({"data": data, "created": created, "touched": touched})


def tags_of(data: dict[str, Any]) -> tuple[str | None, str | None]:
    user = data.get(USER_KEY) or {}
    return user.get("idp_sid"), user.get("sub")


class StoreSessionInterface(SessionInterface):
    def __init__(self, store: EphemeralStore, idle_timeout: int, absolute_timeout: int) -> None:
        self.store = store
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return ServerSession()
        raw = self.store.get(store_key(sid))
        if raw is None:
            return ServerSession()
        entry = json.loads(raw)
        if time.time() - entry["created"] > self.absolute_timeout:
            self.store.delete(store_key(sid))
            return ServerSession()
        return ServerSession(entry["data"], sid=sid, created=entry["created"], touched=entry["touched"])

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        samesite = self.get_cookie_samesite(app) or "Lax"
        if session.sid and (session.regenerate or not session):
            self.store.delete(store_key(session.sid))
            if not session:
                response.delete_cookie(name, domain=domain, path=path, secure=secure, httponly=True, samesite=samesite)
                return
            session.sid = None
        if not session:
            return
        now = time.time()
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
            session.created = now
        elif not session.modified and now - session.touched < TOUCH_INTERVAL:
            return
        data = dict(session)
        ttl = min(self.idle_timeout, max(1, int(session.created + self.absolute_timeout - now)))
        idp_sid, idp_sub = tags_of(data)
        self.store.set(
            store_key(session.sid), entry_for(data, session.created, now), ttl, idp_sid=idp_sid, idp_sub=idp_sub
        )
        response.set_cookie(
            name, session.sid, max_age=None, domain=domain, path=path, secure=secure, httponly=True, samesite=samesite
        )
        response.vary.add("Cookie")


def regenerate() -> None:
    """Issue a new session id (keeping the data): at sign-in and at the vote-code step, against fixation."""
    assert isinstance(session, ServerSession)
    session.regenerate = True
    session.modified = True
