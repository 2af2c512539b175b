"""The voter journey's floor: the server CPU of a journey stripped to what any implementation of it must do.

The same journeys as :mod:`benchmarks.voter_journey` (the same driver, :mod:`benchmarks.journey_load`: 18 browser
requests, the two CAPTCHA images, the POSTs, the ballot encrypted as the page's script does) against two minimal
apps (:mod:`benchmarks.floor_apps`: plain Flask, psycopg and redis-py directly, no template, form library, Authlib
or ORM) served as the suite is: granian with the same options (:mod:`benchmarks.web_servers`), ``--workers`` ×
``--threads`` for each app, a PostgreSQL cluster and a Redis of the run's own
(:func:`benchmarks.suite_servers.storage`), CPU read per process as the journey benchmark reads it
(:class:`benchmarks.suite_servers.Usage`). What each step keeps:

- the HTTP exchanges: the browser's 18 requests, and the portal's three back-channel calls (two token requests, one
  userinfo) to the IdP over HTTP on the suite's keep-alive pool (:mod:`infra.http_pool`);
- per step, as many SQL statements, committed transactions and Redis round trips as the real step sends
  (:data:`benchmarks.floor_apps.COSTS`, read from the step benchmarks: see there), as trivial statements on small
  tables (primary-key ``SELECT``, one-row ``INSERT``; each transaction one pipelined round trip);
- the cryptography, with the suite's libraries and parameters: one argon2id verification (the password), the vote
  code's keyed hash, an ES256 signature per ID token and the portal's check of it, the CAPTCHA images drawn by the
  suite's image class, the ballot's proofs checked by the suite's verifier;
- the pages, as precomputed bytes of the real pages' sizes (:data:`benchmarks.floor_apps.PAGE_BYTES`).

What it leaves out: templates, forms and their validation, the CSRF library (a token compared instead), the
security headers, the request id, log line and metrics, the database layer (SQLAlchemy, its pool and pings), the
audit chain's hashing and locking (an event is a plain ``INSERT``), the session framework (a JSON value under a
random cookie), the throttles' and lockouts' logic (their round trips are kept), the OIDC library's checks beyond
the essential ones (client, redirect URI, PKCE, nonce, issuer, audience, expiry, acr), the background workers, the
waiting room. Each transaction is one pipelined round trip (some real ones take more) and each Redis round trip
carries one or two commands (the real ones carry about twice as many in all). Every journey's receipt is checked in
the box.

It prints, per level as the journey benchmark does: journeys per second, server CPU per journey by process (IdP,
portal, PostgreSQL, Redis) and the total's ratio to one argon2id verification measured in the same run; SQL
statements (``pg_stat_statements``) and Redis commands per journey. Then, with ``--steps N``, N journeys one at a
time and the CPU of each step by process (as ``benchmarks.voter_journey --steps``); the essential cryptography's own
CPU, in one thread of this process; and, per level, what the floor leaves under 3 × argon2id.

    .venv/bin/python -m benchmarks.journey_floor [--postgres private|URL] [--concurrency 4,4,16] [--duration 20] \\
        [--workers N (one per core) --threads 4] [--warm-up 10] [--steps 3] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from argon2 import PasswordHasher
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy.engine import make_url

from benchmarks import floor_apps, journey_load, suite_servers, voter_journey, web_servers
from benchmarks.journey_load import Target, Voter
from benchmarks.oidc_servers import _stop, _wait_http, free_port
from captcha_challenge.image import LegibleCaptcha
from idp.config import DEFAULTS
from idp.oidc.keys import generate
from idp.security.keyed import KeyedHasher
from votecrypto import encrypt_ballot, group
from votecrypto.ballot import CURRENT_FORMAT, display_code, verify_ballot

FACTORIES = {"idp": "benchmarks.floor_apps:create_idp", "portal": "benchmarks.floor_apps:create_portal"}


def conninfo(url: str) -> str:
    """A psycopg conninfo from the storage's SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def provision(storage: suite_servers.Storage, voters: int) -> tuple[dict[str, dict[str, str]], list[Voter]]:
    """Both databases' tables, the client, the voters (one argon2id hash at the production parameters shared by all,
    a vote code each); the apps' environments and the voters."""
    assert storage.redis_url is not None
    secret, client_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    keyed = KeyedHasher(secret)
    hasher = PasswordHasher(
        time_cost=DEFAULTS["ARGON2_TIME_COST"],
        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
        parallelism=DEFAULTS["ARGON2_PARALLELISM"],
    )
    password_hash = hasher.hash(suite_servers.PASSWORD)
    people = [
        Voter(f"electeur.plancher{n}@ac-exemple.fr", suite_servers.PASSWORD, secrets.token_hex(6))
        for n in range(voters)
    ]
    idp_port, portal_port = free_port(), free_port()
    idp_url, portal_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{portal_port}"
    for url in (storage.idp_url, storage.portal_url):
        with psycopg.connect(conninfo(url)) as conn:
            conn.execute(floor_apps.SCHEMA)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO floor_voter VALUES (%s, %s, %s, %s)",
                    [
                        (
                            p.identifier,
                            f"Mme TESTEUR Camille {n}",
                            password_hash,
                            keyed.digest("vote_code", p.vote_code),
                        )
                        for n, p in enumerate(people)
                    ],
                )
            conn.execute(
                "INSERT INTO floor_client VALUES (%s, %s, %s)",
                (
                    floor_apps.CLIENT_ID,
                    hashlib.sha256(client_secret.encode()).digest(),
                    f"{portal_url}/connexion/retour",
                ),
            )
    key = generate("ES256")
    election = f"{group.mul_base(group.random_scalar()).hex()}:{secrets.token_bytes(32).hex()}"
    common = {
        "FLOOR_IDP_URL": idp_url,
        "FLOOR_PORTAL_URL": portal_url,
        "FLOOR_SECRET": secret,
        "FLOOR_CLIENT_SECRET": client_secret,
    }
    redis_base = storage.redis_url.rsplit("/", 1)[0]
    envs = {
        "idp": {
            **common,
            "FLOOR_PORT": str(idp_port),
            "FLOOR_DATABASE": conninfo(storage.idp_url),
            "FLOOR_REDIS": f"{redis_base}/0",
            "FLOOR_SIGNING_KEY": json.dumps(key.as_dict(private=True)),
            "FLOOR_CAPTCHA": suite_servers.CAPTCHA,
        },
        "portal": {
            **common,
            "FLOOR_PORT": str(portal_port),
            "FLOOR_DATABASE": conninfo(storage.portal_url),
            "FLOOR_REDIS": f"{redis_base}/1",
            "FLOOR_VERIFY_KEY": json.dumps(key.as_dict(private=False)),
            "FLOOR_ELECTION": election,
        },
    }
    return envs, people


