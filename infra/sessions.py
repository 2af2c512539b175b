"""Server-side sessions in the ephemeral store, Flask's ``SessionInterface`` replaced.

The cookie holds only a random session id; the data lives in the store under a hash of that id (reading the store
gives no usable cookie). So any web process can serve any request, signing out really ends the session (a copied
cookie opens nothing afterwards), and a new id is issued at every sign-in and step-up (:func:`regenerate`, against
session fixation). Idle timeout: the store entry's expiry, pushed back on activity (at most every
:data:`TOUCH_INTERVAL` seconds, to spare a store write per request). Absolute timeout: checked against the creation
time kept in the entry.

The entry of the id a session leaves at :func:`regenerate` is not deleted at once: it stays readable, as it was,
for :data:`REPLACED_GRACE` seconds (marked retired, written in the same store call as the new entry). A form
submitted twice (a double click) sends both POSTs with the old cookie before the first answer arrives; the browser
drops the first answer and shows the second, which, when the server had already finished the first, would
otherwise find no session (its CSRF check fails: « Demande expirée ») although the voter did sign in. With the old
entry, that late twin reads what the old cookie always had, as a twin that ran at the same time does, and nothing
more: the new id is never given to the old cookie, and the old entry holds the session as it was before the sign-in
or step-up. A retired entry is never made to live longer (a twin's writes keep its end, it is never refreshed), and
the session that replaced it deletes it with itself at sign-out while it is readable (in the same round trip), so a
copy of either cookie opens nothing after a sign-out. It keeps its tags: a logout from the provider ends it too.

An app may tag its sessions with the OpenID Connect ``sid`` and ``sub`` they belong to (``tags``), so that a logout
coming from the identity provider ends them through :meth:`infra.store.EphemeralStore.delete_tagged`.

When the store is down (:class:`~infra.store.StoreUnavailable`), a request that carries a session cookie is answered
with the 503 page of :mod:`infra.unavailable` before its view runs (the view would see a signed-out visitor and send
them through a sign-in that cannot work either), except for static files, ``/healthz`` and ``/readyz``; a request
without a cookie runs, and gets that page only if its view needs the store. A session that cannot be saved turns
the answer into that page too: the view's redirect or page relied on it. Only a refresh of the idle expiry that
fails is let go (the page was answered; the session may just expire a little earlier).

A request with a session runs in a block of the store's held writes (``EphemeralStore.batched(sets=False)``),
closed once its session is saved: what the request held (a screen's new random keys written in a ``batched()``
block of its own, a throttle's count started again) travels with the session's write, or with the request's next
store call, instead of a round trip of its own; its failure turns the answer into the 503 page, as the session's does.

Some routes never use the session (a CAPTCHA's image: its random id is all it needs): :func:`not_for` names their
path prefix, and a request under it neither reads nor writes the session (one store read a request spared); a view
there that writes the session fails loudly instead of losing the write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Request, Response, request, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from infra import unavailable
from infra.store.interface import Entry, EphemeralStore, StoreUnavailable

logger = logging.getLogger(__name__)

#: Activity refreshes the idle expiry at most this often (avoids a store write on every request).
TOUCH_INTERVAL = 60
#: Seconds the entry of a session's previous id stays readable after :func:`regenerate` (a twin request carrying the
#: old cookie, a form submitted twice, still finds what it had); sign-out deletes it at once.
REPLACED_GRACE = 30
#: Longest cookie value looked up (a session id is 43 characters; anything much longer is not one of ours).
MAX_SID_LENGTH = 100

#: What a session's data is tagged with in the store: the OpenID Connect ``sid`` and ``sub`` it belongs to.
Tagger = Callable[[Mapping[str, Any]], tuple[str | None, str | None]]
#: Endpoints served while the store is down, cookie or not: static files (the 503 page's own stylesheet) and health.
SERVED_WITHOUT_STORE = ("static", "healthz", "readyz")
#: ``app.extensions`` key of the path prefixes whose requests neither read nor write the session (:func:`not_for`).
SESSIONLESS = "infra.sessions.sessionless"


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The session of one request: its data, its id (None until saved) and its times."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        sid: str | None = None,
        created: float | None = None,
        touched: float | None = None,
        *,
        raw: str | None = None,
        retired_until: float | None = None,
        predecessor: tuple[str, float] | None = None,
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
        #: The stored entry as it was read (written back, retired, when the session moves to a new id).
        self.raw = raw
        #: The entry is a replaced session's, readable until this time (:data:`REPLACED_GRACE`).
        self.retired_until = retired_until
        #: The store key of the entry this session replaced and when it stops being readable: deleted at sign-out.
        self.predecessor = predecessor
        #: Added to the retired entry's data when the session moves to a new id (:func:`regenerate`'s ``twin_note``).
        self.twin_note: dict[str, Any] = {}
        #: The request carried a session cookie but the store did not answer: the session could not be read.
        self.unavailable = False
        #: The request's block of held store writes (:func:`_open_batch`), until the session is saved.
        self.batch: contextlib.ExitStack | None = None

    def end_batch(self, *, quietly: bool = False) -> None:
        """Close the request's block: send what it still holds (``quietly``: an outage is not raised)."""
        batch, self.batch = self.batch, None
        if batch is None:
            return
        if quietly:
            with contextlib.suppress(StoreUnavailable):
                batch.close()
        else:
            batch.close()


