"""Every request of an app, observed: a request id, its route, status and duration counted in the metrics, and one
JSON log line (:mod:`infra.logs`).

The request id is the ``X-Request-Id`` the reverse proxy set (deploy/Caddyfile draws one per request) when the app
trusts proxies (``TRUSTED_PROXIES`` > 0) and the value is a plain token; otherwise the app draws one. It is
returned in the response's ``X-Request-Id`` header, so that a voter's support call or a proxy's line leads to the
app's line, and it is in every log line written while the request is served.

The route is the URL rule that matched (``/reassort/link/<token>``), never the path: a path may carry a one-time
token or an identifier. A request no rule matched counts as ``<unmatched>``. Views add what they know with
:func:`note`: the OAuth client, the pseudonymous subject (never an identifier).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, has_request_context, request
from prometheus_client import Counter, Histogram

from infra import metrics
from infra.logs import FIELDS, FIELDS_JSON, REQUEST_ID, members

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("elections.request")

HEADER = "X-Request-Id"
_ENVIRON_HEADER = "HTTP_X_REQUEST_ID"
#: What a proxy's request id may look like (Caddy's is a UUID): anything else is replaced by one of ours.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
#: Where the request's facts wait for the line, in the WSGI environment.
FACTS_KEY = "elections.facts"
UNMATCHED = "<unmatched>"
#: The facts views may add, and their longest length (a client id is registered by an operator; a subject is a
#: pseudonymous reference).
NOTES = {"client_id": 128, "subject": 128}


def note(**facts: str | None) -> None:
    """Add ``client_id`` or ``subject`` (pseudonymous) to the current request's log line."""
    if not has_request_context():
        return
    store: dict[str, Any] = request.environ.setdefault(FACTS_KEY, {})
    for name, value in facts.items():
        if name not in NOTES:
            raise ValueError(f"{name} is not a fact of the request line")
        if value:
            store[name] = str(value)[: NOTES[name]]


def new_request_id() -> str:
    """A random UUID (version 4) as 32 hexadecimal digits: ``uuid.uuid4().hex`` without the ``UUID`` object."""
    drawn = bytearray(os.urandom(16))
    drawn[6] = drawn[6] & 0x0F | 0x40  # version 4
    drawn[8] = drawn[8] & 0x3F | 0x80  # RFC 4122 variant
    return drawn.hex()


def request_id(environ: WSGIEnvironment, trust_proxy: bool) -> str:
    """The proxy's id if trusted and well formed, else a new one."""
    if trust_proxy:
        given: str = environ.get(_ENVIRON_HEADER, "")
        if _VALID_ID.match(given):
            return given
    return new_request_id()