@contextlib.contextmanager
def servers(
    envs: dict[str, dict[str, str]], workers: int, threads: int, logs: Path
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The two apps under granian, as the journey benchmark serves the suite's; stopped on exit."""
    web = web_servers.SERVERS["granian"]
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, env in envs.items():
            argv = web.argv(FACTORIES[name], int(env["FLOOR_PORT"]), workers, threads)
            processes[name] = suite_servers._start(argv, env, logs / f"{name}.log")
        for name, process in processes.items():
            _wait_http(f"http://127.0.0.1:{envs[name]['FLOOR_PORT']}/healthz", process, logs / f"{name}.log")
        yield processes
    finally:
        for process in processes.values():
            _stop(process)


def measured(
    label: str, roles: suite_servers.Usage, storage: suite_servers.Storage, target: Target, **drive: object
) -> voter_journey.Run:
    """One level: the journeys, the CPU of each role, the statements and Redis commands (as the journey
    benchmark's :func:`benchmarks.voter_journey.measured`)."""
    if storage.reset_statements:
        storage.reset_statements()
    if storage.redis_url:
        suite_servers.reset_redis_stats(storage.redis_url)
    roles.start()
    recorder = asyncio.run(journey_load.drive(target, **drive))  # type: ignore[arg-type]
    roles.stop()
    statements = sum(storage.statements().values()) if storage.statements else 0
    commands = suite_servers.redis_commands(storage.redis_url) if storage.redis_url else 0
    return voter_journey.Run(label, recorder, roles, statements, commands)


def check_box(storage: suite_servers.Storage, receipts: dict[str, str]) -> list[str]:
    """Problems found comparing the receipts shown with the portal's ballot box and émargements (none: [])."""
    with psycopg.connect(conninfo(storage.portal_url)) as conn:
        box = [display_code(bytes(code)) for (code,) in conn.execute("SELECT tracking_code FROM floor_ballot")]
        marked: dict[str, int] = dict(
            conn.execute("SELECT voter, count(*) FROM floor_emargement GROUP BY voter").fetchall()
        )
    problems = [f"receipt {r} is in the box {box.count(r)} times" for r in receipts if box.count(r) != 1]
    problems += [f"{v} has {marked.get(v, 0)} émargements" for v in set(receipts.values()) if marked.get(v) != 1]
    if len(box) != len(receipts):
        problems.append(f"{len(box)} ballots but {len(receipts)} receipts shown")
    return problems


def _thread_cpu(operation: Callable[[], object], seconds: float) -> float:
    """CPU seconds of one ``operation`` in this thread (after one call not counted), over about ``seconds``."""
    operation()
    count, started, wall = 0, time.thread_time(), time.monotonic()
    while count < 3 or time.monotonic() - wall < seconds:
        operation()
        count += 1
    return (time.thread_time() - started) / count


def cryptography_cpu(argon2: float, seconds: float) -> dict[str, float]:
    """The journey's essential cryptography, one thread of this process, CPU seconds per journey by operation: what
    the floor cannot shed whatever serves it (argon2id as measured for the ratio)."""
    key = generate("ES256")
    claims = {"iss": "http://127.0.0.1", "sub": "x" * 32, "aud": floor_apps.CLIENT_ID, "iat": 0, "exp": 2**31}
    claims |= {"auth_time": 0, "acr": floor_apps.ACR_PASSWORD, "amr": ["pwd"], "nonce": "n" * 22, "sid": "s" * 22}
    token = jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["ES256"])
    verify_key = ECKey.import_key(key.as_dict(private=False))
    secret = group.random_scalar()
    election_key, election, nonce = group.mul_base(secret), secrets.token_bytes(32), secrets.token_bytes(32)
    ballot = encrypt_ballot(
        key=election_key,
        election=election,
        nonce=nonce,
        options=floor_apps.OPTIONS,
        choice=0,
        proof_format=CURRENT_FORMAT,
    )
    image = LegibleCaptcha()
    keyed = KeyedHasher(secrets.token_urlsafe(32))
    return {
        "argon2id (the password)": argon2,
        "2 CAPTCHA images": 2 * _thread_cpu(lambda: image.png(suite_servers.CAPTCHA), seconds),
        "2 ES256 signatures (ID tokens)": 2
        * _thread_cpu(lambda: jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"]), seconds),
        "2 ES256 checks (the portal)": 2
        * _thread_cpu(lambda: jwt.decode(token, verify_key, algorithms=["ES256"]), seconds),
        "the ballot's proofs": _thread_cpu(
            lambda: verify_ballot(
                ballot,
                key=election_key,
                election=election,
                options=floor_apps.OPTIONS,
                nonce=nonce,
                proof_format=CURRENT_FORMAT,
            ),
            seconds,
        ),
        "the vote code's keyed hash": _thread_cpu(lambda: keyed.digest("vote_code", "0123456789ab"), seconds),
    }


def report_cryptography(crypto: dict[str, float], argon2: float) -> None:
    total = sum(crypto.values())
    print("\nthe journey's essential cryptography, in one thread of this process (ms a journey):")
    for name, seconds in crypto.items():
        print(f"  {name:<34} {seconds * 1000:7.3f}")
    print(f"  {'in all':<34} {total * 1000:7.3f} = {total / argon2:.2f} × argon2id")


def report_floor(runs: list[voter_journey.Run], argon2: float, crypto: float) -> None:
    """What the floor leaves under 3 × argon2id for everything the application does above it."""
    print("\nthe floor against the goal (server CPU per journey ≤ 3 × one argon2id verification):")
    goal = 3 * argon2
    for run in runs:
        done = int(run.recorder.summary()["journeys"])
        if not done:
            continue
        floor = sum(run.usage.seconds(role) for role in ("idp", "portal", "postgresql", "redis")) / done
        print(
            f"  {run.label}: floor {floor * 1000:.1f} ms = {floor / argon2:.2f} × argon2id "
            f"(cryptography {crypto * 1000:.1f} ms, the rest {(floor - crypto) * 1000:.1f} ms); "
            f"3 × argon2id = {goal * 1000:.1f} ms leaves {(goal - floor) * 1000:.1f} ms a journey above the floor"
        )


def probe(roles: Callable[[], dict[str, list[int]]]) -> Callable[[], dict[str, float]]:
    """Each role's CPU seconds so far, counted thread by thread from one reading to the next (as the journey
    benchmark's ``--steps`` reads them: a thread that ends between two readings must not count as negative time)."""
    last: dict[str, dict[int, int]] = {}
    total: dict[str, float] = {}

    def read() -> dict[str, float]:
        for role, pids in roles().items():
            now = {tid: ns for pid in pids for tid, ns in suite_servers.task_cpu_ns(pid).items()}
            before = last.get(role, {})
            total[role] = total.get(role, 0.0) + sum(ns - before.get(t, 0) for t, ns in now.items()) / 1e9
            last[role] = now
        return dict(total)

    return read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres", default="private", help="'private' (default) or a PostgreSQL server URL")
    parser.add_argument("--concurrency", default="4,4,16", help="comma-separated voters in flight (default 4,4,16)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per concurrency (default 20)")
    web_servers.add_size_arguments(parser)
    parser.add_argument("--voters", type=int, help="voters to provision (default: enough for the run)")
    parser.add_argument("--argon2-seconds", type=float, default=2.0)
    parser.add_argument("--warm-up", type=float, default=10.0, help="seconds of journeys before the levels")
    parser.add_argument("--steps", type=int, default=3, help="journeys one at a time for the CPU per step (0: none)")
    parser.add_argument("--crypto-seconds", type=float, default=1.0, help="seconds per cryptographic operation")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the benchmark runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.concurrency, args.duration, args.warm_up, args.argon2_seconds = "2", 1.0, 0.5, 0.05
        args.workers, args.threads, args.steps, args.crypto_seconds = 1, 2, 1, 0.02
    suite_servers.stop_signal_handlers()
    levels = [int(c) for c in args.concurrency.split(",") if c]
    warm_concurrency = args.workers * args.threads
    # Generous: the floor runs faster than the suite (about 40 journeys a second measured on this machine).
    voters_needed = args.voters or (
        sum(max(4 * c, int(60 * args.duration)) for c in levels)
        + max(4 * warm_concurrency, int(60 * args.warm_up))
        + args.steps
    )
    print(f"journey_floor: {voter_journey.machine_load()}; provisioning {voters_needed} voters", flush=True)
    argon2 = voter_journey.argon2_cpu_seconds(args.argon2_seconds)
    print(f"one argon2id verification (production parameters): {argon2 * 1000:.1f} ms CPU", flush=True)
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="journey-bench-floor-")))
        logs = directory / "logs"
        logs.mkdir()
        storage = stack.enter_context(suite_servers.storage(args.postgres, directory))
        if storage.redis_url is None:
            raise SystemExit("the floor needs PostgreSQL and Redis (--postgres private or a server URL)")
        envs, people = provision(storage, voters_needed)
        processes = stack.enter_context(servers(envs, args.workers, args.threads, logs))
        target = Target(
            envs["portal"]["FLOOR_PORTAL_URL"], envs["idp"]["FLOOR_IDP_URL"], floor_apps.SCRUTIN, suite_servers.CAPTCHA
        )

        def roles() -> dict[str, list[int]]:
            found = {name: suite_servers.process_tree(process.pid) for name, process in processes.items()}
            found["postgresql"] = storage.database_pids()
            if storage.redis_pid is not None:
                found["redis"] = [storage.redis_pid]
            return found

        print(
            f"{storage.label}, granian, {args.workers} workers × {args.threads} threads (IdP and portal each); "
            f"the floor's apps ({', '.join(FACTORIES.values())})",
            flush=True,
        )
        step_voters = iter(people[: args.steps])
        feed = iter(people[args.steps :])
        warm = measured(
            "warm-up",
            suite_servers.Usage(roles),
            storage,
            target,
            voters=feed,
            concurrency=warm_concurrency,
            duration=args.warm_up,
        )
        if warm.recorder.errors_by_kind():
            print(f"warm-up errors: {dict(warm.recorder.errors_by_kind())}")
        receipts = dict(warm.recorder.receipts())
        runs: list[voter_journey.Run] = []
        for level in levels:
            run = measured(
                f"{level} voters in flight",
                suite_servers.Usage(roles),
                storage,
                target,
                voters=feed,
                concurrency=level,
                duration=args.duration,
            )
            runs.append(run)
            voter_journey.report(run, argon2)
            receipts.update(run.recorder.receipts())
        if args.steps:
            steps = asyncio.run(
                journey_load.drive(target, step_voters, concurrency=1, journeys=args.steps, probe=probe(roles))
            )
            voter_journey.report_steps(steps, argon2)
            receipts.update(steps.receipts())
        crypto = cryptography_cpu(argon2, args.crypto_seconds)
        report_cryptography(crypto, argon2)
        report_floor(runs, argon2, sum(crypto.values()))
        problems = check_box(storage, receipts)
        print(
            f"\nballot box: {len(receipts)} receipts shown, each in the box once, one émargement per voter: "
            + ("ok" if not problems else "PROBLEMS")
        )
        for problem in problems[:20]:
            print(f"  {problem}")
        print(
            f"\n{voter_journey.machine_load()}; argon2id re-measured: "
            f"{voter_journey.argon2_cpu_seconds(args.argon2_seconds) * 1000:.1f} ms CPU"
        )
        failed = sum(int(r.recorder.summary()["failed"]) for r in runs)
        return 1 if problems or failed else 0


if __name__ == "__main__":
    sys.exit(main())
