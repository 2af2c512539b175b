"""Drive complete voter journeys over real HTTP, as browsers do, and record every request: the reusable load driver.

One journey is the seed's, click by click (no step skipped, no shortcut through a database):

    portal home → « Accéder au portail Élections » (/connexion → IdP /authorize → /login)
    → identifier + CAPTCHA (the page, its CAPTCHA image, the POST) → « Saisie du mot de passe Élections » (the page,
    the POST, whose answer sends the browser to the portal's callback with the code) → the portal's callback (where
    the portal calls the IdP's token and userinfo endpoints) → « Bienvenue sur votre portail Élections » → « Je vote »
    → « Voter » for the scrutin (the portal's step-up: /je-vote/code → /authorize → « Saisie du code de vote ») →
    vote code + CAPTCHA (the page, its image, the POST, answered likewise) → the portal's callback (token endpoint)
    → « Bulletin de vote » → the choice
    encrypted as the page's script does (:func:`votecrypto.encrypt_ballot`, with the election key, hash and nonce the
    page carries; confirmation is shown by the script, without a request) → « Voter » (the encrypted ballot) →
    « Votre vote a été enregistré » and its tracking code.

Redirects are followed by hand so that each request is timed and named on its own (:data:`STEPS`). Every page is
checked for what the voter reads there (its heading): a page that is not the expected one fails the journey with the
kind ``unexpected page at <step>``. A « Salle d'attente » page (the waiting room, recognised by its
``<meta name="waiting-room">`` marker) is not a failure: the driver waits as long as its meta refresh says and asks
again, as a browser does; the time spent waiting is recorded apart from the request latencies.

API (other benchmarks and tools import it; ``benchmarks.voter_journey`` is its main user):

- :class:`Target` — where the portal and the IdP answer, the scrutin to vote in, the CAPTCHA answer of the fixed
  CAPTCHA back end (``IDP_CAPTCHA_BACKEND=fixed:…``, testing and development only).
- :class:`Voter` — one voter's identifier, election password and vote code (one journey each: a voter votes once).
- :func:`drive` (async) / :func:`run` (blocking) — run journeys with ``concurrency`` voters at once until the voters,
  ``journeys`` or ``duration`` run out, or ``stop`` is set; returns a :class:`Recorder`. ``arrival="rush"`` starts
  every voter at once (the opening); ``arrival="steady"`` keeps ``concurrency`` journeys in flight (steady load,
  e.g. while faults are injected). ``on_journey`` is called after each journey (progress, live checks).
- :class:`Recorder` — every :class:`RequestRecord` (step, status, start, latency, error kind) and every
  :class:`JourneyRecord` (voter, start, duration, time waited, outcome, error kind, receipt), with summaries:
  :meth:`Recorder.summary`, :meth:`Recorder.errors_by_kind`, :meth:`Recorder.timeline` (per-second buckets of
  completions and errors, for runs with faults), :meth:`Recorder.admission_order` (for the waiting room's order).

Only loopback addresses are driven (``ValueError`` otherwise): this is a benchmark, never a load test of someone
else's server.
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest, ConnectionKey
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from votecrypto import encrypt_ballot

#: The requests of one journey, in order (a step repeated by a redirect loop or a waiting room keeps its name).
#: ``idp.login`` and ``idp.vote_code`` are requests of their own only from an IdP that redirects to those screens;
#: this one shows them in its answer to ``idp.authorize`` and ``idp.authorize.vote``.
STEPS = (
    "portal.home",
    "portal.connexion",
    "idp.authorize",
    "idp.login",
    "idp.captcha",
    "idp.login.post",
    "idp.password",
    "idp.password.post",
    "idp.authorize.resume",
    "portal.callback",
    "portal.home.signed_in",
    "portal.je_vote",
    "portal.ballot.step_up",
    "portal.vote_code",
    "idp.authorize.vote",
    "idp.vote_code",
    "idp.vote_code.captcha",
    "idp.vote_code.post",
    "idp.authorize.vote.resume",
    "portal.callback.vote",
    "portal.ballot",
    "portal.cast",
    "portal.receipt",
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_INPUT_RE = re.compile(r"<input\b([^>]*)>", re.I)
_ATTR_RE = re.compile(r'([a-zA-Z_:-]+)="([^"]*)"')
_CAPTCHA_IMG_RE = re.compile(r'<img[^>]*class="captcha-image"[^>]*src="([^"]+)"')
_H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
_RECEIPT_RE = re.compile(r'class="receipt-code">([A-Z2-7-]+)<')
_ELECTION_RE = {
    name: re.compile(rf'data-{name}="([^"]+)"') for name in ("key", "election", "nonce", "options", "format")
}
#: « Voter » on « Je vote »: the ballot page, or straight to the vote-code step coming back to it.
_VOTE_LINK_RE = r'href="([^"]*/je-vote/(?:code\?next=[^"]*%2Fje-vote%2F|code\?next=/je-vote/)?{code})"'
#: The waiting room's page: ``<meta name="waiting-room" content="<place>">`` and a meta refresh.
_WAITING_RE = re.compile(r'<meta name="waiting-room" content="(\d+)"')
_REFRESH_RE = re.compile(r'<meta http-equiv="refresh" content="(\d+)(?:;\s*url=([^"]+))?"', re.I)


@dataclass(frozen=True)
class Target:
    """Where the journeys go. ``scrutin``: the code of the scrutin to vote in; ``captcha``: the fixed answer."""

    portal_url: str
    idp_url: str
    scrutin: str
    captcha: str
    #: Seconds one request may take before it counts as a timeout.
    request_timeout: float = 30.0
    #: Longest wait in a waiting room before the journey is given up (kind ``waiting room too long``).
    max_wait: float = 600.0

    def __post_init__(self) -> None:
        for url in (self.portal_url, self.idp_url):
            host = urlsplit(url).hostname
            if host not in _LOOPBACK:
                raise ValueError(f"journeys only go to loopback addresses, not {host!r}")


@dataclass(frozen=True)
class Voter:
    identifier: str
    password: str
    vote_code: str


@dataclass
class RequestRecord:
    step: str
    method: str
    status: int  # 0: no answer (connection error or timeout)
    started: float  # time.monotonic()
    seconds: float
    error: str | None = None
    #: The answer was the waiting room's page (not an error; its latency is recorded like any other request's).
    waiting_room: bool = False
    #: CPU seconds each role of the servers spent on this request (only with a ``probe``, one journey at a time).
    cpu: dict[str, float] | None = None
    #: For an error answer (4xx, 5xx): the page's title, what the voter read (a fault's French page or a server's).
    page: str | None = None
    #: For a request without an answer, with a :class:`TracingConnector`: each attempt's connection (aiohttp sends
    #: an idempotent request a second time when the first attempt's connection failed), and the exception.
    attempts: list[Attempt] | None = None
    exception: str | None = None
    #: Wall-clock time the request was sent (``time.time()``), to set beside servers' logs and packet captures.
    sent_at: float = 0.0


@dataclass
class Attempt:
    """The connection one attempt of a request went out on: a kept-alive one (``reused``, idle ``idle`` seconds
    since its previous answer) or a new one; its local port (to find it in a packet capture)."""

    reused: bool
    idle: float
    local_port: int

    def describe(self) -> str:
        return f"{'reused, idle ' + format(self.idle, '.2f') + ' s' if self.reused else 'new'} (port {self.local_port})"


#: The attempts of the request the current task is sending (set by :class:`_Browser`, filled by the connector).
_ATTEMPTS: contextvars.ContextVar[list[Attempt] | None] = contextvars.ContextVar("attempts", default=None)


class TracingConnector(aiohttp.TCPConnector):
    """aiohttp's connector, noting for each request sent through a :class:`_Browser` which connection each attempt
    used: what tells a keep-alive race (a reused connection the server closed as the request left) from a connection
    refused or reset before any request (a new one)."""

    async def _get(self, key: ConnectionKey, traces: list[Trace]) -> Connection | None:
        pool = self._conns.get(key)
        released = pool[0][1] if pool else None  # the pool hands out its oldest first
        connection = await super()._get(key, traces)
        if connection is not None and released is not None:
            self._note(connection, reused=True, idle=time.monotonic() - released)
        return connection

    async def connect(self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout) -> Connection:
        attempts = _ATTEMPTS.get()
        before = len(attempts) if attempts is not None else 0
        connection = await super().connect(req, traces, timeout)
        if attempts is not None and len(attempts) == before:
            self._note(connection, reused=False, idle=0.0)
        return connection

    @staticmethod
    def _note(connection: Connection, *, reused: bool, idle: float) -> None:
        attempts = _ATTEMPTS.get()
        if attempts is None:
            return
        protocol: ResponseHandler | None = connection.protocol
        transport = protocol.transport if protocol is not None else None
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        attempts.append(Attempt(reused, idle, int(sockname[1]) if sockname else 0))


@dataclass
class JourneyRecord:
    voter: str
    started: float
    seconds: float = 0.0
    waited: float = 0.0
    ok: bool = False
    error: str | None = None
    receipt: str | None = None
    requests: int = 0
    #: When the voter left the waiting room (monotonic), None if they were never in it.
    admitted_at: float | None = None
    #: When the voter first met the waiting room (its arrival there), None if never.
    queued_at: float | None = None
    #: The places the waiting room's pages gave, in order (1: the head of the queue).
    places: list[int] = field(default_factory=list)
    #: Seconds each waiting-room page asked to wait before its refresh.
    refreshes: list[float] = field(default_factory=list)


class JourneyFailed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, inclusive method; 0 for no value."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


@dataclass
class Recorder:
    """Everything a run saw. Safe to read while :func:`drive` runs (one event loop, no threads)."""

    requests: list[RequestRecord] = field(default_factory=list)
    journeys: list[JourneyRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def completed(self) -> list[JourneyRecord]:
        return [j for j in self.journeys if j.ok]

    def receipts(self) -> dict[str, str]:
        """Receipt code → the voter who was shown it."""
        return {j.receipt: j.voter for j in self.journeys if j.ok and j.receipt}

    def errors_by_kind(self) -> Counter[str]:
        """Failed journeys by kind, plus failed requests by kind (``request: …``) that the journey survived."""
        kinds: Counter[str] = Counter(j.error or "unknown" for j in self.journeys if not j.ok)
        return kinds

    def request_errors(self) -> Counter[str]:
        return Counter(r.error for r in self.requests if r.error)

    def statuses(self) -> Counter[int]:
        return Counter(r.status for r in self.requests)

    def summary(self) -> dict[str, float]:
        """Journeys per second; journey and request latency percentiles (seconds); request count per journey."""
        done = self.completed()
        journey_times = [j.seconds for j in done]
        request_times = [r.seconds for r in self.requests if not r.waiting_room]
        return {
            "journeys": len(done),
            "failed": len(self.journeys) - len(done),
            "journeys_per_second": len(done) / self.seconds if self.seconds else 0.0,
            "journey_p50": percentile(journey_times, 50),
            "journey_p95": percentile(journey_times, 95),
            "journey_p99": percentile(journey_times, 99),
            "request_p50": percentile(request_times, 50),
            "request_p95": percentile(request_times, 95),
            "request_p99": percentile(request_times, 99),
            "request_max": max(request_times, default=0.0),
            "requests_per_journey": (sum(j.requests for j in done) / len(done)) if done else 0.0,
            "waited_p50": percentile([j.waited for j in done], 50),
            "waited_max": max((j.waited for j in done), default=0.0),
        }

    def step_cpu(self) -> dict[str, dict[str, float]]:
        """Per step, the mean CPU seconds of each role (requests recorded with a ``probe``)."""
        sums: dict[str, dict[str, float]] = {}
        counts: Counter[str] = Counter()
        for record in self.requests:
            if record.cpu is None or record.error is not None:
                continue
            counts[record.step] += 1
            into = sums.setdefault(record.step, {})
            for role, seconds in record.cpu.items():
                into[role] = into.get(role, 0.0) + seconds
        return {step: {role: v / counts[step] for role, v in roles.items()} for step, roles in sums.items()}

    def step_latencies(self) -> dict[str, tuple[int, float, float]]:
        """Per step: count, p50 and p99 latency in seconds (waiting-room answers left out)."""
        by_step: dict[str, list[float]] = {}
        for record in self.requests:
            if not record.waiting_room and record.error is None:
                by_step.setdefault(record.step, []).append(record.seconds)
        return {step: (len(v), percentile(v, 50), percentile(v, 99)) for step, v in by_step.items()}

    def timeline(self, bucket: float = 1.0) -> list[tuple[float, int, int]]:
        """(seconds since start, journeys completed, journeys failed) per ``bucket`` seconds."""
        buckets: dict[int, list[int]] = {}
        for journey in self.journeys:
            index = int((journey.started + journey.seconds - self.started) // bucket)
            counts = buckets.setdefault(index, [0, 0])
            counts[0 if journey.ok else 1] += 1
        return [(i * bucket, ok, failed) for i, (ok, failed) in sorted(buckets.items())]

    def admission_order(self) -> list[JourneyRecord]:
        """The journeys that went through the waiting room, in the order they met it."""
        queued = [j for j in self.journeys if j.queued_at is not None]
        return sorted(queued, key=lambda j: j.queued_at or 0.0)


class _Browser:
    """One voter's browser: its cookies (a jar per voter), and every request recorded under a step name."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        target: Target,
        recorder: Recorder,
        journey: JourneyRecord,
        probe: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        self.http = http
        self.target = target
        self.recorder = recorder
        self.journey = journey
        self.probe = probe
        self._cpu_before: dict[str, float] | None = None

    async def request(
        self, step: str, method: str, url: str, data: dict[str, str] | None = None, *, binary: bool = False
    ) -> tuple[int, str, str | None]:
        """One request, no redirect followed: (status, body text, Location). Waits out a waiting room."""
        while True:
            if self.probe is not None:
                self._cpu_before = self.probe()
            started = time.monotonic()
            sent_at = time.time()
            attempts: list[Attempt] = []
            _ATTEMPTS.set(attempts)
            try:
                async with self.http.request(
                    method,
                    url,
                    data=data,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self.target.request_timeout),
                ) as response:
                    body = await response.read()
                    status = response.status
                    location = response.headers.get("Location")
            except TimeoutError:
                self._record(step, method, 0, started, "timeout", failure=(attempts, "timeout", sent_at))
                raise JourneyFailed(f"timeout at {step}") from None
            except aiohttp.ClientError as exc:
                kind = _connection_kind(exc)
                self._record(step, method, 0, started, kind, failure=(attempts, _exception(exc), sent_at))
                raise JourneyFailed(f"{kind} at {step}") from None
            finally:
                _ATTEMPTS.set(None)
            text = "" if binary else body.decode("utf-8", errors="replace")
            waiting = status == 200 and not binary and _WAITING_RE.search(text) is not None
            error = f"HTTP {status}" if status >= 500 else None
            page = page_title(body.decode("utf-8", errors="replace")) if status >= 400 else None
            self._record(step, method, status, started, error, waiting_room=waiting, page=page)
            if error:
                raise JourneyFailed(f"{error} at {step}")
            if not waiting:
                if location is not None:
                    location = urljoin(url, location)
                return status, text, location
            await self._wait(text, started)
            if method == "POST":  # a browser's meta refresh re-asks with GET
                method, data = "GET", None

    async def _wait(self, text: str, asked_at: float) -> None:
        now = time.monotonic()
        if self.journey.queued_at is None:
            self.journey.queued_at = asked_at
        place = _WAITING_RE.search(text)
        if place is not None:
            self.journey.places.append(int(place.group(1)))
        if now - self.journey.queued_at > self.target.max_wait:
            raise JourneyFailed("waiting room too long")
        refresh = _REFRESH_RE.search(text)
        delay = float(refresh.group(1)) if refresh else 5.0
        self.journey.refreshes.append(delay)
        await asyncio.sleep(delay)
        self.journey.waited += time.monotonic() - now
        self.journey.admitted_at = time.monotonic()

    def _record(
        self,
        step: str,
        method: str,
        status: int,
        started: float,
        error: str | None,
        *,
        waiting_room: bool = False,
        page: str | None = None,
        failure: tuple[list[Attempt], str, float] | None = None,
    ) -> None:
        seconds = time.monotonic() - started
        cpu = None
        if self.probe is not None and self._cpu_before is not None:
            after = self.probe()
            cpu = {role: after[role] - self._cpu_before.get(role, 0.0) for role in after}
        self.journey.requests += 1
        record = RequestRecord(step, method, status, started, seconds, error, waiting_room, cpu, page)
        if failure is not None:
            record.attempts, record.exception, record.sent_at = failure
        self.recorder.requests.append(record)

    async def get(self, step: str, url: str, *, expect: int = 200, binary: bool = False) -> tuple[str, str | None]:
        status, text, location = await self.request(step, "GET", url, binary=binary)
        if status != expect:
            raise JourneyFailed(f"HTTP {status} at {step}{_seen(status, text)}")
        return text, location

    async def post(self, step: str, url: str, data: dict[str, str], *, expect: int = 302) -> tuple[str, str | None]:
        status, text, location = await self.request(step, "POST", url, data)
        if status != expect:
            raise JourneyFailed(f"HTTP {status} at {step}{_seen(status, text)}")
        return text, location

    async def redirect(self, step: str, location: str | None, *, expect: int = 302) -> tuple[str, str | None]:
        if location is None:
            raise JourneyFailed(f"no redirect before {step}")
        return await self.get(step, location, expect=expect)


