"""Prometheus metrics: the machinery every process of the suite shares, and the metrics of :mod:`infra` itself.

Each app declares its domain counters in a module of its own (``idp/metrics.py``, ``relying_party/metrics.py``…)
with the helpers here; what is shared lives here: requests by route and status with their latency, outages of the
database and the ephemeral store, background jobs.

**Where they are read.** Never on the public port: each process serves them on ``<PREFIX>METRICS_PORT`` (0: not
served), bound to ``<PREFIX>METRICS_BIND`` (127.0.0.1 unless a scraper on another host needs it, as in
docker-compose where the port is on the private network only). The reverse proxy routes none of it.

**Gunicorn.** A process per worker: each writes its samples to files under ``PROMETHEUS_MULTIPROC_DIR`` and the
master serves their sum (prometheus_client's multiprocess mode), see :mod:`infra.gunicorn_config`. A gauge then
needs a ``multiprocess_mode`` saying how the workers' values combine.

**Labels are bounded.** A label holds a route (the URL rule, ``/reassort/link/<token>``, never the path), a status,
an app, a channel, a reason from a fixed list, a client id (registered by an operator): never a voter, an
identifier, an address or anything a visitor types. :func:`bounded` turns anything outside a fixed list into
``other``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)

#: prometheus_client's switch to multiprocess mode: a directory the processes of one gunicorn master share.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
EXTENSION_KEY = "infra.metrics"
#: Every metric of the suite starts with this.
PREFIX = "elections_"
OTHER = "other"

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


def serve(port: int, bind: str = "127.0.0.1", collectors: Iterable[ScrapeCollector] = ()) -> MetricsServer | None:
    """Serve the metrics (:func:`scrape_registry`) over HTTP on ``bind:port`` in a daemon thread; ``port`` 0 serves
    nothing (None)."""
    if not port:
        return None
    server, thread = start_http_server(port, addr=bind, registry=scrape_registry(collectors))
    logger.info("metrics served on %s:%s", bind, port)
    return MetricsServer(server, thread)


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