class DetachedSession(ServerSession):
    """The session of a request under a prefix given to :func:`not_for`: empty, never read nor saved; writing to it
    is a programming error, raised at once rather than lost."""

    def __init__(self) -> None:
        super().__init__()

        def refuse(_: CallbackDict[str, Any]) -> None:
            raise RuntimeError(f"{request.path} is served without the session (infra.sessions.not_for)")

        self.on_update = refuse


def not_for(app: Flask, path_prefix: str) -> None:
    """Requests of ``app`` whose path starts with ``path_prefix`` neither read nor write the session."""
    prefixes = app.extensions.get(SESSIONLESS, ())
    if path_prefix not in prefixes:
        app.extensions[SESSIONLESS] = (*prefixes, path_prefix)


def store_key(sid: str) -> str:
    """The store key of a session id: a hash, so that reading the store does not give usable cookies."""
    return "session:" + hashlib.sha256(sid.encode()).hexdigest()


def entry_for(
    data: Mapping[str, Any],
    created: float,
    touched: float,
    *,
    predecessor: tuple[str, float] | None = None,
    retired_until: float | None = None,
) -> str:
    """The stored form of a session (what :meth:`StoreSessionInterface.open_session` reads back)."""
    entry: dict[str, Any] = {"data": dict(data), "created": created, "touched": touched}
    if predecessor is not None and predecessor[1] > touched:
        entry["predecessor"] = list(predecessor)
    if retired_until is not None:
        entry["retired_until"] = retired_until
    return json.dumps(entry)


