"""The fault matrix under load: each component fails while voters vote and re-issue their codes; what they saw,
what was lost, how long until it worked again.

The suite runs in its production shape (:mod:`benchmarks.suite_servers`: the IdP and the portal under gunicorn, or
granian as docker-compose runs them (``--server granian``), with several workers, the IdP's delivery and back-channel
logout workers, the portal's mail worker and mixer; with ``--proxy``, or a fault that needs it, two replicas of each
app behind Caddy running deploy/Caddyfile, as docker-compose does) on
components of the run's own (:mod:`benchmarks.fault_topology`: a PostgreSQL cluster, Redis, aiosmtpd, the SMS
gateway double, the FranceConnect development provider, a relay in front of the portal's back-channel logout route;
with ``--replicas``, which the
failovers need, a synchronous PostgreSQL standby and a Redis replica watched by three Sentinels). A steady load
runs all along: voting journeys that end with « Se déconnecter » and réassort journeys (the link by e-mail or SMS,
« Générer un code », then the vote with the new code), as :mod:`benchmarks.journey_load` and
:mod:`benchmarks.reassort_load` drive them. The faults (:data:`FAULTS`) are injected one after the other; for each
one the benchmark prints (a delivery fault also has ``--burst`` voters ask for links at once as it starts):

- requests sent during its window, answers by status (0: no answer), and the pages voters saw on error answers;
- journeys completed and failed (by kind), the slowest request;
- when ``/healthz`` turned 503 and when both apps answered 200 again (time to recover), when the first journey
  completed after it;
- what it must not lose: receipts shown that are not in the ballot box once (« Votre vote a été enregistré »),
  links promised (« Un lien vient de vous être envoyé ») without their row or never delivered, duplicates;
- the fault's own checks (sessions, CAPTCHAs and lockout counters across a Redis failover; receipts shown again
  after Redis restarted empty; the outbox's order after SMTP returns; back-channel notices delivered; …);
- whether every worker process is still running.

At the end: every link promised was delivered, every receipt is in the box once, both audit chains verify.

    .venv/bin/python -m benchmarks.faults --replicas                     # the whole matrix (about 15 minutes)
    .venv/bin/python -m benchmarks.faults --faults redis-stop,pg-restart  # some of it
    .venv/bin/python -m benchmarks.faults --smoke                        # the bounded subset of make test
    options: --outage 30 --smtp-outage 300 --concurrency 6 --reassorts 2 --burst 10 --workers 2 --threads 4
             --settle 5 --pause 0 --voters N --keep-logs DIR

The web servers' kernel settings (:data:`infra.web_server.SYSCTLS`, what docker-compose gives their containers)
belong to a network namespace: ``--netns`` runs the whole benchmark in a private one of its own (root, ``unshare``
and ``ip``; its loopback only) with those settings, ``--sysctl NAME=VALUE`` changing one for a comparison:

    .venv/bin/python -m benchmarks.faults --netns --server granian --faults web-worker-kill,rolling-restart
    .venv/bin/python -m benchmarks.faults --netns --sysctl net.ipv4.tcp_migrate_req=0 --server granian ...

``--server-option`` adds an option to both web servers' command lines (``--server-option=--respawn-interval=12``).
``--capture FILE`` (with ``--netns``) records the TCP headers of the namespace's loopback with tcpdump; every request
without an answer is printed with its OS error and the connection each attempt used (new, or kept alive and idle for
how long, and its local port, to find it in the capture).

Restarts of the web processes: ``rolling-restart`` sends ``HUP`` to both apps' masters (gunicorn: new workers, the
old ones stopped at once; granian: one worker after the other, each new one given ``--respawn-interval``);
``rolling-restart-ttin`` is gunicorn's ``TTIN``/``TTOU``; ``rolling-restart-proxy`` is the election-day procedure
behind Caddy (deploy/rolling-restart.sh: each replica drained, stopped, started, ready, then the next) and
``restart-proxy-undrained`` the same without the drain (docs/operators/resilience.md has the figures). The whole
matrix runs them only with ``--proxy`` (which puts every fault of the run behind Caddy).

Exit status 1 if anything was lost or a check failed. Loopback only; nothing shared is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from benchmarks import backup_drill, journey_load, reassort_load, suite_servers, web_servers
from benchmarks.fault_topology import TcpRelay, Topology, topology
from benchmarks.journey_load import JourneyRecord, Recorder, Voter
from benchmarks.reassort_load import Mailbox
from infra import web_server

#: Seconds a voter who met an error page waits before trying again (the outage page says « dans quelques
#: instants »), and the steps after which their ballot may have been taken (they do not start again).
RETRY_PAUSE = 2.0
CAST_STEPS = ("portal.cast", "portal.receipt", "sign_out", "portal.home.before_sign_out")
WORKERS = ("idp-worker", "idp-logouts", "portal-worker", "portal-mixer")
#: What each web server is given for faults, as docker-compose does: a stopping worker gets 30 s to finish what it
#: serves (gunicorn's graceful timeout, granian's kill timeout); granian replaces a worker that died and keeps an
#: idle connection 60 s (longer than the proxy).
SERVER_OPTIONS = {
    "gthread": ["--graceful-timeout", "30"],
    "granian": [
        "--respawn-failed-workers",
        "--respawn-interval",
        "12",
        "--workers-kill-timeout",
        "30",
        "--http1-header-read-timeout",
        "60000",
    ],
}
#: Set in the environment of the benchmark re-run inside its private network namespace (``--netns``).
IN_NETNS = "ELECTIONS_FAULTS_IN_NETNS"
#: What the French outage page is called (infra.unavailable).
OUTAGE_PAGE = "Service momentanément indisponible"


# --- the load ------------------------------------------------------------------------------------------------------


class Load:
    """Voting journeys (each ending with « Se déconnecter ») and réassort journeys, steadily, in a thread of its own
    until :meth:`stop`; one :class:`Recorder` for all (each fault reads its own window of it)."""

    def __init__(
        self,
        deployment: suite_servers.Deployment,
        mailbox: Mailbox,
        voters: Iterator[Voter],
        *,
        concurrency: int,
        reassorts: int,
        link_wait: float,
        pause: float = 0.0,
    ) -> None:
        self.deployment = deployment
        self.mailbox = mailbox
        self.voters = voters
        self.concurrency = concurrency
        self.reassorts = reassorts
        self.link_wait = link_wait
        #: Seconds each journey slot rests after a completed journey (0: the next voter at once).
        self.pause = pause
        self.recorder = Recorder()
        self.voters_by_id: dict[str, Voter] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._channels = itertools.cycle(("email", "sms"))
        self._bursts: list[concurrent.futures.Future[None]] = []
        self._target = deployment.target(request_timeout=30.0)
        self._connector: aiohttp.TCPConnector | None = None

    def start(self) -> None:
        self._thread.start()
        while self._stop is None:
            time.sleep(0.01)

    def burst(self, count: int, channel: str) -> None:
        """``count`` more réassort journeys at once by ``channel``, beside the steady load: voters asking for links
        while the relay or the gateway is failing (each waits for its link, then votes)."""
        assert self._loop is not None
        self._bursts.append(asyncio.run_coroutine_threadsafe(self._burst(count, channel), self._loop))

    async def _burst(self, count: int, channel: str) -> None:
        async def one() -> None:
            voter = self.next_voter()
            if voter is None:
                return
            async with aiohttp.ClientSession(
                connector=self._connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
            ) as http:
                await reassort_load.reassort_journey(
                    http, self._target, voter, self.recorder, self.mailbox, channel=channel, link_wait=self.link_wait
                )

        await asyncio.gather(*(one() for _ in range(count)))

    def stop(self) -> None:
        for burst in self._bursts:
            with contextlib.suppress(Exception):
                burst.result(timeout=self.link_wait + 60)
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile (no voter left)
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=self.link_wait + 60)

    def next_voter(self) -> Voter | None:
        with self._lock:
            voter = next(self.voters, None)
            if voter is not None:
                self.voters_by_id[voter.identifier] = voter
            return voter

    def _run(self) -> None:
        asyncio.run(self._drive())

    async def _drive(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        target = self._target
        connector = self._connector = journey_load.TracingConnector(limit=0, enable_cleanup_closed=True)
        stop = self._stop

        async def one_after_another(reassort: bool) -> None:
            again: Voter | None = None
            tries = 0
            while not stop.is_set():
                voter = again or self.next_voter()
                if voter is None:
                    return
                async with aiohttp.ClientSession(
                    connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
                ) as http:
                    if reassort:
                        record = await reassort_load.reassort_journey(
                            http,
                            target,
                            voter,
                            self.recorder,
                            self.mailbox,
                            channel=next(self._channels),
                            link_wait=self.link_wait,
                        )
                    else:
                        record = await reassort_load.vote_and_sign_out(http, target, voter, self.recorder)
                if record.ok:
                    again, tries = None, 0
                    if self.pause:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), self.pause)
                    continue
                # A voter who met an error page comes back a moment later, as the page asks; the same voter
                # starts again unless their ballot may have been taken (or their code re-issued).
                await asyncio.sleep(RETRY_PAUSE)
                retry = not reassort and tries < 3 and not any(s in (record.error or "") for s in CAST_STEPS)
                again, tries = (voter, tries + 1) if retry else (None, 0)

        try:
            await asyncio.gather(
                *(one_after_another(False) for _ in range(self.concurrency)),
                *(one_after_another(True) for _ in range(self.reassorts)),
            )
        finally:
            self.recorder.finished = time.monotonic()
            await connector.close()


class Health:
    """Both apps' ``/healthz`` every 0.2 s in a thread: (time, IdP status, portal status), 0 for no answer."""

    def __init__(self, deployment: suite_servers.Deployment) -> None:
        self.urls = (f"{deployment.idp_url}/healthz", f"{deployment.portal_url}/healthz")
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _status(self, http: requests.Session, url: str) -> int:
        try:
            return http.get(url, timeout=3).status_code
        except requests.RequestException:
            return 0

    def _run(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                now = time.monotonic()
                idp, portal = (self._status(http, url) for url in self.urls)
                self.samples.append((now, idp, portal))
                self._stop.wait(0.2)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def first_unhealthy(self, after: float) -> float | None:
        return next((t for t, a, b in list(self.samples) if t >= after and (a != 200 or b != 200)), None)

    def healthy_since(self, after: float) -> float | None:
        """The start of the first run of healthy samples after ``after`` that lasts to now (or 2 s at least)."""
        since = None
        for t, a, b in list(self.samples):
            if t < after:
                continue
            if a == 200 and b == 200:
                since = since if since is not None else t
                if t - since >= 2.0:
                    return since
            else:
                since = None
        return since

    def wait_healthy(self, after: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.healthy_since(after)
            if found is not None and time.monotonic() - found >= 2.0:
                return found
            time.sleep(0.2)
        return None


# --- a fault's report ----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one fault did: its window, its marks (injected, healed), and its checks."""

    name: str
    title: str
    started: float = 0.0
    injected: float = 0.0
    healed: float = 0.0
    ended: float = 0.0
    #: check → (held, what was seen)
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def check(self, name: str, held: bool, seen: str) -> None:
        self.checks[name] = (held, seen)

    @property
    def ok(self) -> bool:
        return all(held for held, _ in self.checks.values())


@dataclass
class Context:
    deployment: suite_servers.Deployment
    topology: Topology
    load: Load
    health: Health
    mailbox: Mailbox
    outage: float
    smtp_outage: float
    link_wait: float
    relay: TcpRelay
    #: Réassorts asked at once when a delivery fault starts (each phase of the SMS faults gets half).
    burst: int
    extra_processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _window(
    recorder: Recorder, start: float, end: float
) -> tuple[list[journey_load.RequestRecord], list[JourneyRecord]]:
    requests_ = [r for r in list(recorder.requests) if start <= r.started <= end]
    journeys = [j for j in list(recorder.journeys) if j.seconds and start <= j.started + j.seconds <= end]
    return requests_, journeys


def summarise(ctx: Context, outcome: Outcome) -> None:
    """The figures every fault prints (see the module docstring)."""
    records, journeys = _window(ctx.load.recorder, outcome.started, outcome.ended)
    statuses = Counter(r.status for r in records)
    pages = Counter(
        (r.page if r.page else r.error or "?") if r.status else (r.error or "no answer")
        for r in records
        if r.status >= 400 or r.status == 0
    )
    failed = Counter(j.error or "?" for j in journeys if not j.ok)
    during = [r for r in records if outcome.injected <= r.started <= (outcome.healed or outcome.ended)]
    slowest = max((r.seconds for r in during), default=0.0)
    done = sum(1 for j in journeys if j.ok)
    outcome.lines += [
        f"  requests sent: {len(records)}; answers by status: "
        + ", ".join(f"{status or 'none'} × {count}" for status, count in sorted(statuses.items())),
        f"  pages seen on errors: {dict(pages.most_common(6)) if pages else 'none'}",
        f"  journeys completed {done}, failed {sum(failed.values())}"
        + (f": {dict(failed.most_common(5))}" if failed else ""),
        f"  slowest request while the fault lasted: {slowest:.2f} s",
    ]
    bare = sum(count for page, count in pages.items() if "Internal Server Error" in str(page))
    outcome.check("no raw server error page", bare == 0, f"{bare} « Internal Server Error » pages")
    down = ctx.health.first_unhealthy(outcome.injected)
    if down is not None and down <= (outcome.healed or outcome.ended):
        outcome.lines.append(f"  /healthz 503 {down - outcome.injected:.1f} s after the fault")
    back = ctx.health.healthy_since(outcome.healed or outcome.injected)
    if back is not None:
        mark = outcome.healed or outcome.injected
        label = "the component's return" if outcome.healed else "the fault"
        first_journey = min(
            (j.started + j.seconds for j in ctx.load.recorder.journeys if j.ok and j.started + j.seconds > mark),
            default=None,
        )
        outcome.lines.append(
            f"  recovered (both /healthz 200) {max(0.0, back - mark):.1f} s after {label}"
            + (f"; first journey completed {first_journey - mark:.1f} s after it" if first_journey else "")
        )
    alive = {name: ctx.deployment.processes[name].poll() is None for name in WORKERS}
    outcome.check("every worker still running", all(alive.values()), ", ".join(n for n, a in alive.items() if not a))


def acknowledged(ctx: Context, outcome: Outcome, *, final: bool = False) -> None:
    """Every receipt shown is in the box once (with its émargement); every link promised has its row."""
    # Every receipt shown, also of a journey that failed afterwards (at « Se déconnecter »).
    receipts = {j.receipt: j.voter for j in list(ctx.load.recorder.journeys) if j.receipt}
    problems = ctx.deployment.check_ballot_box(receipts)
    # A ballot is in the box a moment before its voter reads the receipt: under load, more ballots than receipts
    # is a journey in flight; at the end, each extra ballot must be a voter whose receipt page failed (they get it
    # again on return: see redisplay_receipts).
    cut = sum(1 for j in ctx.load.recorder.journeys if not j.ok and j.error and _after_cast(j.error))
    extra = len(_box_codes(ctx.deployment)) - len(receipts)
    if not final or 0 <= extra <= cut:
        problems = [p for p in problems if "receipts shown" not in p]
    outcome.check(
        "every « Votre vote a été enregistré » is in the ballot box",
        not problems,
        f"{len(receipts)} receipts; " + ("; ".join(problems[:3]) if problems else "all in the box once"),
    )
    promised = Counter(p.voter for p in ctx.mailbox.promises)
    rows = link_rows(ctx.deployment)
    missing = [voter for voter, count in promised.items() if rows.get(voter, 0) < count]
    outcome.check(
        "every « Un lien vient de vous être envoyé » has its link in the database",
        not missing,
        f"{sum(promised.values())} links promised, {len(missing)} without a row",
    )


def waiting_emails(deployment: suite_servers.Deployment) -> list[str]:
    """Recipients of the e-mails waiting in the IdP's outbox, oldest first (their payloads opened with the IdP's
    key, as its worker does)."""
    from idp.delivery.payload import fernet_for, unseal
    from idp.models import OutboxMessage

    fernet = fernet_for(deployment.idp_env["IDP_SECRET_KEY"])
    engine = create_engine(deployment.storage.idp_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(OutboxMessage.payload)
                .where(OutboxMessage.status == "pending", OutboxMessage.channel == "email")
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            ).scalars()
            return [unseal(fernet, bytes(payload)).recipient.lower() for payload in rows if payload is not None]
    finally:
        engine.dispose()


def _after_cast(error: str) -> bool:
    """A journey that failed once its ballot was sent (it may be in the box)."""
    return any(f"at {step}" in error for step in ("portal.cast", "portal.receipt"))


def link_rows(deployment: suite_servers.Deployment) -> dict[str, int]:
    engine = create_engine(deployment.storage.idp_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT v.identifier, count(*) FROM one_time_link l JOIN voter v ON v.id = l.voter_id "
                    "WHERE l.purpose = 'reassort_code' GROUP BY v.identifier"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(identifier): int(count) for identifier, count in rows}


def deliveries(ctx: Context, outcome: Outcome, since: float, *, wait: float) -> None:
    """Links promised since ``since``: delivered (how late), lost, duplicated."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pending = [
            p for p in ctx.mailbox.promises if p.promised_at >= since and not ctx.mailbox.links_for(p.destination)
        ]
        if not pending:
            break
        time.sleep(0.5)
    promises = [p for p in ctx.mailbox.promises if p.promised_at >= since]
    delivered = [p for p in promises if ctx.mailbox.links_for(p.destination)]
    late = [p.arrived_at - p.promised_at for p in promises if p.arrived_at is not None]
    duplicates = duplicate_links(ctx.mailbox)
    outcome.lines.append(
        f"  links promised {len(promises)}, delivered {len(delivered)}"
        + (f", arrival p50 {sorted(late)[len(late) // 2]:.1f} s, max {max(late):.1f} s" if late else "")
        + f"; duplicates so far {duplicates}"
    )
    outcome.check("no link lost", len(delivered) == len(promises), f"{len(promises) - len(delivered)} not delivered")


def duplicate_links(mailbox: Mailbox) -> int:
    """Links received more than once (an uncertain hand-over sent again): each extra copy counts."""
    seen = Counter(link for _, text_ in mailbox.messages() for link in reassort_load._LINK_RE.findall(text_))
    return sum(count - 1 for count in seen.values() if count > 1)


# --- the faults ----------------------------------------------------------------------------------------------------


def redis_stop(ctx: Context, outcome: Outcome) -> None:
    """Every Redis node stopped ``outage`` seconds, then started empty."""
    # The receipts' check needs voters who voted before the outage: a first journey done (a slow machine may not
    # have finished one in the settling time).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(j.ok and j.receipt for j in list(ctx.load.recorder.journeys)):
        time.sleep(0.1)
    outcome.injected = time.monotonic()
    ordered = ctx.topology.stop_redis()
    time.sleep(ctx.outage)
    ctx.topology.start_redis_empty(ordered)
    outcome.healed = time.monotonic()
    ctx.health.wait_healthy(outcome.healed, 30)
    records, _ = _window(ctx.load.recorder, outcome.injected, outcome.healed)
    slow = [r for r in records if r.status == 503 and r.seconds > 2]
    outcome.check("503 answered within 2 s", not slow, f"{len(slow)} slower than 2 s")
    french = sum(1 for r in records if r.status == 503 and r.page and OUTAGE_PAGE in r.page)
    others = sum(1 for r in records if r.status == 503 and not (r.page and OUTAGE_PAGE in r.page))
    outcome.notes.append(f"the French 503 page {french} times, another 503 {others} times")
    outcome.check("every 503 is the French page", others == 0, f"{others} other 503 answers")
    outcome.check("receipts shown again after the restart", *redisplay_receipts(ctx, outcome.injected, outcome.healed))


def redisplay_receipts(ctx: Context, injected: float, healed: float) -> tuple[bool, str]:
    """Voters whose ballot was taken but whose receipt page failed (in this outage or an earlier fault), and a few
    who voted before it, sign in again: their receipt page shows the tracking code that is in the box (it is
    durable: the émargement keeps it sealed)."""
    # Every voter cut at the receipt page so far (this outage, or an earlier fault of the run).
    cut = [j for j in ctx.load.recorder.journeys if not j.ok and j.error and j.error.endswith("at portal.receipt")]
    before = [j for j in ctx.load.recorder.journeys if j.ok and j.receipt and j.started + j.seconds < injected][-3:]
    voters = [ctx.load.voters_by_id[j.voter] for j in cut + before]
    if not voters:
        return True, "no voter to check"
    found = asyncio.run(_receipts_again(ctx.deployment, voters))
    in_box = set(_box_codes(ctx.deployment))
    shown = {j.voter: j.receipt for j in before}
    bad = [
        voter
        for voter, code in found.items()
        if code is None or code not in in_box or (voter in shown and shown[voter] != code)
    ]
    return not bad, f"{len(found)} voters ({len(cut)} cut at their receipt page) saw it; {len(bad)} did not"


async def _receipts_again(deployment: suite_servers.Deployment, voters: list[Voter]) -> dict[str, str | None]:
    target = deployment.target()
    found: dict[str, str | None] = {}
    recorder = Recorder()
    for voter in voters:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            record = JourneyRecord(voter.identifier, time.monotonic())
            browser = journey_load._Browser(http, target, recorder, record)
            try:
                await journey_load._sign_in(browser, target, voter)
                page, _ = await browser.get(
                    "portal.receipt.again", f"{target.portal_url}/je-vote/{target.scrutin}/recu"
                )
                match = journey_load._RECEIPT_RE.search(page)
                found[voter.identifier] = match.group(1) if match else None
            except journey_load.JourneyFailed:
                found[voter.identifier] = None
    return found


def _box_codes(deployment: suite_servers.Deployment) -> list[str]:
    from relying_party.models import Ballot
    from votecrypto.ballot import display_code

    engine = create_engine(deployment.storage.portal_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [display_code(bytes(c)) for c in conn.execute(select(Ballot.tracking_code)).scalars()]
    finally:
        engine.dispose()


def redis_failover(ctx: Context, outcome: Outcome) -> None:
    """``kill -9`` of the Redis primary: a Sentinel promotes the replica; what the store held survives."""
    asyncio.run(_redis_failover(ctx, outcome))


async def _redis_failover(ctx: Context, outcome: Outcome) -> None:
    topo = ctx.topology
    sentinels = topo.sentinels
    assert sentinels is not None
    voter = ctx.load.next_voter()
    assert voter is not None
    pending = await _captcha_pending(ctx.deployment, voter)
    failures_before = topo.redis_keys("idp:fail:*")
    sessions_before = topo.redis_keys("*session*")
    old = topo.redis_primary()

    def kill_and_wait() -> float:
        outcome.injected = time.monotonic()
        old.kill()
        while sentinels.primary_port() == old.port and time.monotonic() - outcome.injected < 30:
            time.sleep(0.1)
        promoted = time.monotonic() - outcome.injected
        ctx.health.wait_healthy(outcome.injected, 30)
        return promoted

    promoted = await asyncio.to_thread(kill_and_wait)
    back = ctx.health.healthy_since(outcome.injected)
    follow = (back - outcome.injected) if back else float("inf")
    outcome.notes.append(f"the Sentinels promoted the replica {promoted:.1f} s after the kill")
    outcome.check("the apps follow within 10 s", follow <= 10, f"{follow:.1f} s")
    outcome.check("a CAPTCHA and its session survive", await pending.finish(), "answered after the failover")
    failures_after = topo.redis_keys("idp:fail:*")
    sessions_after = topo.redis_keys("*session*")
    outcome.check(
        "lockout counters survive",
        failures_after >= failures_before > 0,
        f"{failures_before} failure counters before, {failures_after} after",
    )
    outcome.notes.append(f"session entries: {sessions_before} before the kill, {sessions_after} after")
    # The old primary comes back as a replica of the new one (the Sentinels reconfigure it).
    old.replica_of = topo.redis_primary()
    await asyncio.to_thread(old.start)
    await asyncio.to_thread(topo.redis_primary().wait_for_replicas, 1)


@dataclass
class _PendingSignIn:
    http: aiohttp.ClientSession
    browser: journey_load._Browser
    target: journey_load.Target
    voter: Voter
    page: str

    async def finish(self) -> bool:
        """Answer the identifier + CAPTCHA form fetched before the failover: accepted means its session and its
        CAPTCHA answer were still in the store."""
        try:
            action, fields = journey_load.form_fields(self.page, "/login", self.target.idp_url)
            fields.update(identifier=self.voter.identifier, captcha=self.target.captcha)
            _, location = await self.browser.post("failover.login.post", action, fields)
            page, _ = await self.browser.redirect("failover.password", location, expect=200)
            return journey_load.heading(page) == "Saisie du mot de passe Élections"
        except journey_load.JourneyFailed:
            return False
        finally:
            await self.http.close()


async def _captcha_pending(deployment: suite_servers.Deployment, voter: Voter) -> _PendingSignIn:
    """A voter on « Accès au portail Élections » with their CAPTCHA drawn, and one password failure of theirs
    counted (a lockout counter in the store)."""
    target = deployment.target()
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    record = JourneyRecord(voter.identifier, time.monotonic())
    browser = journey_load._Browser(http, target, Recorder(), record)
    wrong = Voter(voter.identifier, "not the password of anyone 0", voter.vote_code)
    with contextlib.suppress(journey_load.JourneyFailed):
        await journey_load._sign_in(browser, target, wrong)  # fails at the password: one failure counted
    _, location = await browser.get("failover.connexion", f"{target.portal_url}/connexion", expect=302)
    page = await journey_load._authorization_screen(browser, "failover.authorize", "failover.login", location)
    await journey_load._captcha(browser, "failover.captcha", page, target.idp_url)
    return _PendingSignIn(http, browser, target, voter, page)


def pg_restart(ctx: Context, outcome: Outcome) -> None:
    """``pg_ctl restart -m fast`` of the PostgreSQL primary under load."""
    outcome.injected = time.monotonic()
    ctx.topology.postgres.restart("fast")
    outcome.healed = time.monotonic()
    back = ctx.health.wait_healthy(outcome.healed, 30)
    within = (back - outcome.healed) if back else float("inf")
    outcome.notes.append(f"the restart took {outcome.healed - outcome.injected:.1f} s")
    outcome.check("service back within 10 s of PostgreSQL", within <= 10, f"{within:.1f} s")


def pg_failover(ctx: Context, outcome: Outcome) -> None:
    """``kill -9`` of the PostgreSQL primary, its synchronous standby promoted (as a failover tool would, 1 s later)."""
    topo = ctx.topology
    assert topo.standby is not None
    outcome.injected = time.monotonic()
    topo.postgres.kill()
    time.sleep(1)
    topo.standby.promote()
    outcome.notes.append(f"standby promoted {time.monotonic() - outcome.injected:.1f} s after the kill")
    topo.postgres, topo.standby = topo.standby, topo.postgres  # the dead one stays in the URL's list
    back = ctx.health.wait_healthy(outcome.injected, 60)
    follow = (back - outcome.injected) if back else float("inf")
    outcome.check("the apps follow the promoted standby within 15 s", follow <= 15, f"{follow:.1f} s after the kill")


def smtp_down(ctx: Context, outcome: Outcome) -> None:
    """The SMTP server stopped ``smtp_outage`` seconds; the e-mails wait in the outbox, then go oldest first."""
    outcome.injected = time.monotonic()
    ctx.topology.mail.stop()
    for _ in range(2):  # voters keep asking for links by e-mail while the relay is down
        ctx.load.burst(ctx.burst, "email")
        time.sleep(ctx.smtp_outage / 2)
    received_before = len(ctx.topology.mail.received())
    queue = waiting_emails(ctx.deployment)
    ctx.topology.mail.start()
    outcome.healed = time.monotonic()
    deliveries(ctx, outcome, outcome.injected, wait=ctx.link_wait)
    waiting = [
        p for p in ctx.mailbox.promises if p.channel == "email" and outcome.injected <= p.promised_at < outcome.healed
    ]
    # The outbox's order (its queue, read just before the relay returned) against the relay's order of arrival.
    order = [to.lower() for to, _ in ctx.topology.mail.received()[received_before:]]
    positions = [order.index(to) for to in queue if to in order]
    # The first retry due goes first; it brings the others forward, oldest first, in the same round.
    rest = sorted(positions)[1:]
    oldest_first = [p for p in positions if p in rest] == rest
    outcome.check(
        "the waiting e-mails leave oldest first",
        oldest_first and len(positions) == len(queue) > 1,
        f"{len(queue)} e-mails waited in the outbox, {len(positions)} arrived",
    )
    arrivals = sorted(p.arrived_at - outcome.healed for p in waiting if p.arrived_at is not None)
    if arrivals:
        outcome.notes.append(
            f"the {len(arrivals)} waiting links reached the voters {arrivals[0]:.1f} to {arrivals[-1]:.1f} s "
            "after SMTP returned"
        )
    records, _ = _window(ctx.load.recorder, outcome.injected, outcome.healed)
    posts = [r.seconds for r in records if r.step == "reassort.request.post"]
    outcome.notes.append(
        f"« Un lien vient de vous être envoyé » answered in at most {max(posts, default=0.0):.2f} s during the outage"
    )


def sms_faults(ctx: Context, outcome: Outcome) -> None:
    """The SMS gateway answers 500, then does not answer in time (11 s, past the IdP's 10 s), then slowly (3 s);
    voters ask for links by SMS in each phase."""
    state = ctx.topology.sms.state
    phase = ctx.outage / 3
    outcome.injected = time.monotonic()
    with state.lock:
        state.replies = [500] * 100_000
    ctx.load.burst(ctx.burst // 2, "sms")
    time.sleep(phase)
    with state.lock:
        state.replies = []
    state.delay = 11.0  # past IDP_SMS_TIMEOUT (10 s): the IdP gives up, the gateway may still send it
    ctx.load.burst(ctx.burst // 2, "sms")
    time.sleep(phase)
    state.delay = 3.0
    ctx.load.burst(ctx.burst // 2, "sms")
    time.sleep(phase)
    state.delay = 0.0
    outcome.healed = time.monotonic()
    deliveries(ctx, outcome, outcome.injected, wait=ctx.link_wait)
    records, _ = _window(ctx.load.recorder, outcome.injected, outcome.healed)
    posts = [r.seconds for r in records if r.step == "reassort.request.post"]
    outcome.check(
        "web requests never wait on the gateway",
        max(posts, default=0.0) < 3,
        f"« lien envoyé » answered in at most {max(posts, default=0.0):.2f} s",
    )


def delivery_worker_kill(ctx: Context, outcome: Outcome) -> None:
    """``kill -9`` of the IdP's delivery worker while it hands a réassort link over (a slow relay: 3 s per message);
    started again at once, as a supervisor does. The relay had the message: the voter has the link; after its lease
    (``IDP_DELIVERY_LEASE``: 30 s; 13 s in the smoke run, :data:`SMOKE_SETTINGS`) the new worker sends it again,
    marked as a possible duplicate."""
    lease = _delivery_lease(ctx.deployment)
    handler = ctx.topology.mail.running.handler if ctx.topology.mail.running else None
    assert handler is not None
    in_hand: list[str] = []
    handed_over = handler.handle_DATA

    async def recording(server: object, session: object, envelope: object) -> str:
        in_hand.extend(str(to).lower() for to in getattr(envelope, "rcpt_tos", []))
        return await handed_over(server, session, envelope)

    handler.handle_DATA = recording  # type: ignore[method-assign]
    handler.delay = 3.0
    ctx.load.burst(ctx.burst // 2, "email")
    promised = lambda: {p.destination.lower() for p in ctx.mailbox.promises if p.channel == "email"}  # noqa: E731
    deadline = time.monotonic() + ctx.link_wait
    victim = None
    while victim is None and time.monotonic() < deadline:
        victim = next((to for to in reversed(in_hand) if to in promised()), None)
        time.sleep(0.05)
    worker = ctx.deployment.processes["idp-worker"]
    outcome.injected = time.monotonic()
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    ctx.extra_processes.append(ctx.deployment.start_again("idp-worker"))
    handler.delay = 0.0
    handler.handle_DATA = handed_over  # type: ignore[method-assign]
    outcome.healed = time.monotonic()
    deliveries(ctx, outcome, outcome.injected - lease, wait=ctx.link_wait)
    if victim is not None:
        copies = ctx.mailbox.links_for(victim)
        # A second copy can only come once the lease has run out: wait for it until then, unless the one copy
        # already came that late (then it was the new worker's, and the relay had dropped the cut hand-over).
        arrived = max((p.arrived_at or 0.0 for p in ctx.mailbox.promises if p.destination.lower() == victim), default=0)
        deadline = outcome.injected + (lease + 15 if arrived < outcome.injected + lease * 2 / 3 else 0)
        while len(copies) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            copies = ctx.mailbox.links_for(victim)
        outcome.notes.append(
            f"the link being handed over at the kill reached its voter {len(copies)} time(s) "
            + (
                "(the relay had it; sent again after the lease, marked possible_duplicate)"
                if len(copies) > 1
                else "(the relay dropped the cut hand-over; the new worker sent it after the lease)"
            )
        )
        outcome.check("duplicates bounded: the link in flight sent at most twice", 1 <= len(copies) <= 2, victim)
    else:
        outcome.check("a link was being handed over at the kill", False, "none seen")
    waited = [
        p.arrived_at - p.promised_at
        for p in ctx.mailbox.promises
        if p.arrived_at is not None and outcome.injected - lease <= p.promised_at <= outcome.healed
    ]
    longest = max(waited, default=0.0)
    outcome.check("no link waits two minutes for a lease", longest < 120, f"longest wait {longest:.1f} s")


def _delivery_lease(deployment: suite_servers.Deployment) -> float:
    """Seconds the IdP's delivery worker holds a message it claimed, in this run."""
    from idp.config import DEFAULTS

    return float(deployment.idp_env.get("IDP_DELIVERY_LEASE", DEFAULTS["DELIVERY_LEASE"]))


def _migration() -> str:
    """What happens here to the connections queued on a stopping worker's socket (infra.web_server)."""
    return ", ".join(f"{name} = {web_server.sysctl(name)}" for name in web_server.SYSCTLS)


def _web_workers(master: subprocess.Popen[bytes]) -> list[int]:
    """The worker processes of a web server's master (gunicorn's or granian's; not multiprocessing's helpers)."""

    def helper(pid: int) -> bool:
        try:
            return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return True

    return [pid for pid in suite_servers.process_tree(master.pid) if pid != master.pid and not helper(pid)]


def web_worker_kill(ctx: Context, outcome: Outcome) -> None:
    """``kill -9`` of one gunicorn worker of the IdP and one of the portal: only their requests in flight are lost."""
    outcome.injected = time.monotonic()
    for name in ("idp", "portal"):
        workers = _web_workers(ctx.deployment.processes[name])
        os.kill(workers[0], signal.SIGKILL)
    outcome.healed = time.monotonic()
    time.sleep(3)
    records, _ = _window(ctx.load.recorder, outcome.injected - 1, outcome.injected + 3)
    lost = [r for r in records if r.status == 0 or r.status >= 500]
    outcome.notes.append(f"requests without an answer or with a 5xx around the kill: {len(lost)}; {_migration()}")
    outcome.check("only requests in flight are lost", len(lost) <= 2 * 4, f"{len(lost)} lost (2 workers × 4 threads)")


def rolling_restart(ctx: Context, outcome: Outcome) -> None:
    """``kill -HUP`` of both web servers' masters under load: new workers start, old ones finish what they serve."""
    names = ("idp", "portal")
    before = {name: set(_web_workers(ctx.deployment.processes[name])) for name in names}
    events: list[tuple[float, str]] = []
    outcome.injected = time.monotonic()
    for name in names:
        ctx.deployment.processes[name].send_signal(signal.SIGHUP)
    seen = {name: set(before[name]) for name in names}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = {name: set(_web_workers(ctx.deployment.processes[name])) for name in names}
        for name in names:
            events += [(time.monotonic(), f"{name} worker {pid} started") for pid in sorted(now[name] - seen[name])]
            events += [(time.monotonic(), f"{name} worker {pid} gone") for pid in sorted(seen[name] - now[name])]
            seen[name] = now[name]
        if all(not (now[name] & before[name]) and len(now[name]) >= len(before[name]) for name in now):
            break
        time.sleep(0.1)
    outcome.healed = time.monotonic()
    outcome.notes.append(f"every worker replaced in {outcome.healed - outcome.injected:.1f} s; {_migration()}")
    time.sleep(2)
    records, _ = _window(ctx.load.recorder, outcome.injected, outcome.healed + 2)
    lost = [r for r in records if r.status == 0 or r.status >= 500]
    outcome.notes += [f"{at - outcome.injected:6.2f} s {what}" for at, what in events]
    outcome.notes += [_failure(r, outcome.injected) for r in lost]
    outcome.check(
        "the rolling restart costs no request", not lost, f"{len(lost)} lost: {Counter(r.error for r in lost)}"
    )
    _, journeys = _window(ctx.load.recorder, outcome.injected, outcome.healed + 2)
    failed = Counter(j.error for j in journeys if not j.ok)
    outcome.notes.append(f"journeys failed meanwhile: {sum(failed.values())} {dict(failed) if failed else ''}")


def _failure(record: journey_load.RequestRecord, since: float) -> str:
    """One request without an answer: when, what, on which connection(s), what the client saw."""
    seen = f"{record.method} {record.step} after {record.seconds:.3f} s"
    if record.status:
        return f"{record.started - since:6.2f} s lost: {seen}, answered {record.status} ({record.page or '-'})"
    attempts = "; ".join(a.describe() for a in record.attempts or []) or "no connection"
    return f"{record.started - since:6.2f} s lost: {seen}, no answer, {record.exception}; attempts: {attempts}"


def rolling_restart_proxy(ctx: Context, outcome: Outcome) -> None:
    """The rolling restart of the production shape (docs/operators/runbook.md, deploy/rolling-restart.sh): behind
    Caddy, each replica of each app in turn is drained (its drain file: ``/readyz`` answers 503, Caddy's next check
    takes it out of the rotation), once Caddy has no request in flight to it stopped (``SIGTERM``: granian finishes
    what it serves), started again, and back in the rotation before the next one."""
    _proxied_restart(ctx, outcome, drain=True)


def restart_proxy_undrained(ctx: Context, outcome: Outcome) -> None:
    """The same replicas restarted one at a time behind Caddy without draining them first: what the draining saves
    (Caddy learns of a stopping replica from its connections, not from its health check)."""
    _proxied_restart(ctx, outcome, drain=False)


def _proxied_restart(ctx: Context, outcome: Outcome, *, drain: bool) -> None:
    deployment = ctx.deployment
    assert deployment.proxy_admin is not None
    events: list[tuple[float, str]] = []
    outcome.injected = time.monotonic()
    for replicas in deployment.replicas.values():
        for name, port in replicas:
            if drain:
                deployment.drain_file(name).touch()
                events.append((time.monotonic(), f"{name}: draining"))
                # Caddy's next check sees the 503 (one interval, plus the check's own answer): nothing new is sent.
                time.sleep(2 * web_server.PROXY_HEALTH_INTERVAL + 1)
                idle = _proxy_idle(deployment.proxy_admin, port, timeout=web_server.GRACEFUL_TIMEOUT)
                events.append((time.monotonic(), f"{name}: nothing in flight through the proxy ({idle})"))
            old = deployment.processes[name]
            old.send_signal(signal.SIGTERM)
            old.wait(web_server.GRACEFUL_TIMEOUT + 15)
            events.append((time.monotonic(), f"{name}: stopped"))
            with contextlib.suppress(FileNotFoundError):
                deployment.drain_file(name).unlink()  # what the restart's empty tmpfs does in docker-compose
            ctx.extra_processes.append(deployment.start_again(name))
            _wait_ready(f"http://127.0.0.1:{port}/readyz", 120)
            events.append((time.monotonic(), f"{name}: ready"))
            # Back in Caddy's rotation at its next check, before the other replica of the app goes.
            time.sleep(2 * web_server.PROXY_HEALTH_INTERVAL + 1)
    outcome.healed = time.monotonic()
    outcome.notes.append(f"every replica replaced in {outcome.healed - outcome.injected:.1f} s")
    time.sleep(2)
    records, journeys = _window(ctx.load.recorder, outcome.injected, outcome.healed + 2)
    lost = [r for r in records if r.status == 0 or r.status >= 500]
    outcome.notes += [f"{at - outcome.injected:6.2f} s {what}" for at, what in events]
    outcome.notes += [_failure(r, outcome.injected) for r in lost]
    outcome.check(
        "the rolling restart costs no request",
        not lost,
        f"{len(records)} requests, {len(lost)} lost: {Counter(r.error or r.status for r in lost)}",
    )
    failed = Counter(j.error for j in journeys if not j.ok)
    outcome.check("no journey fails meanwhile", not failed, f"{sum(failed.values())} failed {dict(failed)}")


def _proxy_idle(admin: str, port: int, *, timeout: float) -> str:
    """Wait until Caddy has no request in flight to the upstream on ``port`` (its admin API's ``num_requests``)."""
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    busy = -1
    while time.monotonic() < deadline:
        upstreams = requests.get(f"{admin}/reverse_proxy/upstreams", timeout=5).json()
        busy = sum(int(u.get("num_requests", 0)) for u in upstreams if u.get("address") == address)
        if busy == 0:
            return "none"
        time.sleep(0.2)
    return f"still {busy} after {timeout:g} s"


def _wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=3).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:g} s")


def rolling_restart_ttin(ctx: Context, outcome: Outcome) -> None:
    """A rolling restart without a pause: ``TTIN`` once per worker (new workers load the app while the old ones
    serve), then, once every new worker runs, ``TTOU`` as many times (gunicorn stops the oldest, gracefully)."""
    names = ("idp", "portal")
    masters = {name: ctx.deployment.processes[name] for name in names}
    before = {name: set(_web_workers(master)) for name, master in masters.items()}
    outcome.injected = time.monotonic()
    for name, master in masters.items():
        for _ in before[name]:
            master.send_signal(signal.SIGTTIN)
            time.sleep(0.3)  # one signal at a time: gunicorn's queue of signals is short
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = {name: set(_web_workers(master)) - before[name] for name, master in masters.items()}
        if all(len(new[name]) >= len(before[name]) and all(map(_worker_running, new[name])) for name in names):
            break
        time.sleep(0.2)
    outcome.notes.append(f"new workers running {time.monotonic() - outcome.injected:.1f} s after the first TTIN")
    for name, master in masters.items():
        for _ in before[name]:
            master.send_signal(signal.SIGTTOU)
            time.sleep(0.3)
    while time.monotonic() < deadline:
        if all(not (set(_web_workers(masters[name])) & before[name]) for name in names):
            break
        time.sleep(0.2)
    outcome.healed = time.monotonic()
    outcome.notes.append(f"every worker replaced in {outcome.healed - outcome.injected:.1f} s")
    time.sleep(2)
    records, journeys = _window(ctx.load.recorder, outcome.injected, outcome.healed + 2)
    lost = [r for r in records if r.status == 0 or r.status >= 500]
    failed = Counter(j.error for j in journeys if not j.ok)
    outcome.check("the rolling restart costs no request", not lost, f"{len(lost)} lost")
    outcome.check("no journey fails meanwhile", not failed, f"{sum(failed.values())} failed {dict(failed)}")


def _worker_running(pid: int) -> bool:
    """Whether a gunicorn worker has loaded the app and runs its loop: its heartbeat file (``wgunicorn-*``) has been
    touched (gunicorn sets its time to the monotonic clock, far below any creation time)."""
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            path = f"/proc/{pid}/fd/{fd}"
            if "wgunicorn-" in os.readlink(path):
                return os.stat(path).st_mtime < 1e9
    return False


def backchannel_down(ctx: Context, outcome: Outcome) -> None:
    """The portal's back-channel logout route unreachable ``outage`` seconds: the notices wait and are delivered."""
    outcome.injected = time.monotonic()
    since = dt.datetime.now(dt.UTC)
    ctx.relay.cut()
    time.sleep(ctx.outage)
    ctx.relay.restore()
    outcome.healed = time.monotonic()
    deadline = time.monotonic() + 120
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = _notices(ctx.deployment, since)
        if counts.get("pending", 0) == 0 and counts:
            break
        time.sleep(1)
    delivered_after = time.monotonic() - outcome.healed
    total = sum(counts.values())
    outcome.notes.append(f"logout notices queued since the cut: {total} ({counts})")
    outcome.check(
        "back-channel notices delivered when the receiver returns",
        total > 0 and counts.get("sent", 0) == total,
        f"{counts.get('sent', 0)}/{total} sent, the last {delivered_after:.0f} s after its return",
    )


def _notices(deployment: suite_servers.Deployment, since: dt.datetime) -> dict[str, int]:
    from idp.oidc.models import OidcLogoutNotice

    engine = create_engine(deployment.storage.idp_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(OidcLogoutNotice.status, OidcLogoutNotice.id).where(OidcLogoutNotice.created_at >= since)
            ).all()
    finally:
        engine.dispose()
    return dict(Counter(str(status) for status, _ in rows))


def fc_down(ctx: Context, outcome: Outcome) -> None:
    """The FranceConnect provider hanging (``outage`` seconds: it answers nothing), then down (as long): voters who
    press the FranceConnect button get the IdP's French page within 5 s; the password sign-ins go on."""
    presses: list[tuple[str, float, int, str]] = []
    fc = ctx.topology.fc

    def press_for(phase: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            presses.append((phase, *_press_franceconnect(ctx.deployment)))
            time.sleep(1.0)

    press_for("up", 3)
    outcome.injected = time.monotonic()
    fc.pause()
    press_for("hanging", ctx.outage)
    fc.stop()
    press_for("down", ctx.outage)
    fc.start(ctx.deployment.idp_url, ctx.deployment.logs_dir / "fc-dev-provider.log")
    outcome.healed = time.monotonic()
    press_for("back", 3)
    for phase in ("up", "hanging", "down", "back"):
        seen = Counter(page for p, _, _, page in presses if p == phase)
        slowest = max((took for p, took, _, _ in presses if p == phase), default=0.0)
        outcome.notes.append(f"button pressed, provider {phase}: {dict(seen)}; slowest answer {slowest:.2f} s")
    slow = [took for _, took, _, _ in presses if took >= 5]
    outcome.check("the button answers within 5 s", not slow, f"{len(presses)} presses, {len(slow)} slower")
    pages = {page for p, _, _, page in presses if p in ("hanging", "down")}
    outcome.check(
        "the French FC page once the provider stopped answering",
        bool(pages & {"FC-01", "FC-02"}) and pages <= {"FC-01", "FC-02", "sent to the provider"},
        ", ".join(sorted(pages)),
    )
    _, journeys = _window(ctx.load.recorder, outcome.injected, outcome.healed)
    failed = [j for j in journeys if not j.ok]
    outcome.check("password sign-ins unaffected", not failed, f"{len(journeys) - len(failed)} journeys completed")


def _press_franceconnect(deployment: suite_servers.Deployment) -> tuple[float, int, str]:
    """A voter presses « S'identifier avec FranceConnect »: (seconds, status, what they got)."""
    started = time.monotonic()
    try:
        answer = requests.get(f"{deployment.idp_url}/federation/franceconnect/login", allow_redirects=False, timeout=30)
    except requests.RequestException as exc:
        return time.monotonic() - started, 0, type(exc).__name__
    took = time.monotonic() - started
    if answer.status_code in (302, 303):
        return took, answer.status_code, "sent to the provider"
    code = re.search(r"FC-\d\d", answer.text)
    return took, answer.status_code, code.group(0) if code else f"HTTP {answer.status_code}"


def backup(ctx: Context, outcome: Outcome) -> None:
    """``pg_dump`` of both databases under load, restored on fresh databases: counts and audit chains."""
    outcome.injected = time.monotonic()
    result = backup_drill.drill(
        ctx.topology.postgres.url(),
        ctx.topology.postgres.bin,
        ctx.topology.directory,
        {"idp": ctx.deployment.idp_env, "portal": ctx.deployment.portal_env},
    )
    outcome.healed = time.monotonic()
    outcome.lines += result.lines()
    outcome.check("the restored copy matches the backup's moment and verifies", result.ok, "see above")


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    run: Callable[[Context, Outcome], None]
    replicas: bool = False
    #: Signals only gunicorn understands (TTIN, TTOU).
    gunicorn: bool = False
    #: Needs Caddy in front of two replicas of each app (the run is then proxied: every fault goes through it).
    proxy: bool = False


FAULTS = [
    Fault("redis-failover", "Redis primary kill -9, Sentinel failover", redis_failover, replicas=True),
    Fault("redis-stop", "Redis stopped, restarted empty", redis_stop),
    Fault("pg-restart", "PostgreSQL restart -m fast", pg_restart),
    Fault("smtp-down", "SMTP server down", smtp_down),
    Fault("sms-faults", "SMS gateway 500, then 10 s, then 3 s", sms_faults),
    Fault("delivery-worker-kill", "delivery worker kill -9 mid-send", delivery_worker_kill),
    Fault("web-worker-kill", "a web server worker kill -9 (IdP and portal)", web_worker_kill),
    Fault("rolling-restart", "rolling restart (HUP) of both apps", rolling_restart),
    Fault(
        "rolling-restart-ttin", "rolling restart (TTIN, then TTOU) of both apps", rolling_restart_ttin, gunicorn=True
    ),
    Fault(
        "rolling-restart-proxy",
        "rolling restart behind Caddy: each replica drained, restarted, ready, then the next",
        rolling_restart_proxy,
        proxy=True,
    ),
    Fault(
        "restart-proxy-undrained",
        "each replica restarted in turn behind Caddy, not drained first",
        restart_proxy_undrained,
        proxy=True,
    ),
    Fault("backchannel-down", "back-channel logout receiver down", backchannel_down),
    Fault("fc-down", "FranceConnect provider hanging, then down", fc_down),
    Fault("backup", "pg_dump under load, restored and verified", backup),
    Fault("pg-failover", "PostgreSQL primary kill -9, standby promoted", pg_failover, replicas=True),
]
BY_NAME = {fault.name: fault for fault in FAULTS}
#: What ``make test`` runs (tests/benchmarks/test_faults.py): bounded, no replica needed.
SMOKE = ["redis-stop", "pg-restart", "smtp-down", "delivery-worker-kill", "backup"]
#: The smoke run's settings beside production's: the shortest delivery lease the IdP accepts (3 + the SMS timeout
#: + 5 s; the smoke run's gateway never stalls), so that the worker killed mid-send costs 13 s of waiting, not 30.
SMOKE_SETTINGS = {"IDP_SMS_TIMEOUT": "5", "IDP_DELIVERY_LEASE": "13"}


# --- the run -------------------------------------------------------------------------------------------------------


def audit_verified(deployment: suite_servers.Deployment) -> dict[str, tuple[int, str]]:
    """``idp audit verify`` and ``portal audit verify``, both at once: (exit status, verdict) of each."""

    def verify(module: str, env: dict[str, str]) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", module, "audit", "verify"],
            env={**os.environ, **env},
            cwd=suite_servers.REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        lines = (done.stdout.strip() or done.stderr.strip()).splitlines()  # its verdict, not the logs
        return done.returncode, lines[-1] if lines else ""

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        idp = pool.submit(verify, "idp.cli", deployment.idp_env)
        portal = pool.submit(verify, "relying_party.cli", deployment.portal_env)
        return {"idp": idp.result(), "portal": portal.result()}


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def run_fault(ctx: Context, fault: Fault, settle: float) -> Outcome:
    outcome = Outcome(fault.name, fault.title, started=time.monotonic())
    print(f"\n{fault.name}: {fault.title} ({machine_load()})", flush=True)
    time.sleep(settle)
    try:
        fault.run(ctx, outcome)
    except Exception as exc:  # a fault that could not be injected or measured: say so, go on with the others
        outcome.check("the fault ran", False, f"{type(exc).__name__}: {exc}")
    time.sleep(settle)
    outcome.ended = time.monotonic()
    summarise(ctx, outcome)
    acknowledged(ctx, outcome)
    for line in outcome.lines:
        print(line)
    for note in outcome.notes:
        print(f"  {note}")
    for name, (held, seen) in outcome.checks.items():
        print(f"  [{'ok' if held else 'FAILED'}] {name}: {seen}")
    sys.stdout.flush()
    return outcome


def in_private_netns(argv: list[str]) -> int:
    """This benchmark again, in a network namespace of its own: nothing it starts is seen outside it."""
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "benchmarks.faults", *argv],
        env={**os.environ, IN_NETNS: "1"},
        cwd=suite_servers.REPO,
        check=False,
    )
    return done.returncode


