"""What every request costs before and after its view: the fixed cost of the suite's Flask apps, against a bare view.

    .venv/bin/python -m benchmarks.request_overhead [--requests 2000] [--rounds 3] [--server-seconds 5] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]

Each page is requested through the app's WSGI callable directly, in this thread (no HTTP server: its cost would
hide the difference), on throw-away SQLite databases and the SQL-backed ephemeral store, or scratch PostgreSQL
databases and Redis (as in production: the session read is then a round trip). Pages:

* ``bare``: a Flask app whose view returns bytes, nothing installed (the floor);
* ``bare+infra``: the same view in an app made by :func:`infra.application.new_app` (request id, metrics, the
  request's log line, written to /dev/null as at INFO in production);
* ``portal /readyz`` and ``idp /readyz``: the real apps (sessions, CSRF, security headers, every hook), a view
  that reads nothing;
* ``portal / (anonymous)``: the public home page, a template with its links;
* ``portal / (signed in)``: the signed-in home page of a voter on the roll of an open scrutin with three lists (the
  journey benchmark's), its session read from the store, one ``SELECT``, the page with its « Se déconnecter » form;
* ``portal /je-vote``: « Je vote », the same voter;
* ``idp /login``: the identifier page (a CAPTCHA challenge stored, the session written, the template);
* ``idp /jwks.json`` and ``idp discovery``: the provider's two documents, answered from memory (request id,
  metrics and log line only).

For each, the best round's CPU time of this thread per request (µs); with ``--server-seconds S``, also the CPU of
the server's processes per request with each page served by granian (one worker, ``--threads`` threads, the
production options) and driven for ``S`` seconds by ``wrk`` (below a second, the Python load generator: wrk counts
whole seconds) on 4 keep-alive connections: the HTTP server's share added, as a journey's requests pay it. Then,
under cProfile on the thread's CPU clock (which inflates every figure, so read them as shares), where the time of
each real page goes: the session's opening and saving, each before- and after-request hook, the request observer,
the view, the templates, ``url_for`` and CSRF, inclusive µs per request (``--profile-requests`` per page: by
default a quarter of ``--requests``, 200 at least); ``--top N`` adds the N functions of most self time.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import EnvironBuilder

PORTAL_SECRET = "bench-portal-secret-key-not-a-secret-0123456789"
#: Where a real app keeps the environment it was made from (for the same app under granian).
FACTORY_ENV = "bench.factory_env"


@dataclass
class Page:
    """One page to request: its app, its WSGI environment builder, and its expected status."""

    label: str
    app: Flask
    environ: Callable[[], dict[str, Any]]
    status: str = "200"
    #: The same page under granian (``--server-seconds``): the app's factory and the environment it reads.
    factory: str = ""
    factory_env: dict[str, str] = field(default_factory=dict)
    path: str = "/"
    cookie: str | None = None


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    _start_response.status = status.split(" ", 1)[0]  # type: ignore[attr-defined]


def call(page: Page) -> None:
    for _chunk in page.app.wsgi_app(page.environ(), _start_response):  # type: ignore[arg-type]
        pass
    status = _start_response.status  # type: ignore[attr-defined]
    if status != page.status:
        raise SystemExit(f"{page.label}: HTTP {status}, expected {page.status}")


def cpu_per_request(page: Page, requests: int) -> float:
    """µs of this thread's CPU per request."""
    started = time.thread_time_ns()
    for _ in range(requests):
        call(page)
    return (time.thread_time_ns() - started) / requests / 1000


def bare_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def view() -> bytes:
        return b"ok"

    return app


def infra_app() -> Flask:
    from infra.application import new_app

    settings = {"SECRET_KEY": "bench-secret-0123456789", "SESSION_COOKIE_NAME": "s"}
    app = new_app(__name__, settings, secure_cookies=False, max_content_length=1024, name="bench")

    @app.get("/")
    def view() -> bytes:
        return b"ok"

    return app


def environ_of(path: str, *, cookie: str | None = None) -> Callable[[], dict[str, Any]]:
    headers = [("Cookie", cookie)] if cookie else []
    prepared = EnvironBuilder(path=path, base_url="http://127.0.0.1", headers=headers).get_environ()
    return lambda: dict(prepared)