class StoreSessionInterface(SessionInterface):
    """Sessions kept in ``store`` with idle and absolute timeouts (seconds)."""

    def __init__(
        self, store: EphemeralStore, idle_timeout: int, absolute_timeout: int, *, tags: Tagger | None = None
    ) -> None:
        self.store = store
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.tags = tags

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sessionless = app.extensions.get(SESSIONLESS)
        if sessionless and request.path.startswith(sessionless):
            return DetachedSession()
        opened = self._open(app, request)
        if not opened.unavailable:
            opened.batch = contextlib.ExitStack()
            opened.batch.enter_context(self.store.batched(sets=False))
        return opened

    def _open(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > MAX_SID_LENGTH:
            return ServerSession()
        try:
            raw = self.store.get(store_key(sid))
        except StoreUnavailable:
            unreadable = ServerSession()
            unreadable.unavailable = True
            return unreadable
        if raw is None:
            return ServerSession()
        entry = json.loads(raw)
        now = time.time()
        retired_until = entry.get("retired_until")
        if retired_until is not None and now >= retired_until:
            return ServerSession()  # its store expiry, rounded to the second, may be a moment later
        if now - entry["created"] > self.absolute_timeout:
            with contextlib.suppress(StoreUnavailable):  # it expires by itself (its TTL is within the timeout)
                self.store.delete(store_key(sid))
            return ServerSession()
        predecessor = entry.get("predecessor")
        return ServerSession(
            entry["data"],
            sid=sid,
            created=entry["created"],
            touched=entry["touched"],
            raw=raw,
            retired_until=retired_until,
            predecessor=(predecessor[0], predecessor[1]) if predecessor else None,
        )

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if isinstance(session, DetachedSession) or session.unavailable or unavailable.marked():
            # The answer is the 503 page, and the cookie stays as it was; what the request held is still sent (a
            # store that failed moments ago refuses it at once).
            session.end_batch(quietly=True)
            return
        kept = session.modified or session.regenerate or session.new
        if not kept:
            try:  # what the request held, which its answer relies on, before a refresh of the idle expiry
                session.end_batch()
            except StoreUnavailable as exc:
                unavailable.replace(response, exc)
                return
        try:
            self._save(app, session, response)  # its write carries what the request held
            session.end_batch()
        except StoreUnavailable as exc:
            session.end_batch(quietly=True)
            if kept:
                unavailable.replace(response, exc)
            else:
                logger.warning("session activity not recorded: store unavailable")

    def _save(self, app: Flask, session: ServerSession, response: Response) -> None:
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        samesite = self.get_cookie_samesite(app) or "Lax"
        now = time.time()
        retiring: Entry | None = None  # the entry of the session's previous id, kept a while with the new one's write
        if session.sid and (session.regenerate or not session):
            if not session:
                self._end(session, now)
                response.delete_cookie(name, domain=domain, path=path, secure=secure, httponly=True, samesite=samesite)
                return
            retiring = self._retire(session, now)
            session.sid = None
        if not session:
            return
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
            session.created = now
            session.retired_until = None
        elif session.retired_until is not None and not session.modified:
            return  # a retired entry is never refreshed
        elif not session.modified and now - session.touched < TOUCH_INTERVAL:
            return
        data = dict(session)
        ttl = min(self.idle_timeout, max(1, int(session.created + self.absolute_timeout - now)))
        if session.retired_until is not None:  # a twin's write keeps the retired entry's end
            ttl = min(ttl, max(1, math.ceil(session.retired_until - now)))
        sid_tag, sub_tag = self.tags(data) if self.tags is not None else (None, None)
        entry = entry_for(
            data, session.created, now, predecessor=session.predecessor, retired_until=session.retired_until
        )
        self.store.set(store_key(session.sid), entry, ttl, sid=sid_tag, sub=sub_tag, retiring=retiring)
        response.set_cookie(
            name, session.sid, max_age=None, domain=domain, path=path, secure=secure, httponly=True, samesite=samesite
        )
        response.vary.add("Cookie")

    def _retire(self, session: ServerSession, now: float) -> Entry | None:
        """The session leaves its id: its entry as it was, kept readable a while (None when it already is); the new
        entry will name it, to delete it at sign-out."""
        assert session.sid is not None
        key = store_key(session.sid)
        if session.retired_until is not None:
            session.predecessor = (key, session.retired_until)
            return None
        if session.raw is None:  # never stored (a new session): nothing to keep
            session.predecessor = None
            return None
        entry = json.loads(session.raw)
        until = min(now + REPLACED_GRACE, entry["created"] + self.absolute_timeout)
        session.predecessor = (key, until)
        sid_tag, sub_tag = self.tags(entry["data"]) if self.tags is not None else (None, None)
        entry["data"].update(session.twin_note)
        entry["retired_until"] = until
        entry.pop("predecessor", None)  # its own predecessor is deleted with the session that replaces it, or expires
        return Entry(key, json.dumps(entry), max(1, math.ceil(until - now)), sid=sid_tag, sub=sub_tag)

    def _end(self, session: ServerSession, now: float) -> None:
        """Sign-out: the session's entry deleted, and the one it replaced while that is readable (one round trip on
        Redis: the first delete is held and goes with the second)."""
        assert session.sid is not None
        if session.predecessor is not None and session.predecessor[1] > now:
            self.store.delete(session.predecessor[0], deferrable=True)
        self.store.delete(store_key(session.sid))


def install(app: Flask, store: EphemeralStore, idle_timeout: int, absolute_timeout: int, **kwargs: Any) -> None:
    """Make ``app`` keep its sessions in ``store`` (``kwargs``: see :class:`StoreSessionInterface`)."""
    app.session_interface = StoreSessionInterface(store, idle_timeout, absolute_timeout, **kwargs)
    # First of the before-request hooks: nothing else runs for a session that could not be read.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_unreadable_session)
    app.teardown_request(_end_batch)


def _end_batch(_: BaseException | None) -> None:
    """A request whose session was never saved (an error in its answer's processing, a test's request context):
    its block of held writes is closed all the same, or the thread's next request would run inside it."""
    if isinstance(session, ServerSession):
        session.end_batch(quietly=True)


def _refuse_unreadable_session() -> Response | None:
    if not (isinstance(session, ServerSession) and session.unavailable):
        return None
    endpoint = request.endpoint or ""
    if endpoint.rsplit(".", 1)[-1] in SERVED_WITHOUT_STORE:
        return None
    return unavailable.response(StoreUnavailable("session unreadable"))


def regenerate(*, twin_note: Mapping[str, Any] | None = None) -> None:
    """Issue a new session id (keeping the data): call at sign-in and step-up, against session fixation.

    The entry of the old id stays readable as it was for :data:`REPLACED_GRACE` seconds; ``twin_note`` is added to
    it: what a twin of this request (the same form submitted twice, with the old cookie) needs to pass where this
    request used up something single-use (a CAPTCHA challenge it answered), bound to that very thing.
    """
    assert isinstance(session, ServerSession)
    session.regenerate = True
    session.modified = True
    if twin_note:
        session.twin_note.update(twin_note)


def replaced() -> bool:
    """Whether the current session's id was replaced moments ago (:func:`regenerate`): the request carries the old
    cookie, as the twin of a form submitted twice does, and reads the entry as it was."""
    return isinstance(session, ServerSession) and session.retired_until is not None


def current_sid() -> str | None:
    """The current session's id (None before it is first saved); for entries that belong to one session."""
    return session.sid if isinstance(session, ServerSession) else None