def _seen(status: int, text: str) -> str:
    """The heading of a page answered where another answer was expected (what the voter read instead)."""
    seen = heading(text) if status < 300 else ""
    return f" (« {seen[:60]} »)" if seen else ""


def _connection_kind(exc: aiohttp.ClientError) -> str:
    # ClientConnectorError (no connection: refused, nothing listening) is a ClientOSError too: tell it apart first.
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection refused"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "connection reset"
    return f"connection error ({type(exc).__name__})"


def _exception(exc: BaseException) -> str:
    """What failed, with the OS error's number (104: reset by the peer) and what caused it."""
    described = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not isinstance(cause, aiohttp.ClientError):
        described += f" ({type(cause).__name__}: {cause})"
    return described


def page_title(text: str) -> str:
    """The ``<title>`` of a page (``<h1>`` when it has none; the start of the text for a bare answer)."""
    found = _TITLE_RE.search(text)
    if found:
        return html.unescape(re.sub(r"\s+", " ", found.group(1))).strip()
    return heading(text) or re.sub(r"\s+", " ", text)[:60].strip()


def heading(text: str) -> str:
    found = _H1_RE.search(text)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def _expect_heading(text: str, wanted: str, step: str) -> None:
    seen = heading(text)
    if seen != wanted:
        raise JourneyFailed(f"unexpected page at {step} (« {seen[:60]} »)")