#: The signed-in voter of the portal's pages, on the roll of the provisioned scrutin.
VOTER = "banc.mesure@ac-exemple.fr"


@contextmanager
def database_url(directory: Path, postgres: str | None, name: str) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{directory / (name + '.sqlite3')}"
        return
    from benchmarks.audit_append import postgres_database

    with postgres_database(postgres) as url:
        yield url


@contextmanager
def portal_app(
    directory: Path, postgres: str | None, redis_url: str | None, *, voters: list[str] | None = None
) -> Iterator[Flask]:
    from benchmarks.suite_servers import provision_portal
    from relying_party import create_app
    from relying_party.db import get_db
    from relying_party.store import get_store

    with database_url(directory, postgres, "portal") as url:
        env = {
            "PORTAL_ENV": "testing",
            "PORTAL_SECRET_KEY": PORTAL_SECRET,
            "PORTAL_DATABASE_URL": url,
            "PORTAL_PUBLIC_URL": "http://127.0.0.1",
            "PORTAL_IDP_ISSUER": "http://127.0.0.1:9",  # never contacted by these pages
            "PORTAL_CLIENT_ID": "portail-elections",
            "PORTAL_CLIENT_SECRET": "bench-client-secret-not-a-secret-0123456789",
        }
        # The journey benchmark's scrutin: three lists, the voters (by default one, VOTER) on its roll.
        provision_portal(env, voters or [VOTER])
        prefix = f"portal-overhead:{secrets.token_hex(6)}:"
        if redis_url:
            env.update(PORTAL_REDIS_URL=redis_url, PORTAL_REDIS_PREFIX=prefix)
        app = create_app(environ=env)
        app.extensions[FACTORY_ENV] = env
        try:
            yield app
        finally:
            get_store(app).close()
            get_db(app).dispose()
            if redis_url:
                _delete_prefix(redis_url, prefix)


@contextmanager
def idp_app(directory: Path, postgres: str | None, redis_url: str | None) -> Iterator[Flask]:
    from benchmarks.oidc_servers import _migrate, idp_environment
    from idp import create_app
    from idp.db import get_db
    from idp.oidc.provider import get_provider

    with database_url(directory, postgres, "idp") as url:
        _migrate(url)
        database = {"IDP_DATABASE_URL": url}
        prefix = f"idp-overhead:{secrets.token_hex(6)}:"
        if redis_url:
            database.update(IDP_REDIS_URL=redis_url, IDP_REDIS_PREFIX=prefix)
        env = idp_environment(80, database)
        app = create_app(environ=env)
        app.extensions[FACTORY_ENV] = env
        with app.app_context(), get_db(app).transaction() as session:
            get_provider(app).keys.init(session)  # the JWKS page's keys
        try:
            yield app
        finally:
            get_db(app).dispose()
            if redis_url:
                _delete_prefix(redis_url, prefix)


def _delete_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=prefix + "*", count=500):
            client.delete(key)
    finally:
        client.close()


def signed_in_cookie(app: Flask) -> str:
    """A portal session holding a signed-in voter, written as the sign-in callback writes it."""
    from infra.sessions import entry_for, store_key
    from relying_party.store import get_store

    sid = secrets.token_urlsafe(32)
    now = time.time()
    data = {
        "user": {
            "sub": "bench-subject",
            "email": VOTER,
            "given_name": "Claire",
            "family_name": "Exemple",
            "gender": "female",
            "idp_sid": "bench-idp-sid",
            "id_token": "bench.id.token",
            "auth_time": int(now),
            "userinfo": {},
        },
        "csrf_token": secrets.token_hex(20),
    }
    # "touched" now: the idle expiry is not refreshed during the run (as for a voter's clicks within a minute).
    get_store(app).set(store_key(sid), entry_for(data, now, now), 3600)
    return f"{app.config['SESSION_COOKIE_NAME']}={sid}"


