"""The web servers a benchmark can run an application factory under, with the same command lines in every benchmark:
granian as deployed (infra.web_server), and gunicorn's worker classes for comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from infra.web_server import APP_KEEP_ALIVE, THREADS, python_granian_argv, workers_for


@dataclass(frozen=True)
class WebServer:
    """How to run a WSGI app factory (``module:create_app``) on a port with ``workers`` × ``threads``."""

    name: str
    argv: Callable[[str, int, int, int], list[str]]


def _gunicorn(worker_class: str) -> Callable[[str, int, int, int], list[str]]:
    def argv(app: str, port: int, workers: int, threads: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            worker_class,
            "--keep-alive",
            str(APP_KEEP_ALIVE),
            "--graceful-timeout",
            "5",
            "--no-control-socket",
            f"{app}()",
        ]

    return argv


def _granian(app: str, port: int, workers: int, threads: int) -> list[str]:
    # As deployed (infra.web_server): the same options as docker-compose.yml and the Dockerfile, except that idle
    # threads are kept 10 minutes instead of 30 s: fewer threads ending in a run (each takes its CPU time with it;
    # see benchmarks.suite_servers.task_cpu_ns) and no thread start-up measured as part of a request.
    argv = python_granian_argv(app, host="127.0.0.1", port=port, workers=workers, threads=threads)
    return [*argv[:-1], "--blocking-threads-idle-timeout", "600", argv[-1]]


SERVERS = {
    "gthread": WebServer("gunicorn gthread", _gunicorn("gthread")),
    "granian": WebServer("granian (WSGI)", _granian),
}


def add_size_arguments(parser: argparse.ArgumentParser, *, what: str = "IdP and portal each") -> None:
    """``--workers`` and ``--threads``, defaulting to the deployment's rule (:func:`infra.web_server.workers_for`:
    one worker per core; :data:`infra.web_server.THREADS` threads each)."""
    parser.add_argument(
        "--workers", type=int, default=workers_for(), help=f"web server processes, {what} (default: one per core)"
    )
    parser.add_argument(
        "--threads", type=int, default=THREADS, help=f"threads per web server process (default {THREADS})"
    )