def form_fields(text: str, action_path: str, base_url: str) -> tuple[str, dict[str, str]]:
    """The absolute action and the hidden fields of the form of ``text`` whose action's path is ``action_path``."""
    for form in _FORM_RE.finditer(text):
        attrs = dict(_ATTR_RE.findall(form.group(1)))
        action = urljoin(base_url, html.unescape(attrs.get("action", "")))
        if urlsplit(action).path != action_path:
            continue
        hidden = {}
        for tag in _INPUT_RE.finditer(form.group(2)):
            input_attrs = dict(_ATTR_RE.findall(tag.group(1)))
            if input_attrs.get("type") == "hidden" and "name" in input_attrs:
                hidden[input_attrs["name"]] = html.unescape(input_attrs.get("value", ""))
        return action, hidden
    raise JourneyFailed(f"no form to {action_path}")


async def _sign_in(browser: _Browser, target: Target, voter: Voter) -> None:
    portal, idp = target.portal_url, target.idp_url
    home, _ = await browser.get("portal.home", f"{portal}/")
    if "/connexion" not in home:
        raise JourneyFailed("unexpected page at portal.home")
    _, location = await browser.get("portal.connexion", f"{portal}/connexion", expect=302)
    page = await _authorization_screen(browser, "idp.authorize", "idp.login", location)
    _expect_heading(page, "Accès au portail Élections", "idp.login")
    await _captcha(browser, "idp.captcha", page, idp)
    action, fields = form_fields(page, "/login", idp)
    fields.update(identifier=voter.identifier, captcha=target.captcha)
    _, location = await browser.post("idp.login.post", action, fields)
    page, _ = await browser.redirect("idp.password", location, expect=200)
    _expect_heading(page, "Saisie du mot de passe Élections", "idp.password")
    action, fields = form_fields(page, "/login/password", idp)
    fields.update(password=voter.password)
    _, location = await browser.post("idp.password.post", action, fields)
    location = await _resumed(browser, "idp.authorize.resume", location)
    _, location = await browser.redirect("portal.callback", location)
    page, _ = await browser.redirect("portal.home.signed_in", location, expect=200)
    _expect_heading(page, "Bienvenue sur votre portail Élections", "portal.home.signed_in")