def set_up_netns(changes: dict[str, str]) -> None:
    """The private namespace's loopback up, then the web servers' kernel settings with ``changes`` applied."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for name, value in {**web_server.SYSCTLS, **changes}.items():
        Path("/proc/sys", *name.split(".")).write_text(value, encoding="ascii")


@contextlib.contextmanager
def capture(path: Path) -> Iterator[None]:
    """TCP headers on the private namespace's loopback (128 bytes of each packet: headers and the request line, no
    body) into ``path`` while the run lasts, to read with ``tcpdump -r`` around the local port of a failed request."""
    process = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-s", "128", "-U", "-w", str(path), "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--faults", help=f"comma-separated, in order (default: all): {', '.join(BY_NAME)}")
    parser.add_argument("--replicas", action="store_true", help="PostgreSQL standby, Redis replica and Sentinels")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds a component stays down (default 30)")
    parser.add_argument("--smtp-outage", type=float, default=300.0, help="seconds SMTP stays down (default 300)")
    parser.add_argument("--concurrency", type=int, default=6, help="voting journeys in flight (default 6)")
    parser.add_argument("--reassorts", type=int, default=2, help="réassort journeys in flight (default 2)")
    parser.add_argument("--burst", type=int, default=10, help="réassorts asked at once as a delivery fault starts")
    parser.add_argument(
        "--server",
        choices=sorted(web_servers.SERVERS),
        default="gthread",
        help="web server of both apps: gunicorn gthread (default) or granian, as docker-compose runs them",
    )
    parser.add_argument(
        "--server-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="one more option of the web server's command line (repeat it; --server-option=--respawn-interval=12)",
    )
    parser.add_argument(
        "--proxy",
        action="store_true",
        help="Caddy (deploy/Caddyfile) in front of two replicas of each app, as docker-compose runs them "
        "(implied by the faults that need it)",
    )
    parser.add_argument("--workers", type=int, default=2, help="web server workers, IdP and portal each")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of load before and after each fault")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds each journey slot rests after a completed journey (default 0: the next voter at once)",
    )
    parser.add_argument("--voters", type=int, help="voters to provision (default: enough for the run)")
    parser.add_argument("--keep-logs", type=Path)
    parser.add_argument("--smoke", action="store_true", help=f"short outages, the faults {', '.join(SMOKE)}")
    parser.add_argument(
        "--netns",
        action="store_true",
        help="run in a private network namespace with the web servers' kernel settings (root)",
    )
    parser.add_argument(
        "--sysctl", action="append", default=[], metavar="NAME=VALUE", help="with --netns: change one of them"
    )
    parser.add_argument(
        "--capture",
        type=Path,
        metavar="FILE",
        help="with --netns: the TCP headers of the whole run on the namespace's loopback (tcpdump, pcap file)",
    )
    args = parser.parse_args(argv)
    if (args.sysctl or args.capture) and not args.netns:
        parser.error("--sysctl and --capture need --netns")
    if args.netns and os.environ.get(IN_NETNS) != "1":
        return in_private_netns(sys.argv[1:] if argv is None else argv)
    if args.netns:
        set_up_netns(dict(item.split("=", 1) for item in args.sysctl))
    if args.smoke:
        args.outage, args.smtp_outage, args.settle = 4.0, 6.0, 1.0
        args.concurrency, args.reassorts, args.workers, args.burst = 3, 2, 2, 4
        # Each journey costs the machine about 0.35 s of CPU, the run's length is its outages' and leases': a slot
        # resting a second after each journey leaves every fault its journeys for less CPU.
        args.pause = 1.0
        args.faults = args.faults or ",".join(SMOKE)
    # The whole matrix leaves out the faults behind the proxy unless --proxy is given (they change the run's shape).
    everything = [f.name for f in FAULTS if args.proxy or not f.proxy]
    names = [n for n in (args.faults or ",".join(everything)).split(",") if n]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)}")
    faults = [BY_NAME[n] for n in names]
    if args.server != "gthread" and any(f.gunicorn for f in faults):
        parser.error(f"{', '.join(f.name for f in faults if f.gunicorn)} need --server gthread")
    proxied = args.proxy or any(f.proxy for f in faults)
    if any(f.replicas for f in faults) and not args.replicas:
        parser.error(f"{', '.join(f.name for f in faults if f.replicas)} need --replicas")
    link_wait = max(90.0, args.smtp_outage + 90.0)
    # About two journeys a second at most on this machine, over the outages, the settling and the deliveries.
    voters = args.voters or int(2 * (len(faults) * (args.outage + 4 * args.settle + 40) + args.smtp_outage) + 100)
    suite_servers.stop_signal_handlers()
    print(f"faults: {machine_load()}; {', '.join(names)}; {voters} voters; {_migration()}", flush=True)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as stack:
        if args.capture:
            stack.enter_context(capture(args.capture.resolve()))
        topo = stack.enter_context(topology(replicas=args.replicas))
        relay = TcpRelay(0)
        stack.callback(relay.cut)
        deployment = stack.enter_context(
            suite_servers.deployment(
                postgres="cluster",
                voters=voters,
                workers=args.workers,
                threads=args.threads,
                mix_interval=60,
                extra_env={**topo.environment(), **(SMOKE_SETTINGS if args.smoke else {})},
                keep_logs=args.keep_logs,
                store=topo.storage(),
                server=args.server,
                extra_args=[*SERVER_OPTIONS[args.server], *args.server_option],
                backchannel_logout_uri=f"{relay.url}/backchannel-logout",
                proxied=proxied,
            )
        )
        relay.upstream_port = int(deployment.portal_url.rsplit(":", 1)[1])
        relay.restore()
        stack.callback(suite_servers.terminate_all, deployment)
        topo.fc.start(deployment.idp_url, deployment.logs_dir / "fc-dev-provider.log")
        print(
            f"{deployment.storage.label}; {deployment.server.name} {args.workers} workers × {args.threads} threads "
            f"(IdP and portal each{', two replicas of each behind Caddy' if proxied else ''}); "
            f"provisioned in {time.monotonic() - started:.0f} s; {args.concurrency} voting and "
            f"{args.reassorts} réassort journeys in flight",
            flush=True,
        )
        mailbox = Mailbox(topo.messages)
        load = Load(
            deployment,
            mailbox,
            iter(deployment.voters),
            concurrency=args.concurrency,
            reassorts=args.reassorts,
            link_wait=link_wait,
            pause=args.pause,
        )
        health = Health(deployment)
        ctx = Context(
            deployment, topo, load, health, mailbox, args.outage, args.smtp_outage, link_wait, relay, args.burst
        )
        stack.callback(lambda: [suite_servers._stop(p) for p in ctx.extra_processes])
        health.start()
        stack.callback(health.stop)
        load.start()
        stack.callback(load.stop)
        time.sleep(args.settle * 2)
        for fault in faults:
            outcomes.append(run_fault(ctx, fault, args.settle))
        load.stop()
        final = Outcome("end", "after every fault", started=started, injected=time.monotonic())
        deliveries(ctx, final, 0.0, wait=link_wait)
        acknowledged(ctx, final, final=True)
        for name, (status, line) in audit_verified(deployment).items():
            final.check(f"{name} audit chain verifies", status == 0, line)
        summary = load.recorder.summary()
        print(
            f"\nwhole run: {int(summary['journeys'])} journeys completed, {int(summary['failed'])} failed, "
            f"{len(load.recorder.requests)} requests, {time.monotonic() - started:.0f} s; {machine_load()}"
        )
        for line in final.lines:
            print(line)
        for name, (held, seen) in final.checks.items():
            print(f"  [{'ok' if held else 'FAILED'}] {name}: {seen}")
        outcomes.append(final)
    failed = [o.name for o in outcomes if not o.ok]
    print(f"\n{'every check held' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
