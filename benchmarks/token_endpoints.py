"""Where a token request's CPU goes: userinfo, introspection and the refresh grant of the IdP on PostgreSQL + Redis.

    .venv/bin/python -m benchmarks.token_endpoints [--requests 300] [--duration 5] \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0

Two measurements on a throw-away database (as ``benchmarks.oidc_throughput`` makes it):

* **in process**: the IdP's WSGI application called directly, in one thread, ``--requests`` times per endpoint after
  10 of warm-up (the same access token for userinfo and introspection, a fresh refresh token for each refresh; then
  "introspection, 1st": each access token the refresh grant gave introspected once, the answer recorded):
  the CPU time of this process per request, that is the Python side alone;
* **under granian** as deployed (4 workers × 4 threads) driven by ``wrk`` (16 connections, ``--duration`` seconds per
  endpoint): the CPU per request of the web server's processes and of the PostgreSQL backends, apart.

To measure another tree with this script, run it from that tree: ``cd <tree> && PYTHONPATH=. .venv/bin/python
<this tree>/benchmarks/token_endpoints.py …`` (it uses only what ``benchmarks.oidc_servers`` and
``benchmarks.oidc_throughput`` offered before the lean path).
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable
from typing import Any

from werkzeug.test import EnvironBuilder

from benchmarks import loadgen
from benchmarks.oidc_flows import mint_tokens
from benchmarks.oidc_servers import cpu_between, cpu_snapshot, idp_database, idp_environment, idp_server
from benchmarks.oidc_throughput import scenarios
from idp import create_app
from idp.db import get_db
from infra import web_server

ENDPOINTS = ("userinfo", "introspection", "refresh_token grant")
#: In process only: each access token of the refresh grant's answers introspected once (the answer recorded).
FIRST_INTROSPECTION = "introspection, 1st"


def in_process(server: Any, env: dict[str, str], requests: int) -> None:
    tokens, access = mint_tokens(server, requests + 10)
    app = create_app(environ=env)
    basic = "Basic " + base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    form = "application/x-www-form-urlencoded"

    def request(name: str, index: int) -> EnvironBuilder:
        if name == "userinfo":
            return EnvironBuilder(
                path="/userinfo", headers=[("Authorization", f"Bearer {access}")], base_url=server.base_url
            )
        if name.startswith("introspection"):
            token = fresh[index] if name == FIRST_INTROSPECTION else access
            body = f"token={token}&token_type_hint=access_token"
            return EnvironBuilder(
                path="/introspect",
                method="POST",
                headers=[("Authorization", basic)],
                data=body,
                content_type=form,
                base_url=server.base_url,
            )
        body = f"grant_type=refresh_token&refresh_token={tokens[index]}"
        return EnvironBuilder(
            path="/token",
            method="POST",
            headers=[("Authorization", basic)],
            data=body,
            content_type=form,
            base_url=server.base_url,
        )

    fresh: list[str] = []  # the refresh grant's access tokens, each introspected once after it (a first answer)

    def call(name: str, index: int) -> None:
        seen: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append(status)

        answer = b"".join(app.wsgi_app(request(name, index).get_environ(), start_response))
        if not seen or not seen[0].startswith("200"):
            raise RuntimeError(f"{name} answered {seen}: {answer[:200]!r}")
        if name == "refresh_token grant":
            fresh.append(json.loads(answer)["access_token"])

    try:
        for name in (*ENDPOINTS, FIRST_INTROSPECTION):
            if name == FIRST_INTROSPECTION:
                fresh[:] = fresh[10:] + fresh[:10]  # the warm-up's own tokens last, the measured ones first
            for index in range(requests, requests + 10):  # warm-up (spare refresh tokens)
                call(name, index)
            started = time.process_time()
            for index in range(requests):
                call(name, index)
            spent = time.process_time() - started
            print(
                f"  in process, one thread    {name:<22} {spent / requests * 1e6:>8,.0f} µs CPU per request", flush=True
            )
    finally:
        get_db(app).dispose()


def under_granian(server: Any, helpers: Callable[[], list[int]], duration: float, max_requests: int) -> None:
    pool, access = mint_tokens(server, 16 + 2)
    for name, scenario in scenarios(server, pool, access).items():
        if name not in ENDPOINTS:
            continue
        # server.cpu(): the web server's processes and the database's backends; the backends alone, apart.
        every_before, database_before = server.cpu(), cpu_snapshot(helpers())
        result = loadgen.run(
            scenario, duration=duration, connections=16, max_requests=max_requests, tool="auto", wrk_threads=2
        )
        database_cpu = cpu_between(database_before, cpu_snapshot(helpers()))
        web_cpu = cpu_between(every_before, server.cpu()) - database_cpu
        count = max(1.0, result.rate * duration)
        print(
            f"  granian, {result.rate:>7,.0f} req/s    {name:<22} web {web_cpu / count * 1e6:>7,.0f} µs"
            f" + PostgreSQL {database_cpu / count * 1e6:>7,.0f} µs per request"
            f" = {count / max(web_cpu + database_cpu, 1e-9):>7,.0f} per core·s (errors {result.errors})",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres", required=True, help="PostgreSQL server URL (a scratch database is made)")
    parser.add_argument("--redis", required=True, help="Redis URL (keys under a prefix of their own)")
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint in process")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per endpoint under granian")
    args = parser.parse_args(argv)
    with (
        idp_database(args.postgres, args.redis) as database,
        idp_server(
            database, "token endpoints", workers=web_server.workers_for(), threads=web_server.THREADS, voters=1
        ) as server,
    ):
        under_granian(server, database.helper_pids, args.duration, 1_000_000)
        env = idp_environment(int(server.base_url.rsplit(":", 1)[1]), database.env)
        in_process(server, env, args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