async def _authorization_screen(browser: _Browser, step: str, screen_step: str, location: str | None) -> str:
    """The screen an authorization request needs (``location``): the IdP's answer to it, or, from an IdP that
    redirects to the screen, the screen's own page (followed as ``screen_step``)."""
    if location is None:
        raise JourneyFailed(f"no redirect before {step}")
    status, text, location = await browser.request(step, "GET", location)
    if status == 200:
        return text
    if status != 302:
        raise JourneyFailed(f"HTTP {status} at {step}{_seen(status, text)}")
    page, _ = await browser.redirect(screen_step, location, expect=200)
    return page


async def _resumed(browser: _Browser, step: str, location: str | None) -> str | None:
    """Where a sign-in screen's POST sent the browser: the client, with the code (the IdP resumed the authorization
    request in that answer), or, from an IdP that does not, its ``/authorize/resume`` first (followed as ``step``)."""
    if location is not None and urlsplit(location).path.endswith("/authorize/resume"):
        _, location = await browser.redirect(step, location)
    return location


async def _captcha(browser: _Browser, step: str, page: str, base: str) -> None:
    """The CAPTCHA image the browser loads with the page (drawn by the IdP for each challenge)."""
    found = _CAPTCHA_IMG_RE.search(page)
    if found is None:
        raise JourneyFailed(f"no CAPTCHA image at {step}")
    await browser.get(step, urljoin(base, html.unescape(found.group(1))), binary=True)