class RequestObserver:
    """WSGI middleware around an app: request id, metrics and the request's log line."""

    def __init__(self, wsgi_app: WSGIApplication, name: str, *, trust_proxy: bool) -> None:
        self.wsgi_app = wsgi_app
        self.name = name
        self.trust_proxy = trust_proxy
        #: What each (route, method, status) met needs: the metrics' children (labels looked up and checked once),
        #: and the request line's constant fields and their JSON. Bounded by the app's URL rules,
        #: :data:`metrics.METHODS` and the statuses it answers.
        self._kept: dict[tuple[str, str, str], _Kept] = {}
        #: Answers given before the application, with no Flask request: ``environ`` -> ``(route, status line,
        #: headers, body)`` or None (the request goes on to the application). The provider's published documents.
        self.first: Callable[[WSGIEnvironment], FirstAnswer | None] | None = None

    def _of(self, route: str, method: str, status: str) -> _Kept:
        key = (route, method, status)
        kept = self._kept.get(key)
        if kept is None:
            fields = {
                "event": "request",
                "app": self.name,
                "method": method,
                "route": route,
                "status": int(status) if status.isdigit() else status,
            }
            kept = _Kept(
                metrics.HTTP_REQUESTS.labels(self.name, route, method, status),
                metrics.HTTP_DURATION.labels(self.name, route, method),
                fields,
                members(fields),
                logging.ERROR if status.startswith("5") and status != "503" else logging.INFO,
                (method, route, status),
            )
            self._kept[key] = kept
        return kept

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        rid = request_id(environ, self.trust_proxy)
        first = self.first
        if first is not None:
            answer = first(environ)
            if answer is not None:
                route, status_line, headers, body = answer
                start_response(status_line, [*headers, (HEADER, rid)])
                method = metrics.bounded(environ.get("REQUEST_METHOD"), metrics.METHODS)
                kept = self._of(route, method, status_line.split(" ", 1)[0])
                token = REQUEST_ID.set(rid)
                try:
                    self._record(kept, _NO_FACTS, time.perf_counter() - started)
                finally:
                    REQUEST_ID.reset(token)
                return body
        environ[FACTS_KEY] = {}
        status: list[str] = ["500"]

        def observed_start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            headers.append((HEADER, rid))
            return start_response(status_line, headers, exc_info)

        token = REQUEST_ID.set(rid)
        try:
            return self.wsgi_app(environ, observed_start)
        finally:
            self.finish(environ, status[0], time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def finish(self, environ: WSGIEnvironment, status: str, duration: float) -> None:
        facts: dict[str, Any] = environ.get(FACTS_KEY) or {}
        route = str(facts.get("route") or UNMATCHED)
        method = metrics.bounded(environ.get("REQUEST_METHOD"), metrics.METHODS)
        self._record(self._of(route, method, status), facts, duration)

    def _record(self, kept: _Kept, facts: dict[str, Any], duration: float) -> None:
        """Count and time the request, and write its line."""
        kept.requests.inc()
        kept.durations.observe(duration)
        if not logger.isEnabledFor(kept.level):
            return
        milliseconds = round(duration * 1000, 1)
        notes = {name: facts[name] for name in NOTES if name in facts}
        fields = {**kept.fields, "duration_ms": milliseconds, **notes}
        # The JSON of the fields from the parts kept (infra.logs.FIELDS_JSON: the same text as encoding ``fields``),
        # and the record made as Logger.log makes it, but for the caller's frame, which is this method's.
        text = f"{kept.fields_json}, {_DURATION}{milliseconds!r}"
        if notes:
            text += ", " + members(notes)
        logger.handle(_new_record(kept, fields, text))


#: An answer given before the application: route, status line, headers, body.
FirstAnswer = tuple[str, str, Sequence[tuple[str, str]], Iterable[bytes]]


#: What gives a first answer, or None.
FirstAnswerer = Callable[["WSGIEnvironment"], FirstAnswer | None]


def answer_first(app: Flask, answer: FirstAnswerer) -> bool:
    """Let ``answer`` answer requests of ``app`` before the application, after the first answers already there
    (:attr:`RequestObserver.first`: counted and logged like every request). False if ``app`` has no observer."""
    observer = app.wsgi_app
    if not isinstance(observer, RequestObserver):
        return False
    before = observer.first
    if before is None:
        observer.first = answer
    else:

        def chained(environ: WSGIEnvironment) -> FirstAnswer | None:
            return before(environ) or answer(environ)

        observer.first = chained
    return True


@dataclass(frozen=True)
class _Kept:
    """What the observer keeps for one (route, method, status)."""

    requests: Counter
    durations: Histogram
    fields: dict[str, Any]
    fields_json: str
    level: int
    args: tuple[str, str, str]


_MESSAGE = "%s %s %s"
_DURATION = '"duration_ms": '
_LINE = RequestObserver._record.__code__.co_firstlineno
_NO_FACTS: dict[str, Any] = {}
#: A thread's request record, made once by ``Logger.makeRecord`` (its thread, process, logger and caller): each
#: line's record is a copy with its own time, level, arguments and fields.
_templates = threading.local()


def _new_record(kept: _Kept, fields: dict[str, Any], fields_json: str) -> logging.LogRecord:
    """The record ``logger.log(kept.level, "%s %s %s", *kept.args, extra=...)`` would make from
    :meth:`RequestObserver._record`, in a fraction of the time (``LogRecord.__init__`` names the thread, the process
    and the file again each time). Made the usual way when the process installed its own record factory."""
    extra = {FIELDS: fields, FIELDS_JSON: fields_json}
    if logging.getLogRecordFactory() is not logging.LogRecord:
        return logger.makeRecord(logger.name, kept.level, __file__, _LINE, _MESSAGE, kept.args, None, "_record", extra)
    template: dict[str, Any] | None = getattr(_templates, "record", None)
    if template is None or template["process"] != os.getpid():  # a fork (a worker) draws its own
        made = logger.makeRecord(logger.name, logging.INFO, __file__, _LINE, _MESSAGE, (), None, "_record", None)
        template = _templates.record = dict(made.__dict__)
    record = _NEW_RECORD(logging.LogRecord)
    attributes = record.__dict__
    attributes.update(template)
    created = time.time()
    attributes["created"] = created
    attributes["msecs"] = int((created - int(created)) * 1000) + 0.0
    attributes["relativeCreated"] = (created - _STARTED) * 1000
    attributes["levelno"] = kept.level
    attributes["levelname"] = logging.getLevelName(kept.level)
    attributes["args"] = kept.args
    attributes.update(extra)
    return record


_NEW_RECORD = object.__new__
#: When ``logging`` was loaded (``relativeCreated`` counts from it).
_STARTED: float = getattr(logging, "_startTime", time.time())


def _note_route(response: Response) -> Response:
    facts: dict[str, Any] = request.environ.setdefault(FACTS_KEY, {})
    facts["route"] = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    return response


def install(app: Flask, name: str) -> None:
    """Observe every request of ``app`` under the ``app`` label ``name`` (``idp``, ``portal``…)."""
    metrics.install(app, name)
    trust = int(app.config.get("TRUSTED_PROXIES") or 0) > 0
    app.after_request(_note_route)
    inner: Callable[..., Any] = app.wsgi_app
    app.wsgi_app = RequestObserver(inner, name, trust_proxy=trust)  # type: ignore[method-assign]