def pages(stack: ExitStack, postgres: str | None, redis_url: str | None) -> list[Page]:
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="request-overhead-")))
    portal = stack.enter_context(portal_app(directory, postgres, redis_url))
    idp = stack.enter_context(idp_app(directory, postgres, redis_url))
    signed_in = signed_in_cookie(portal)
    bare = "benchmarks.request_overhead:bare_app"
    infra = "benchmarks.request_overhead:infra_app"
    return [
        page("bare", bare_app(), "/", factory=bare),
        page("bare+infra", infra_app(), "/", factory=infra),
        page("portal /readyz", portal, "/readyz"),
        page("idp /readyz", idp, "/readyz"),
        page("portal / (anonymous)", portal, "/"),
        page("portal / (signed in)", portal, "/", cookie=signed_in),
        page("portal /je-vote", portal, "/je-vote", cookie=signed_in),
        page("idp /login", idp, "/login"),
        page("idp /jwks.json", idp, "/jwks.json"),
        page("idp discovery", idp, "/.well-known/openid-configuration"),
    ]


def page(label: str, app: Flask, path: str, *, cookie: str | None = None, factory: str | None = None) -> Page:
    real = {"relying_party": "relying_party:create_app", "idp": "idp:create_app"}.get(app.import_name)
    return Page(
        label,
        app,
        environ_of(path, cookie=cookie),
        factory=factory or real or "",
        factory_env=dict(app.extensions.get(FACTORY_ENV, {})),
        path=path,
        cookie=cookie,
    )