async def _vote(browser: _Browser, target: Target, voter: Voter) -> str:
    page = await _vote_code_page(browser, target)
    return await _cast_with_code(browser, target, page, voter.vote_code)


async def _vote_code_page(browser: _Browser, target: Target) -> str:
    """From the signed-in portal to the IdP's « Saisie du code de vote » (the step-up): that page."""
    portal = target.portal_url
    page, _ = await browser.get("portal.je_vote", f"{portal}/je-vote")
    _expect_heading(page, "Je vote", "portal.je_vote")
    link = re.search(_VOTE_LINK_RE.format(code=re.escape(target.scrutin)), page)
    if link is None:
        raise JourneyFailed("unexpected page at portal.je_vote")
    location: str | None = urljoin(portal, html.unescape(link.group(1)))
    if "/je-vote/code" not in str(location):  # a portal that sends « Voter » to the ballot, which bounces
        _, location = await browser.get("portal.ballot.step_up", str(location), expect=303)
    _, location = await browser.redirect("portal.vote_code", location)
    page = await _authorization_screen(browser, "idp.authorize.vote", "idp.vote_code", location)
    _expect_heading(page, "Saisie du code de vote", "idp.vote_code")
    return page


async def _cast_with_code(browser: _Browser, target: Target, page: str, vote_code: str) -> str:
    """On « Saisie du code de vote » (``page``): the code, the ballot encrypted and cast; the receipt's code."""
    portal, idp = target.portal_url, target.idp_url
    await _captcha(browser, "idp.vote_code.captcha", page, idp)
    action, fields = form_fields(page, "/login/vote-code", idp)
    fields.update(code=vote_code, captcha=target.captcha)
    _, location = await browser.post("idp.vote_code.post", action, fields)
    location = await _resumed(browser, "idp.authorize.vote.resume", location)
    _, location = await browser.redirect("portal.callback.vote", location)
    ballot_url = location
    page, _ = await browser.redirect("portal.ballot", location, expect=200)
    _expect_heading(page, "Bulletin de vote", "portal.ballot")
    assert ballot_url is not None
    found = {name: pattern.search(page) for name, pattern in _ELECTION_RE.items()}
    if not all(found.values()):
        raise JourneyFailed("unexpected page at portal.ballot")
    election = {name: match.group(1) for name, match in found.items() if match is not None}
    ballot = encrypt_ballot(
        key=bytes.fromhex(election["key"]),
        election=bytes.fromhex(election["election"]),
        nonce=bytes.fromhex(election["nonce"]),
        options=int(election["options"]),
        choice=0,
        proof_format=int(election["format"]),
    )
    action, fields = form_fields(page, urlsplit(ballot_url).path + "/bulletin", portal)
    fields["ballot"] = json.dumps(ballot.to_json())
    _, location = await browser.post("portal.cast", action, fields, expect=303)
    page, _ = await browser.redirect("portal.receipt", location, expect=200)
    _expect_heading(page, "Votre vote a été enregistré", "portal.receipt")
    receipt = _RECEIPT_RE.search(page)
    if receipt is None:
        raise JourneyFailed("unexpected page at portal.receipt")
    return receipt.group(1)


