"""Server-side sessions in the ephemeral store.

The cookie holds only a random session id; the data lives in the store under a hash of that id, so any web process
can serve any request, a sign-out really ends the session, and a new id is issued at every sign-in and step-up
(:func:`regenerate`). Idle timeout: the store entry's expiry, pushed back on activity. Absolute timeout: checked
against the creation time kept in the entry.
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

from idp.store.interface import EphemeralStore

#: Activity refreshes the idle expiry at most this often (avoids a store write on every request).
TOUCH_INTERVAL = 60


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


def _store_key(sid: str) -> str:
    return "session:" + hashlib.sha256(sid.encode()).hexdigest()


class StoreSessionInterface(SessionInterface):
    def __init__(self, store: EphemeralStore, idle_timeout: int, absolute_timeout: int) -> None:
        self.store = store
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return ServerSession()
        raw = self.store.get(_store_key(sid))
        if raw is None:
            return ServerSession()
        entry = json.loads(raw)
        now = time.time()
        if now - entry["created"] > self.absolute_timeout:
            self.store.delete(_store_key(sid))
            return ServerSession()
        return ServerSession(entry["data"], sid=sid, created=entry["created"], touched=entry["touched"])

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.sid and (session.regenerate or not session):
            self.store.delete(_store_key(session.sid))
            if not session:
                response.delete_cookie(
                    name,
                    domain=domain,
                    path=path,
                    secure=self.get_cookie_secure(app),
                    httponly=True,
                    samesite=self.get_cookie_samesite(app),
                )
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
        entry = {"data": dict(session), "created": session.created, "touched": now}
        ttl = min(self.idle_timeout, max(1, int(session.created + self.absolute_timeout - now)))
        self.store.set(_store_key(session.sid), json.dumps(entry), ttl)
        response.set_cookie(
            name,
            session.sid,
            max_age=None,
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app) or "Lax",
        )
        response.vary.add("Cookie")


def regenerate() -> None:
    """Issue a new session id (keeping the data): call at sign-in and step-up against session fixation."""
    assert isinstance(session, ServerSession) or hasattr(session, "regenerate")
    session.regenerate = True
    session.modified = True
