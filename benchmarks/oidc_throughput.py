"""Throughput of the OpenID Provider, side by side with panva's node-oidc-provider, in one run.

Starts node-oidc-provider (one process) on its in-memory store and, with ``--redis``, on Redis too (a storage
adapter of ours, ``benchmarks/node/redis_adapter.mjs``: the comparison with a durable store), and our IdP under
granian as deployed (``--server gthread`` or ``granian,gthread`` for gunicorn too) on a throw-away SQLite file and,
with ``--postgres``/``--redis``, on a scratch PostgreSQL database with Redis; loads each with the same client, the
same number of keep-alive connections and the same duration, and prints for discovery, JWKS, the refresh_token
grant, client_credentials, userinfo and introspection: requests per second, p50/p99 latency, and requests per
CPU-second of the server's own processes (the throughput of one core, whatever the load generator took of the
machine), then the IdP's figures as a multiple of each node-oidc-provider's. Then the password sign-in load on our
IdP, the physical floor of the machine, and the comparison with Keycloak's published sizing. Refresh tokens are
minted through the real code flow before the timed phase.

The load generator is ``wrk`` when installed (``apt-get install -y wrk``), else a Python one in a child process.
Everything it starts it stops; temporary files, scratch databases and Redis keys are removed.

    .venv/bin/python -m benchmarks.oidc_throughput [--duration 5] [--server granian,gthread] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field

from benchmarks import loadgen, web_servers
from benchmarks.loadgen import Result, Scenario
from benchmarks.oidc_flows import SignInResult, mint_tokens, sign_in_load
from benchmarks.oidc_servers import (
    WEB_SERVERS,
    Database,
    Server,
    cpu_between,
    idp_database,
    idp_server,
    node_server,
    node_version,
)
from benchmarks.physical_floor import Floor, measure

#: Keycloak's published sizing ("Concepts for sizing CPU and memory resources", Keycloak 26 documentation).
KEYCLOAK_PASSWORD_LOGINS_PER_VCPU = 15
KEYCLOAK_REFRESH_GRANTS_PER_VCPU = 120
ENDPOINTS = ["discovery", "jwks", "refresh_token grant", "client_credentials grant", "userinfo", "introspection"]


@dataclass
class Measured:
    result: Result
    cpu_seconds: float

    @property
    def per_core(self) -> float:
        return self.result.requests / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


@dataclass
class ServerFigures:
    label: str
    endpoints: dict[str, Measured] = field(default_factory=dict)
    sign_in: SignInResult | None = None


def scenarios(server: Server, tokens: list[str], access_token: str) -> dict[str, Scenario]:
    metadata = server.discovery()
    basic = loadgen_basic(server)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic}
    found = {
        "discovery": Scenario("discovery", server.base_url + "/.well-known/openid-configuration"),
        "jwks": Scenario("jwks", metadata["jwks_uri"]),
        "refresh_token grant": Scenario(
            "refresh_token grant", metadata["token_endpoint"], "POST", form, refresh_tokens=tokens
        ),
        "userinfo": Scenario(
            "userinfo", metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}
        ),
        "introspection": Scenario(
            "introspection",
            metadata["introspection_endpoint"],
            "POST",
            form,
            body=f"token={access_token}&token_type_hint=access_token",
        ),
    }
    if "client_credentials" in metadata.get("grant_types_supported", []):
        service = {**form, "Authorization": basic_header(*server.service_credentials)}
        found["client_credentials grant"] = Scenario(
            "client_credentials", metadata["token_endpoint"], "POST", service, body="grant_type=client_credentials"
        )
    return found


def loadgen_basic(server: Server) -> str:
    return basic_header(server.client_id, server.client_secret)


def basic_header(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def load_server(server: Server, args: argparse.Namespace, sign_in: bool) -> ServerFigures:
    figures = ServerFigures(server.label)
    chains = args.connections + args.wrk_threads  # see benchmarks.loadgen: one spare token per wrk thread
    pool, access_token = mint_tokens(server, 2 * chains if args.warmup > 0 else chains)
    timed = scenarios(server, pool[-chains:], access_token)
    if args.warmup > 0:  # first requests of each worker: imports, caches, connection pools, JIT
        for scenario in scenarios(server, pool[:chains], access_token).values():
            loadgen.run(
                scenario,
                duration=args.warmup,
                connections=args.connections,
                max_requests=args.max_requests,
                tool=args.loadgen,
                wrk_threads=args.wrk_threads,
            )
    for name, scenario in timed.items():
        before = server.cpu()
        result = loadgen.run(
            scenario,
            duration=args.duration,
            connections=args.connections,
            max_requests=args.max_requests,
            tool=args.loadgen,
            wrk_threads=args.wrk_threads,
        )
        figures.endpoints[name] = Measured(result, cpu_between(before, server.cpu()))
        print(f"  {server.label:<34} {name:<27} {result.rate:>9,.0f} req/s  ({result.tool})", flush=True)
    if sign_in:
        figures.sign_in = sign_in_load(
            server, duration=args.duration, concurrency=args.signin_concurrency, max_sign_ins=args.max_requests
        )
        print(f"  {server.label:<34} {'password sign-in':<27} {figures.sign_in.rate:>9,.1f} /s", flush=True)
    failed = any(m.result.errors for m in figures.endpoints.values()) or (figures.sign_in and figures.sign_in.errors)
    if failed:
        print(f"  errors: the end of {server.label}'s log:\n{server.log_tail()}", flush=True)
    return figures


def idp_backends(args: argparse.Namespace) -> Iterator[AbstractContextManager[Database]]:
    if not args.no_sqlite:
        yield idp_database(None, None)
    if args.postgres:
        yield idp_database(args.postgres, args.redis)


def run_all(args: argparse.Namespace) -> tuple[list[ServerFigures], list[str]]:
    results: list[ServerFigures] = []
    notes: list[str] = []
    if args.no_node:
        notes.append("node-oidc-provider: skipped (--no-node)")
    elif node_version() is None:
        notes.append("node-oidc-provider: not installed (npm ci --prefix interop); IdP figures only")
    else:
        for store in args.node_stores:
            try:
                with node_server(args.redis if store == "redis" else None) as node:
                    results.append(load_server(node, args, sign_in=False))
            except RuntimeError as exc:
                notes.append(f"node-oidc-provider ({store}): could not run ({exc})")
    for backend in idp_backends(args):
        with ExitStack() as stack:
            database = stack.enter_context(backend)
            for web in args.servers:
                label = f"IdP {database.label} {web} {args.workers}w×{args.threads}t"
                with idp_server(
                    database,
                    label,
                    workers=args.workers,
                    threads=args.threads,
                    voters=max(2, args.signin_concurrency),
                    server=web,
                ) as server:
                    results.append(load_server(server, args, sign_in=not args.no_sign_in))
    return results, notes


def print_ratios(results: list[ServerFigures]) -> None:
    """Each IdP's requests per CPU-second as a multiple of each node-oidc-provider's, endpoint by endpoint."""
    nodes = [r for r in results if r.label.startswith("node-oidc-provider")]
    ours = [r for r in results if not r.label.startswith("node-oidc-provider")]
    if not nodes or not ours:
        return
    print()
    print("requests per CPU-second of the IdP as a multiple of node-oidc-provider's (same run):")
    pairs = [(idp, node) for idp in ours for node in nodes]
    width = 30
    print(
        f"{'':<27}"
        + "".join(f" | {(idp.label + ' / ' + node.label.split()[-1])[-width:]:>{width}}" for idp, node in pairs)
    )
    for name in ENDPOINTS:
        cells = []
        for idp, node in pairs:
            mine, theirs = idp.endpoints.get(name), node.endpoints.get(name)
            if mine is None or theirs is None or theirs.per_core <= 0:
                cells.append(f" | {'—':>{width}}")
            else:
                cells.append(f" | {mine.per_core / theirs.per_core:>{width - 1}.2f}×")
        print(f"{name:<27}" + "".join(cells))


def print_table(results: list[ServerFigures]) -> None:
    width = 36
    print()
    print(f"{'':<27}" + "".join(f" | {figures.label[:width]:<{width}}" for figures in results))
    print(f"{'':<27}" + f" | {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'/core·s':>9} " * len(results))
    for name in ENDPOINTS:
        cells = []
        for figures in results:
            measured = figures.endpoints.get(name)
            if measured is None:
                cells.append(f" | {'—':>8} {'':>7} {'':>7} {'':>9} ")
                continue
            r = measured.result
            flag = f" !{r.errors} err" if r.errors else ""
            cells.append(f" | {r.rate:>8,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {measured.per_core:>9,.0f}{flag} ")
        print(f"{name:<27}" + "".join(cells))
    for figures in results:
        s = figures.sign_in
        if s is not None:
            per_core = s.sign_ins / s.cpu_seconds if s.cpu_seconds else 0.0
            flag = f", {s.errors} errors" if s.errors else ""
            print(
                f"{'password sign-in':<27} | {figures.label}: {s.rate:,.1f} sign-ins/s, POST /login/password "
                f"p50 {s.p50_ms:.1f} ms p99 {s.p99_ms:.1f} ms, {per_core:,.1f} per core·s{flag}"
            )


def print_comparison(results: list[ServerFigures], floors: list[Floor], cores: int) -> None:
    argon = floors[0]
    print()
    print("against the physical floor and Keycloak's published sizing (per core = per CPU-second of the server):")
    for figures in results:
        s = figures.sign_in
        if s is None or not s.sign_ins:
            continue
        per_core = s.sign_ins / s.cpu_seconds if s.cpu_seconds else 0.0
        cpu_ms = 1000 * s.cpu_seconds / s.sign_ins
        print(
            f"  {figures.label}: password sign-in (identifier + CAPTCHA screen, then POST /login/password with "
            f"argon2id m=19 MiB t=2): {per_core:.1f}/s per core ({cpu_ms:.1f} ms CPU each, argon2id alone "
            f"{argon.micros / 1000:.1f} ms = {argon.per_second:.0f}/s); Keycloak: "
            f"{KEYCLOAK_PASSWORD_LOGINS_PER_VCPU}/s per vCPU → ×{per_core / KEYCLOAK_PASSWORD_LOGINS_PER_VCPU:.1f};"
            f" on {cores} cores {s.rate:.1f}/s measured"
        )
        refresh = figures.endpoints.get("refresh_token grant")
        if refresh is not None:
            print(
                f"  {figures.label}: refresh_token grant {refresh.per_core:,.0f}/s per core "
                f"({refresh.result.rate:,.0f}/s on {cores} cores with the load generator); Keycloak: "
                f"{KEYCLOAK_REFRESH_GRANTS_PER_VCPU}/s per vCPU → "
                f"×{refresh.per_core / KEYCLOAK_REFRESH_GRANTS_PER_VCPU:.1f}"
            )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per endpoint (default 5)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of unrecorded load per endpoint first (0: none)"
    )
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help=f"auto: wrk if installed ({loadgen.WRK_INSTALL_HINT}), else the Python generator",
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--max-requests",
        type=int,
        default=500_000,
        help="cap on requests per endpoint of the Python generator and on sign-ins",
    )
    web_servers.add_size_arguments(parser, what="the IdP")
    parser.add_argument(
        "--signin-concurrency", type=int, default=2 * cores, help="browsers signing in at once (default 2 × cores)"
    )
    parser.add_argument("--floor-seconds", type=float, default=1.0, help="seconds per physical-floor primitive")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run the IdP on PostgreSQL (server URL; a scratch database is created and dropped)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="with --postgres: the ephemeral store on this Redis "
        "(keys under a prefix of their own, deleted afterwards)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the IdP on SQLite")
    parser.add_argument("--no-node", action="store_true", help="skip node-oidc-provider")
    parser.add_argument(
        "--server",
        default="granian",
        help=f"the IdP's web server(s), comma-separated among {', '.join(WEB_SERVERS)} (default: granian, as deployed)",
    )
    parser.add_argument(
        "--node-store",
        default=None,
        help="node-oidc-provider's store(s), comma-separated among memory, redis "
        "(default: memory, and redis too when --redis is given)",
    )
    parser.add_argument("--no-sign-in", action="store_true", help="skip the password sign-in load")
    args = parser.parse_args(argv)
    if args.redis and not args.postgres:
        parser.error("--redis goes with --postgres")
    args.servers = [name.strip() for name in args.server.split(",") if name.strip()]
    if not args.servers or any(name not in WEB_SERVERS for name in args.servers):
        parser.error(f"--server: among {', '.join(WEB_SERVERS)}")
    default_stores = "memory,redis" if args.redis else "memory"
    args.node_stores = [name.strip() for name in (args.node_store or default_stores).split(",") if name.strip()]
    if any(name not in ("memory", "redis") for name in args.node_stores):
        parser.error("--node-store: among memory, redis")
    if "redis" in args.node_stores and not args.redis:
        parser.error("--node-store redis needs --redis")
    if args.connections < 1 or args.duration <= 0:
        parser.error("--connections and --duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (``python -m benchmarks`` stopping a run that overran) unwinds like Ctrl-C: servers stopped, scratch
    # databases dropped, temporary files removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cores = os.cpu_count() or 1
    tool = args.loadgen if args.loadgen != "auto" else ("wrk" if loadgen.wrk_path() else "python")
    print(
        f"OpenID Provider throughput: {cores} cores, {args.duration:g} s per endpoint after {args.warmup:g} s "
        f"of warm-up, {args.connections} keep-alive connections, load generator {tool}"
        + ("" if loadgen.wrk_path() else f" (wrk not installed: {loadgen.WRK_INSTALL_HINT})")
    )
    print(
        f"IdP: {' and '.join(args.servers)}, {args.workers} workers × {args.threads} threads, IDP_ENV=testing "
        "(fixed CAPTCHA), production argon2id parameters",
        flush=True,
    )
    print(
        "/core·s: requests per CPU-second of the server's own processes (the web server's processes and the "
        "PostgreSQL backends of its database, not the shared Redis; node's one process): what one core serves"
    )
    print(
        f"load average before the run: {load_average()} (other work on the machine lowers req/s, less /core·s)",
        flush=True,
    )
    floors = measure(args.floor_seconds)
    results, notes = run_all(args)
    print_table(results)
    print_ratios(results)
    for note in notes:
        print(note)
    print()
    from benchmarks.physical_floor import report

    report(floors)
    print_comparison(results, floors, cores)
    print(
        f"(Keycloak: {KEYCLOAK_PASSWORD_LOGINS_PER_VCPU} password logins and {KEYCLOAK_REFRESH_GRANTS_PER_VCPU} "
        "refresh grants per second per vCPU, its published sizing)"
    )
    print(f"load average after the run: {load_average()}")
    failed = any(m.result.errors or not m.result.requests for r in results for m in r.endpoints.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
