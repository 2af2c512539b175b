"""Prometheus metrics: the machinery every process of the suite shares, and the metrics of :mod:`infra` itself.

Each app declares its domain counters in a module of its own (``idp/metrics.py``, ``relying_party/metrics.py``…)
with the helpers here; what is shared lives here: requests by route and status with their latency, outages of the
database and the ephemeral store, background jobs.

**Where they are read.** Never on the public port: each process serves them on ``<PREFIX>METRICS_PORT`` (0: not
served), bound to ``<PREFIX>METRICS_BIND`` (127.0.0.1 unless a scraper on another host needs it, as in
docker-compose where the port is on the private network only). The reverse proxy routes none of it.

**Several processes** (granian's or gunicorn's workers): each writes its samples to files under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), and a scrape answers the sum of every file.
Under granian, which has no hooks, every worker serves that sum on the same port (``SO_REUSEPORT``: the kernel
hands each scrape to one of them, and any one answers for all, :func:`serve_from_app`); under gunicorn, the master
does (:mod:`infra.gunicorn_config`). The directory must be empty when the server starts (docker-compose mounts a
tmpfs there). A gauge needs a ``multiprocess_mode`` saying how the processes' values combine: ``mostrecent`` here.

**Labels are bounded.** A label holds a route (the URL rule, ``/reassort/link/<token>``, never the path), a status,
an app, a channel, a reason from a fixed list, a client id (registered by an operator): never a voter, an
identifier, an address or anything a visitor types. :func:`bounded` turns anything outside a fixed list into
``other``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask, current_app, has_app_context
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from infra.multiproc import ensure_multiprocess_dir

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)

#: prometheus_client's switch to multiprocess mode: a directory the processes of one server share.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Set by :mod:`infra.gunicorn_config`: the master serves the metrics, the apps in its workers do not.
SERVED_BY_MASTER_ENV = "ELECTIONS_METRICS_SERVED_BY_MASTER"
EXTENSION_KEY = "infra.metrics"
#: Every metric of the suite starts with this.
PREFIX = "elections_"
OTHER = "other"

ensure_multiprocess_dir()  # before any metric is made: prometheus_client refuses a directory that does not exist

#: Request latency buckets, seconds: a page in tens of milliseconds, a password check near 0.1 s, a slow SMTP
#: relay or database in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Background job buckets: a round of a worker may take from milliseconds to the whole lease of a message.
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    PREFIX + "http_requests",
    "HTTP requests answered, by app, route (URL rule), method and status.",
    ["app", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    PREFIX + "http_request_duration_seconds",
    "Time to answer an HTTP request, by app, route (URL rule) and method.",
    ["app", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
DEPENDENCY_ERRORS = Counter(
    PREFIX + "dependency_errors",
    "Requests or worker rounds that met an outage of the database or the ephemeral store, by app and dependency.",
    ["app", "dependency"],
)
DEPENDENCY_UP = Gauge(
    PREFIX + "dependency_up",
    "1 when the last check of a dependency (health check, scrape of a worker) succeeded, 0 when it failed.",
    ["app", "dependency"],
    multiprocess_mode="mostrecent",
)
JOB_RUNS = Counter(
    PREFIX + "job_runs",
    "Rounds of the background workers, by job and outcome (ok, unavailable: a dependency down, failed: an error).",
    ["job", "outcome"],
)
JOB_DURATION = Histogram(
    PREFIX + "job_duration_seconds",
    "Time a round of a background worker took, by job.",
    ["job"],
    buckets=JOB_BUCKETS,
)
AUDIT_INTACT = Gauge(
    PREFIX + "audit_log_intact",
    "1 when the last periodic verification of an app's audit log found every chain intact, 0 when it found a problem.",
    ["app"],
    multiprocess_mode="mostrecent",
)
AUDIT_VERIFIED_AT = Gauge(
    PREFIX + "audit_log_verified_timestamp_seconds",
    "When an app's audit log was last verified intact (Unix time).",
    ["app"],
    multiprocess_mode="mostrecent",
)
AUDIT_EVENTS_VERIFIED = Gauge(
    PREFIX + "audit_log_events_verified",
    "Events found intact by the last periodic verification of an app's audit log.",
    ["app"],
    multiprocess_mode="mostrecent",
)


def bounded(value: str | None, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``other``: a label value never comes from outside a fixed set."""
    return value if value is not None and value in allowed else OTHER


def install(app: Flask, name: str) -> None:
    """Give ``app`` its ``app`` label (``idp``, ``portal``…), read by the metrics recorded inside its requests."""
    app.extensions[EXTENSION_KEY] = name


def app_label(app: Flask | None = None) -> str:
    """The ``app`` label of ``app`` (default: the current app), ``other`` outside any app."""
    if app is None:
        if not has_app_context():
            return OTHER
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    return str(app.extensions.get(EXTENSION_KEY, OTHER))


