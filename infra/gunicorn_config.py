"""Gunicorn's configuration for every app of the suite: ``gunicorn -c python:infra.gunicorn_config 'idp:create_app()'``.

- **Metrics** (:mod:`infra.metrics`): the workers write their samples under ``PROMETHEUS_MULTIPROC_DIR``; unset,
  a fresh directory of this master's own is made (and removed at exit); set, its stale files of a previous run are
  removed first (one directory per master: two masters must not share one). The master serves the workers' sum on
  the app's ``<PREFIX>METRICS_PORT`` / ``<PREFIX>METRICS_BIND`` (read from the app's settings, the module being
  the one gunicorn is told to load: ``idp`` → ``IDP_METRICS_PORT``). A worker that exits is marked dead, so its
  live gauges leave the sum; its counters stay (they are totals).
- **Logs** (:mod:`infra.logs`): JSON lines on standard error, gunicorn's own included; no access log (the request
  line of :mod:`infra.observability` replaces it, without the raw path).

Every other setting comes from the command line, as before (``--bind``, ``--workers``…).
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from infra.logs import GUNICORN_LOGCONFIG
from infra.metrics import MULTIPROC_ENV, SERVED_BY_MASTER_ENV


def _prepare_multiprocess_dir() -> None:
    """Before any worker imports prometheus_client (it reads the variable once, at import)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return
    made = tempfile.mkdtemp(prefix="elections-metrics-")
    os.environ[MULTIPROC_ENV] = made
    atexit.register(shutil.rmtree, made, ignore_errors=True)


_prepare_multiprocess_dir()
os.environ[SERVED_BY_MASTER_ENV] = "1"  # the apps in the workers leave the metrics port to the master

logconfig_dict = GUNICORN_LOGCONFIG
accesslog = None


def _app_settings(server: Any) -> dict[str, Any]:
    """The settings of the app gunicorn serves (``idp:create_app()`` → ``idp.config.load()``)."""
    target = str(getattr(server.app, "app_uri", None) or server.app.cfg.wsgi_app or "")
    module = target.split(":", 1)[0]
    config = importlib.import_module(f"{module}.config")
    settings: dict[str, Any] = config.load()
    return settings


def when_ready(server: Any) -> None:
    """Serve the workers' metrics from the master."""
    from infra import metrics

    settings = _app_settings(server)
    port = int(settings.get("METRICS_PORT") or 0)
    if port:
        metrics.serve(port, str(settings.get("METRICS_BIND") or "127.0.0.1"))


def child_exit(server: Any, worker: Any) -> None:
    """A worker's live gauges leave the sum when it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
