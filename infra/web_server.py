"""How the web applications are served: granian (WSGI), and the keep-alive between the proxy and the applications.

granian won the measurement of issue 12 (``python -m benchmarks.voter_journey --server gthread|granian``, figures in
docs/operators/capacity.md): same journeys, less CPU per journey and far shorter queues than gunicorn gthread.

Keep-alive on the proxy → application hop: the side that closes an idle connection must be the proxy, never the
application. If the application closed first, the proxy could send the next request on a connection the
application has just dropped, and the voter would get a 502 or a reset for nothing (what gunicorn's default of 2 s
did to 8 journeys in 453 at 64 voters). So the application keeps an idle connection open longer
(:data:`APP_KEEP_ALIVE`) than the proxy does (:data:`PROXY_KEEP_ALIVE`, ``keepalive`` in deploy/Caddyfile). granian
closes a connection that sends no request headers within its HTTP/1 header-read timeout, which is therefore its
idle keep-alive (at most 60 s). docker-compose.yml and the Dockerfile repeat these figures (they cannot import
Python); ``tests/deploy/test_keep_alive.py`` reads every file and holds them consistent.

Restarts (``HUP``, a worker that died): on Linux each granian worker listens on a socket of its own, bound with
``SO_REUSEPORT`` to the same port; the kernel hashes each new connection to one of them. A worker that stops closes
its socket, and the connections the kernel had queued on it, not yet accepted, are reset, unless the kernel hands
them to another socket of the group: ``net.ipv4.tcp_migrate_req = 1`` (:data:`SYSCTLS`, Linux 5.14 or later; granian
warns about it). docker-compose gives the web services these :data:`SYSCTLS` (a network namespace's own setting); on
a host without containers, set them in ``/etc/sysctl.d``. Measured (``python -m benchmarks.faults --netns``,
docs/operators/resilience.md): what made the difference was giving each new worker time to load the application
before the old one stops (:data:`RESPAWN_INTERVAL`); the setting is granian's advice, no effect was measurable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Threads per worker process: each request waits on PostgreSQL, Redis or the IdP for part of its time, and a
#: thread waiting releases the GIL for the others.
THREADS = 4


def workers_for(cores: int | None = None) -> int:
    """granian worker processes for one application on a machine (or container) of ``cores`` cores: one per core.

    Measured on 2 cores (docs/operators/capacity.md, "Workers per core"): 2 workers × 4 threads for the IdP and for
    the portal cost 8–15 % less CPU per voter journey than 4 × 4, served more journeys per second and halved the
    request p99 at 16 voters in flight (why more processes cost more was not isolated: not context switches).
    Threads moved nothing measurable. ``cores``: the cores this process may run on when not given.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores)


#: Seconds an application keeps an idle keep-alive connection open (granian's header-read timeout; its maximum).
APP_KEEP_ALIVE = 60
#: Seconds the proxy keeps an idle connection to an application (Caddy's ``keepalive``): shorter than the app's.
PROXY_KEEP_ALIVE = 30
#: Seconds a stopping worker gets to finish its requests before it is killed.
GRACEFUL_TIMEOUT = 30
#: Seconds a restart (``HUP``) gives each new worker to load the application before the old one stops: granian's
#: 3.5 s was too short under load (a burst of reset requests as the last old worker stopped, its replacement still
#: loading); measured in docs/operators/resilience.md.
RESPAWN_INTERVAL = 12
#: Seconds between two active health checks (``/readyz``) of each replica by the proxy (``health_interval`` in
#: deploy/Caddyfile): a replica that starts draining leaves the rotation within this time plus one check's answer.
PROXY_HEALTH_INTERVAL = 2
#: Seconds a check may take (``health_timeout``): a replica slower than that is out of the rotation until it answers.
PROXY_HEALTH_TIMEOUT = 3
#: Kernel settings of the web servers' network namespace: a stopping worker's queued connections go to another
#: worker instead of being reset.
SYSCTLS = {"net.ipv4.tcp_migrate_req": "1"}


def sysctl(name: str) -> str | None:
    """The current value of the kernel setting ``name`` in this network namespace (``None``: this kernel has none)."""
    try:
        return Path("/proc/sys", *name.split(".")).read_text(encoding="ascii").strip()
    except OSError:
        return None


def restarts_keep_queued_connections() -> bool:
    """Whether every one of :data:`SYSCTLS` holds here: a worker that stops resets no connection still queued."""
    return all(sysctl(name) == value for name, value in SYSCTLS.items())


def granian_argv(
    factory: str, *, host: str, port: int, workers: int, threads: int, python: str | None = None
) -> list[str]:
    """The command line serving the app factory ``factory`` (``"idp:create_app"``) with granian's WSGI interface.

    ``workers`` processes of ``threads`` threads each; no access log (URLs carry one-time link tokens); a worker
    that dies is replaced; ``python``: run granian as a module of that interpreter (a virtual environment's),
    otherwise the ``granian`` program on PATH.
    """
    program = [python, "-m", "granian"] if python else ["granian"]
    return [
        *program,
        "--interface",
        "wsgi",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--http",
        "1",
        "--http1-header-read-timeout",
        str(APP_KEEP_ALIVE * 1000),
        "--respawn-failed-workers",
        "--respawn-interval",
        str(RESPAWN_INTERVAL),
        "--workers-kill-timeout",
        str(GRACEFUL_TIMEOUT),
        "--no-access-log",
        factory,
    ]


def python_granian_argv(factory: str, *, host: str, port: int, workers: int, threads: int) -> list[str]:
    """:func:`granian_argv` run by this interpreter (the demo and the benchmarks)."""
    return granian_argv(factory, host=host, port=port, workers=workers, threads=threads, python=sys.executable)