async def journey(
    http: aiohttp.ClientSession,
    target: Target,
    voter: Voter,
    recorder: Recorder,
    probe: Callable[[], dict[str, float]] | None = None,
) -> JourneyRecord:
    """One voter's whole journey in ``http`` (give each journey a session of its own: its cookies are the voter's).

    ``probe``: returns the CPU seconds used so far by each role of the servers; called around every request, it
    gives each :class:`RequestRecord` its ``cpu`` (meaningful only when one journey runs at a time).
    """
    record = JourneyRecord(voter.identifier, time.monotonic())
    recorder.journeys.append(record)
    browser = _Browser(http, target, recorder, record, probe)
    try:
        await _sign_in(browser, target, voter)
        record.receipt = await _vote(browser, target, voter)
        record.ok = True
    except JourneyFailed as failure:
        record.error = failure.kind
    record.seconds = time.monotonic() - record.started
    return record


@dataclass
class _Feed:
    """Hands out voters, each once, until they, the journey budget or the time run out, or ``stop`` is set."""

    voters: Iterator[Voter]
    journeys: int | None
    deadline: float | None
    stop: asyncio.Event | None
    handed: int = 0

    def next(self) -> Voter | None:
        if self.journeys is not None and self.handed >= self.journeys:
            return None
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return None
        if self.stop is not None and self.stop.is_set():
            return None
        voter = next(self.voters, None)
        if voter is not None:
            self.handed += 1
        return voter