def record_dependency_error(dependency: str, app: str | None = None) -> None:
    """An outage of ``dependency`` (``database`` or ``store``) met by a request or a round."""
    DEPENDENCY_ERRORS.labels(app or app_label(), dependency).inc()


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, or None when this process keeps its metrics in memory."""
    return os.environ.get(MULTIPROC_ENV) or None


class _Delegate:
    """Collects what another registry holds (the default one), so that a registry of its own can add to it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def scrape_registry(collectors: Iterable[ScrapeCollector] = ()) -> CollectorRegistry:
    """What a scrape of this process answers: the sum of every process of the directory in multiprocess mode
    (prometheus_client's own process metrics are then absent: they would be the master's), else this process's
    metrics, plus the figures of ``collectors`` computed at each scrape."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Delegate(REGISTRY))
    computed = list(collectors)
    if computed:
        registry.register(_Computed(computed))
    return registry


@dataclass
class MetricsServer:
    """A metrics endpoint started by :func:`serve`."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access line per scrape."""


class _SharedPortServer(ThreadingMixIn, WSGIServer):
    """The metrics server of one worker among several bound to the same port (``SO_REUSEPORT``)."""

    daemon_threads = True
    allow_reuse_port = True


def serve(
    port: int, bind: str = "127.0.0.1", collectors: Iterable[ScrapeCollector] = (), *, shared: bool = False
) -> MetricsServer | None:
    """Serve the metrics (:func:`scrape_registry`) over HTTP on ``bind:port`` in a daemon thread; ``port`` 0 serves
    nothing (None). ``shared``: other processes bind the same port (``SO_REUSEPORT``), each answering the sum."""
    if not port:
        return None
    # A worker command builds its app (which may have served the port, see serve_from_app): the command's server,
    # with its collectors, replaces that one.
    earlier = _SERVED_BY_APPS.pop((os.getpid(), port), None)
    if earlier is not None and not shared:
        earlier.close()
    registry = scrape_registry(collectors)
    server: WSGIServer
    if shared:
        server = make_server(bind, port, make_wsgi_app(registry), _SharedPortServer, handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
        thread.start()
    else:
        server, thread = start_http_server(port, addr=bind, registry=registry)
    logger.info("metrics served on %s:%s", bind, port)
    return MetricsServer(server, thread)


#: The metrics servers this process started for its apps, by (pid, port): one per process, whatever the apps.
_SERVED_BY_APPS: dict[tuple[int, int], MetricsServer | None] = {}


def serve_from_app(app: Flask) -> None:
    """A web server's worker serves the metrics of all its server's workers on ``METRICS_PORT`` (granian: no master
    hook), unless :mod:`infra.gunicorn_config`'s master does. Only in multiprocess mode, which is how a web server
    is told it has several workers (a worker command serves its own, with its collectors: :func:`serve_for`). Once
    per process and port, whatever the apps it builds."""
    port = int(app.config.get("METRICS_PORT") or 0)
    if not port or os.environ.get(SERVED_BY_MASTER_ENV) or multiprocess_dir() is None:
        return
    key = (os.getpid(), port)
    if key in _SERVED_BY_APPS:
        return
    _SERVED_BY_APPS[key] = serve(port, str(app.config.get("METRICS_BIND") or "127.0.0.1"), shared=True)


def serve_for(app: Flask, collectors: Iterable[ScrapeCollector] = (), port: int | None = None) -> MetricsServer | None:
    """Serve a worker command's metrics on the app's ``METRICS_PORT`` (or ``port``), ``METRICS_BIND``."""
    chosen = int(app.config.get("METRICS_PORT") or 0) if port is None else port
    return serve(chosen, str(app.config.get("METRICS_BIND") or "127.0.0.1"), collectors)


class ScrapeCollector:
    """Figures computed at scrape time (the outbox's depth from the database, say), by ``compute``.

    If ``compute`` raises (the database down), the scrape still answers: its figures are left out and
    ``elections_scrape_errors`` says so, by collector ``name``. Several are registered through :func:`scrape_registry`,
    which merges their error families into one.
    """

    def __init__(self, name: str, compute: Callable[[], Iterable[Metric]]) -> None:
        self.name = name
        self.compute = compute

    def run(self) -> tuple[list[Metric], bool]:
        """The families and whether they could be computed."""
        try:
            return list(self.compute()), True
        except Exception as exc:  # a scrape must answer whatever is down; the type only is logged
            logger.warning("metrics: %s could not be computed (%s)", self.name, type(exc).__name__)
            return [], False


class _Computed:
    """The :class:`ScrapeCollector` s of a process, with one ``elections_scrape_errors`` family for all."""

    def __init__(self, collectors: list[ScrapeCollector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        errors = GaugeMetricFamily(
            PREFIX + "scrape_errors",
            "1 when a figure computed at scrape (outbox depth, back-channel backlog…) could not be computed.",
            labels=["collector"],
        )
        families: list[Metric] = []
        for collector in self.collectors:
            computed, ok = collector.run()
            families.extend(computed)
            errors.add_metric([collector.name], 0 if ok else 1)
        return [*families, errors]

    def describe(self) -> Iterable[Metric]:
        return []


# --- counted when the transaction commits ---------------------------------------------------------------------------

_AFTER_COMMIT = "infra.metrics.after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` (incrementing a counter) once ``session``'s transaction commits; never if it rolls back.

    An event counted is then an event that happened: a sign-in whose transaction failed is not a sign-in.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, ()):
        try:
            action()
        except Exception as exc:  # a metric must never break what it counts
            logger.warning("metrics: a counter failed after commit (%s)", type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


# --- outboxes and queues, computed at scrape -----------------------------------------------------------------------

DELIVERIES = Counter(
    PREFIX + "deliveries",
    "Outcomes of delivery attempts of the outboxes (sent, retried, failed: abandoned), by app and channel.",
    ["app", "channel", "outcome"],
)


def queue_families(
    session: Session,
    *,
    table: Any,
    group: Any,
    group_label: str,
    depth_name: str,
    depth_help: str,
    age_name: str,
    age_help: str,
    app: str,
    groups: Collection[str],
) -> list[Metric]:
    """The depth and the age of the oldest entry of a queue table's pending rows, per ``group`` (a channel, a
    client; None: the one value of ``groups``): one ``GROUP BY`` over the pending rows, which the table's
    ``(status, …)`` index finds. Every value of ``groups`` is reported, 0 when empty, so that an alert on the age
    sees it come back to 0."""
    from prometheus_client.core import GaugeMetricFamily

    now = utcnow()
    pending = table.c.status == "pending"
    if group is None:  # one group: the queue has a single channel
        count, oldest = session.execute(select(func.count(), func.min(table.c.created_at)).where(pending)).one()
        rows: list[Any] = [(next(iter(groups)), count, oldest)]
    else:
        rows = list(
            session.execute(
                select(group, func.count(), func.min(table.c.created_at)).where(pending).group_by(group)
            ).all()
        )
    depth = GaugeMetricFamily(PREFIX + depth_name, depth_help, labels=["app", group_label])
    age = GaugeMetricFamily(PREFIX + age_name, age_help, labels=["app", group_label])
    seen: dict[str, tuple[int, float]] = {name: (0, 0.0) for name in groups}
    for name, count, oldest in rows:
        key = bounded(str(name), groups)
        waited = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            waited = max(0.0, (now - oldest).total_seconds())
        previous = seen.get(key, (0, 0.0))
        seen[key] = (previous[0] + int(count), max(previous[1], waited))
    for name, (count, waited) in sorted(seen.items()):
        depth.add_metric([app, name], count)
        age.add_metric([app, name], waited)
    return [depth, age]


def outbox_families(session: Session, *, table: Any, group: Any, app: str, groups: Collection[str]) -> list[Metric]:
    """:func:`queue_families` of an app's outbox (``elections_outbox_messages``, ``elections_outbox_oldest_age_seconds``
    by app and channel): one name and one help text for every app's outbox."""
    return queue_families(
        session,
        table=table,
        group=group,
        group_label="channel",
        depth_name="outbox_messages",
        depth_help="Messages waiting in an outbox (pending: not yet sent nor abandoned), by app and channel.",
        age_name="outbox_oldest_age_seconds",
        age_help="Seconds the oldest message waiting in an outbox has waited (0: none), by app and channel.",
        app=app,
        groups=groups,
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dependency_collector(name: str, checks: Mapping[str, Callable[[], object]]) -> ScrapeCollector:
    """Whether a worker's dependencies answer, checked at each scrape: ``elections_worker_dependency_up`` by worker
    ``name`` and dependency (``database``, ``store``); each check raises when its dependency does not answer."""

    def compute() -> Iterable[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            PREFIX + "worker_dependency_up",
            "1 when a worker's database or ephemeral store answered at the last scrape, 0 when not.",
            labels=["worker", "dependency"],
        )
        for dependency, check in checks.items():
            try:
                check()
            except Exception:  # down is the answer here, not an error of the scrape
                family.add_metric([name, dependency], 0)
            else:
                family.add_metric([name, dependency], 1)
        return [family]

    return ScrapeCollector(f"{name}_dependencies", compute)


def database_check(engine: Engine) -> Callable[[], object]:
    """A check that ``engine``'s database answers ``SELECT 1``."""

    def check() -> object:
        with engine.connect() as connection:
            return connection.execute(text("SELECT 1")).scalar()

    return check