def under_server(found: list[Page], seconds: float, threads: int) -> dict[str, float]:
    """µs of server CPU per request of each page under granian (one worker × ``threads``, as deployed but one
    process), driven by ``wrk`` (or the Python load generator) on 4 keep-alive connections for ``seconds``."""
    from benchmarks import loadgen
    from benchmarks.oidc_servers import _stop, _wait_http, free_port
    from benchmarks.suite_servers import process_tree, task_cpu_ns
    from benchmarks.web_servers import SERVERS

    figures: dict[str, float] = {}
    for factory in dict.fromkeys(p.factory for p in found):
        served = [p for p in found if p.factory == factory]
        port = free_port()
        directory = Path(tempfile.mkdtemp(prefix="request-overhead-"))
        env = {**os.environ, **served[0].factory_env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
        log = directory / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                SERVERS["granian"].argv(factory, port, 1, threads),
                env=env,
                cwd=Path(__file__).resolve().parent.parent,  # the bare apps' factories are in this module
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(base + served[0].path, process, log)
            for one in served:
                headers = {"Cookie": one.cookie} if one.cookie else {}
                scenario = loadgen.Scenario(one.label, base + one.path, headers=headers)
                # Warm-up: a second of load; in a sub-second run (the smoke's), a few requests per connection.
                loadgen.run(
                    scenario, duration=min(1.0, seconds), connections=4, max_requests=10**6 if seconds >= 1 else 20
                )
                pids = process_tree(process.pid)
                before = {pid: sum(task_cpu_ns(pid).values()) for pid in pids}
                result = loadgen.run(scenario, duration=seconds, connections=4, max_requests=10**6)
                after = {pid: sum(task_cpu_ns(pid).values()) for pid in process_tree(process.pid)}
                if result.errors or not result.requests:
                    raise SystemExit(f"{one.label} under granian: {result.errors} errors in {result.requests}")
                used = sum(after[pid] - before.get(pid, 0) for pid in after)
                figures[one.label] = used / result.requests / 1000
        finally:
            _stop(process)
            shutil.rmtree(directory, ignore_errors=True)
    return figures


def _key(function: Callable[..., Any]) -> tuple[str, int, str] | None:
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    return (code.co_filename, code.co_firstlineno, code.co_name)


def components(app: Flask) -> dict[str, tuple[str, int, str]]:
    """The functions whose inclusive time is shown: the session interface, each hook, the observer, helpers."""
    import flask
    import flask_wtf.csrf
    import jinja2

    from infra.observability import RequestObserver

    found: dict[str, Callable[..., Any]] = {
        "session: open": type(app.session_interface).open_session,
        "session: save": type(app.session_interface).save_session,
        "observer: log line + metrics": RequestObserver.finish,
        "templates: render": jinja2.Template.render,
        "url_for": flask.Flask.url_for,
        "csrf: generate token": flask_wtf.csrf.generate_csrf,
        "views: dispatch": flask.Flask.dispatch_request,
    }
    try:  # the templates' links kept once built (absent from trees before infra.links)
        from infra.links import Links

        found["url_for through infra.links"] = Links.url_for
    except ImportError:
        pass
    for function in app.before_request_funcs.get(None, []):
        found[f"before: {function.__module__}.{function.__qualname__}"] = function
    for function in app.after_request_funcs.get(None, []):
        found[f"after: {function.__module__}.{function.__qualname__}"] = function
    for function in app.teardown_request_funcs.get(None, []):
        found[f"teardown: {function.__module__}.{function.__qualname__}"] = function
    for function in app.teardown_appcontext_funcs:
        found[f"teardown app: {function.__module__}.{function.__qualname__}"] = function
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        found["csrf: protect"] = type(csrf).protect
    keys = {name: _key(function) for name, function in found.items()}
    return {name: key for name, key in keys.items() if key is not None}


def profile(page: Page, requests: int, top: int) -> list[tuple[str, float]]:
    profiler = cProfile.Profile(time.thread_time_ns, 1e-9)  # CPU, not the wait for Redis
    profiler.enable()
    for _ in range(requests):
        call(page)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    if top:
        ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
        for (filename, line, name), entry in ranked:
            where = f"{'/'.join(Path(filename).parts[-2:])}:{line} {name}"
            rows.append((f"self: {where}"[:72], entry[2] / requests * 1e6))
    total = sum(entry[2] for entry in stats.values())
    rows.append(("whole request (profiled)", total / requests * 1e6))
    for name, key in components(page.app).items():
        entry = stats.get(key)
        if entry:
            rows.append((name, entry[3] / requests * 1e6))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per page and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: scratch databases there instead of SQLite")
    parser.add_argument("--redis", help="the ephemeral store in this Redis (a prefix of the run's own)")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled breakdown")
    parser.add_argument("--top", type=int, default=0, help="also the N functions of most self time, per page")
    parser.add_argument(
        "--profile-requests",
        type=int,
        help="requests per page under cProfile (default: a quarter of --requests, at least 200)",
    )
    parser.add_argument("--only", help="only the pages whose label contains this")
    parser.add_argument(
        "--server-seconds", type=float, default=0, help="also each page under granian for this long (0: not)"
    )
    parser.add_argument("--threads", type=int, default=4, help="granian's threads (with --server-seconds)")
    args = parser.parse_args(argv)
    # The request lines go to /dev/null as JSON, at INFO as in production (their cost counts).
    from infra.logs import json_handler

    root = logging.getLogger()
    sink = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    root.handlers[:] = [json_handler(sink)]
    root.setLevel(logging.INFO)
    with ExitStack() as stack:
        found = pages(stack, args.postgres, args.redis)
        for one in found:  # warm-up: templates compiled, connections opened, caches filled
            for _ in range(50):
                call(one)
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for one in found:
                figure = cpu_per_request(one, args.requests)
                best[one.label] = min(best.get(one.label, figure), figure)
        database = "PostgreSQL" if args.postgres else "SQLite"
        store = f"{database}, " + ("Redis" if args.redis else "the SQL-backed store")
        print(f"CPU per request, µs of this thread (best of {args.rounds} rounds × {args.requests}; {store}):")
        served = under_server(found, args.server_seconds, args.threads) if args.server_seconds else {}
        if served:
            print(f"  {'page':<24} {'in process':>10} {'granian':>9}  (granian: server CPU, 1 worker × {args.threads})")
        for one in found:
            server = f" {served[one.label]:9.1f}" if one.label in served else ""
            print(f"  {one.label:<24} {best[one.label]:10.1f}{server}")
        if not args.no_profile:
            # cProfile on the thread's CPU clock reads it by a system call at every event: most of a tiny run's CPU.
            profiled = args.profile_requests or max(200, args.requests // 4)
            for one in found[2:]:
                if args.only and args.only not in one.label:
                    continue
                print(f"\n{one.label}, under cProfile (inclusive µs per request):")
                for name, figure in profile(one, profiled, args.top):
                    print(f"  {name:<72} {figure:9.1f}")
    sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