async def drive(
    target: Target,
    voters: Iterable[Voter],
    *,
    concurrency: int,
    journeys: int | None = None,
    duration: float | None = None,
    arrival: str = "steady",
    stop: asyncio.Event | None = None,
    on_journey: Callable[[JourneyRecord], Any] | None = None,
    connection_limit: int | None = None,
    probe: Callable[[], dict[str, float]] | None = None,
) -> Recorder:
    """Run journeys with ``concurrency`` voters in flight; see the module docstring.

    ``arrival="rush"``: ``concurrency`` voters start at the same instant and each does one journey (``journeys``
    defaults to ``concurrency``); ``"steady"``: as soon as a journey ends another voter starts, until the feed runs
    out. Each voter has a cookie jar and keep-alive connections of their own, like a browser.
    """
    if arrival not in {"steady", "rush"}:
        raise ValueError("arrival is 'steady' or 'rush'")
    if arrival == "rush" and journeys is None:
        journeys = concurrency
    recorder = Recorder()
    feed = _Feed(iter(voters), journeys, time.monotonic() + duration if duration else None, stop)
    connector = aiohttp.TCPConnector(limit=connection_limit or 0, force_close=False, enable_cleanup_closed=True)

    async def one_voter_after_another() -> None:
        while (voter := feed.next()) is not None:
            async with aiohttp.ClientSession(
                connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
            ) as http:
                record = await journey(http, target, voter, recorder, probe)
            if on_journey is not None:
                on_journey(record)
            if arrival == "rush":
                return

    try:
        await asyncio.gather(*(one_voter_after_another() for _ in range(concurrency)))
    finally:
        recorder.finished = time.monotonic()
        await connector.close()
    return recorder


def run(target: Target, voters: Iterable[Voter], **options: Any) -> Recorder:
    """:func:`drive` from synchronous code (its own event loop)."""
    return asyncio.run(drive(target, voters, **options))
