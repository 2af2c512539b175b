"""What observing a request costs: the request id, the metrics (counter and latency histogram by route) and the
JSON log line of :mod:`infra.observability`, against the same Flask view without them, in the same run.

    .venv/bin/python -m benchmarks.metrics_overhead [--requests 20000] [--rounds 5]

Each variant calls the app's WSGI callable directly (no HTTP server, whose cost would hide the difference) with one
prepared environment, ``--requests`` times per round, rounds interleaved; the best round of each is printed, in
microseconds of CPU per request. Variants: ``plain`` (a Flask app without the observer), ``metrics`` (the observer,
metrics in memory, log line below the log level), ``metrics+log`` (the JSON line written to /dev/null, as in
production at INFO), ``multiprocess+log`` (the same in prometheus_client's multiprocess mode, as under gunicorn:
each sample written to a memory-mapped file; run in a child interpreter with ``PROMETHEUS_MULTIPROC_DIR`` set).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any


def build(observed: bool) -> Callable[..., Iterable[bytes]]:
    from flask import Flask

    from infra.application import new_app

    settings = {"SECRET_KEY": "bench-secret-0123456789", "SESSION_COOKIE_NAME": "s"}
    if observed:
        app = new_app(__name__, settings, secure_cookies=False, max_content_length=1024, name="bench")
    else:
        app = Flask(__name__)
        app.config.update(settings)

    @app.get("/reassort/code/lien/<token>")
    def view(token: str) -> str:
        return "ok"

    return app.wsgi_app


def per_request(wsgi: Callable[..., Iterable[bytes]], requests: int) -> float:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path="/reassort/code/lien/E-abcdefghijklmnopqrstuvwxyz0123456789", method="GET"
    ).get_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        for _chunk in wsgi(dict(environ), start_response):
            pass
    return (time.process_time() - started) / requests * 1e6


def log_to_devnull() -> None:
    from infra.logs import JsonFormatter

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def child(requests: int, rounds: int) -> None:
    """``multiprocess+log``, in this interpreter started with PROMETHEUS_MULTIPROC_DIR."""
    log_to_devnull()
    app = build(observed=True)
    per_request(app, 200)
    print(json.dumps(min(per_request(app, requests) for _ in range(rounds))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.requests, args.rounds)
        return 0
    plain, observed = build(observed=False), build(observed=True)
    best: dict[str, float] = {}
    for app in (plain, observed):
        per_request(app, 200)  # warm-up
    for _ in range(args.rounds):
        for name, app in (("plain", plain), ("metrics", observed)):
            best[name] = min(best.get(name, float("inf")), per_request(app, args.requests))
    log_to_devnull()
    for _ in range(args.rounds):
        best["metrics+log"] = min(best.get("metrics+log", float("inf")), per_request(observed, args.requests))
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as directory:
        again = ["--child", "--requests", str(args.requests), "--rounds", str(args.rounds)]
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.metrics_overhead", *again],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory},
            capture_output=True,
            text=True,
            check=True,
        )
        best["multiprocess+log"] = float(done.stdout.strip().splitlines()[-1])
    print(f"{'variant':<20} {'µs CPU/request':>15} {'over plain':>11}")
    for name, value in best.items():
        print(f"{name:<20} {value:>15.1f} {value - best['plain']:>+11.1f}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
