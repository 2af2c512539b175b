"""The two OpenID Providers of ``benchmarks.oidc_throughput``, started as they run in production, and stopped.

* Our IdP under granian as deployed (:mod:`infra.web_server`), or gunicorn gthread, configured by ``IDP_*``
  variables, on a throw-away SQLite file or on a scratch PostgreSQL database (+ Redis under a prefix of
  its own). The database is migrated and given signing keys, one first-party confidential client and a few
  fictitious voters by the functions the tests use, before gunicorn starts.
* panva's node-oidc-provider (``benchmarks/node/oidc_provider_bench.mjs``, one process, in-memory store or Redis).

Each server reports the CPU time its processes used, read from ``/proc``: requests per CPU-second is the
throughput of one core, whatever share of the 2 cores the load generator took.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks.audit_append import postgres_database
from benchmarks.web_servers import SERVERS
from idp import create_app
from idp.db import get_db, make_engine
from idp.migrate import upgrade
from idp.oidc import clients
from idp.oidc.clients import ClientSettings
from idp.oidc.provider import get_provider
from tests.helpers import DEFAULT_PASSWORD, VoterFactory

REPO = Path(__file__).resolve().parents[1]
NODE_SCRIPT = Path(__file__).resolve().parent / "node" / "oidc_provider_bench.mjs"
NODE_PACKAGE = REPO / "interop" / "node_modules" / "oidc-provider" / "package.json"
#: The lock tests/idp/federation/node.py holds while ``npm ci`` rewrites interop/node_modules.
NPM_LOCK = Path(tempfile.gettempdir()) / f"portail-elections-npm-{os.getuid()}.lock"
REDIRECT_URI = "https://rp.exemple.fr/callback"
CAPTCHA = "12345"
#: The scope of the IdP's service client (client_credentials), declared in IDP_SERVICE_SCOPES.
SERVICE_SCOPE = "mesure:lecture"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def cpu_snapshot(pids: list[int]) -> dict[int, int]:
    """CPU ticks used so far by each of ``pids``."""
    return {pid: _cpu_ticks(pid) for pid in pids}


def cpu_between(before: dict[int, int], after: dict[int, int]) -> float:
    """Seconds of CPU used between two snapshots (a process born in between counts from zero)."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / _CLK_TCK


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} in {timeout:g} s: {log.read_text()[-2000:]}")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the benchmark process dies, even by SIGKILL (Linux prctl), so that
    no server outlives the run."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the whole process group (started with its own session): no worker outlives it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Server:
    """A running provider: where it answers, its client, and how much CPU its processes have used."""

    label: str
    base_url: str
    process: subprocess.Popen[bytes]
    client_id: str
    client_secret: str
    #: Identifiers of fictitious voters who can sign in with :data:`tests.helpers.DEFAULT_PASSWORD` (IdP only).
    voters: list[str] = field(default_factory=list)
    password: str = DEFAULT_PASSWORD
    #: Other processes working for this server only (the PostgreSQL backends of its scratch database).
    helper_pids: Callable[[], list[int]] = list
    #: Where the server writes its log (removed when it stops).
    log: Path | None = None
    #: The client the client_credentials grant is measured with (id, secret): node's one client; the IdP's service.
    service: tuple[str, str] | None = None

    @property
    def service_credentials(self) -> tuple[str, str]:
        return self.service or (self.client_id, self.client_secret)

    def log_tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def cpu(self) -> dict[int, int]:
        """A CPU snapshot of the server's process, its children (gunicorn's workers) and its helpers."""
        return cpu_snapshot([self.process.pid, *_children(self.process.pid), *self.helper_pids()])

    def discovery(self) -> dict[str, str]:
        response = requests.get(self.base_url + "/.well-known/openid-configuration", timeout=10)
        response.raise_for_status()
        document: dict[str, str] = response.json()
        return document


# --- our IdP ---------------------------------------------------------------------------------------------------------


@dataclass
class Database:
    """A throw-away database for the IdP: its label, the ``IDP_*`` variables naming it, and the processes of the
    database server working for it (their CPU counts as the IdP's)."""

    label: str
    env: dict[str, str]
    helper_pids: Callable[[], list[int]] = list
    #: What :func:`_provision` created in it (client id, secret, voters), once: servers started on it after the
    #: first one reuse them.
    provisioned: tuple[str, str, list[str], tuple[str, str]] | None = None


@contextlib.contextmanager
def idp_database(postgres: str | None, redis_url: str | None) -> Iterator[Database]:
    """A migrated throw-away database (SQLite file, or scratch PostgreSQL database + Redis prefix)."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'idp.sqlite3'}"
            _migrate(url)
            yield Database("SQLite", {"IDP_DATABASE_URL": url})
        return
    with postgres_database(postgres) as url:
        _migrate(url)
        backends = _postgres_backends(postgres, make_url(url).database or "")
        if redis_url is None:
            yield Database("PostgreSQL", {"IDP_DATABASE_URL": url}, backends)
            return
        prefix = f"idp-bench:{secrets.token_hex(6)}:"
        try:
            yield Database(
                "PG+Redis", {"IDP_DATABASE_URL": url, "IDP_REDIS_URL": redis_url, "IDP_REDIS_PREFIX": prefix}, backends
            )
        finally:
            _delete_prefix(redis_url, prefix)


def _postgres_backends(server_url: str, database: str) -> Callable[[], list[int]]:
    """The pids of the PostgreSQL backends connected to ``database``, when the server runs on this machine (its
    processes are then readable in /proc; otherwise their CPU is not counted)."""

    def pids() -> list[int]:
        engine = create_engine(server_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                found = (
                    conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": database})
                    .scalars()
                    .all()
                )
        finally:
            engine.dispose()
        return [int(pid) for pid in found if Path(f"/proc/{pid}").exists()]

    return pids


def _migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def idp_environment(port: int, database: dict[str, str]) -> dict[str, str]:
    """``IDP_ENV=testing`` for the fixed CAPTCHA the sign-in load needs; everything else as in production
    (argon2id at its production parameters, audit chains, lifetimes). Lockout thresholds are raised: thousands of
    sign-ins from one address would otherwise trip the per-address throttle, which is not what is measured."""
    return {
        "IDP_ENV": "testing",
        "IDP_SECRET_KEY": "bench-secret-key-not-a-secret-0123456789abcdef",
        "IDP_HMAC_KEY": "bench-hmac-key-not-a-secret-0123456789abcdef",
        "IDP_KEY_ENCRYPTION_KEY": "bench-kek-not-a-secret-0123456789abcdef01234",
        "IDP_CAPTCHA_BACKEND": f"fixed:{CAPTCHA}",
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDP_LOCKOUT_THRESHOLD": "1000000000",
        "IDP_IP_FAILURE_THRESHOLD": "1000000000",
        "IDP_SERVICE_SCOPES": SERVICE_SCOPE,
        **database,
    }


def _provision(env: dict[str, str], voters: int) -> tuple[str, str, list[str], tuple[str, str]]:
    """Signing keys, one client, one service (client_credentials) and ``voters`` fictitious voters, through the
    functions the tests use."""
    app = create_app(environ=env)
    try:
        with app.app_context(), get_db(app).transaction() as session:
            get_provider(app).keys.init(session)
        settings = ClientSettings(client_name="Banc de mesure", redirect_uris=[REDIRECT_URI], first_party=True)
        with app.app_context(), get_db(app).transaction() as session:
            client, secret = clients.create(session, settings, app.config, allow_http=True)
            client_id = client.client_id
            service_settings = ClientSettings(
                client_name="Service de mesure",
                redirect_uris=[],
                response_types=[],
                grant_types=["client_credentials"],
                scope=SERVICE_SCOPE,
            )
            service, service_secret = clients.create(session, service_settings, app.config)
            service_id = service.client_id
        assert secret is not None and service_secret is not None
        factory = VoterFactory(app)
        identifiers = [f"banc.mesure{n}@ac-exemple.fr" for n in range(voters)]
        for identifier in identifiers:
            factory.create(identifier)
    finally:
        get_db(app).dispose()
    return client_id, secret, identifiers, (service_id, service_secret)


#: The web servers the IdP can run under: granian as deployed (infra.web_server), and gunicorn gthread.
WEB_SERVERS = ("granian", "gthread")


def web_server_argv(server: str, port: int, workers: int, threads: int) -> list[str]:
    if server not in WEB_SERVERS:
        raise ValueError(f"unknown web server {server!r} (one of {', '.join(WEB_SERVERS)})")
    return SERVERS[server].argv("idp:create_app", port, workers, threads)


@contextlib.contextmanager
def idp_server(
    database: Database, label: str, *, workers: int, threads: int, voters: int, server: str = "granian"
) -> Iterator[Server]:
    port = free_port()
    env = idp_environment(port, database.env)
    if database.provisioned is None:
        database.provisioned = _provision(env, voters)
    client_id, secret, identifiers, service = database.provisioned
    with tempfile.TemporaryDirectory(prefix="idp-bench-server-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                web_server_argv(server, port, workers, threads),
                env={**os.environ, **env},
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            _wait_http(f"http://127.0.0.1:{port}/healthz", process, log)
            yield Server(
                label,
                f"http://127.0.0.1:{port}",
                process,
                client_id,
                secret,
                identifiers,
                helper_pids=database.helper_pids,
                log=log,
                service=service,
            )
        finally:
            _stop(process)


# --- node-oidc-provider ----------------------------------------------------------------------------------------------


def node_version() -> str | None:
    """The installed oidc-provider version, or None (``npm ci --prefix interop`` installs it)."""
    if not NODE_PACKAGE.exists():
        return None
    return str(json.loads(NODE_PACKAGE.read_text(encoding="utf-8"))["version"])


@contextlib.contextmanager
def node_server(redis_url: str | None = None) -> Iterator[Server]:
    """node-oidc-provider in one process, on its in-memory store, or on Redis (``redis_url``: keys under a prefix of
    their own, deleted afterwards) through ``benchmarks/node/redis_adapter.mjs``."""
    import fcntl
    import shutil

    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH")
    client_id, secret = "banc-de-mesure", secrets.token_urlsafe(32)
    prefix = f"node-bench:{secrets.token_hex(6)}:"
    config: dict[str, object] = {
        "client": {"client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT_URI},
        "account": {
            "id": "compte-fictif-1",
            "given_name": "Camille",
            "family_name": "TESTEUR",
            "email": "camille.testeur@ac-exemple.fr",
        },
    }
    if redis_url is not None:
        config["redis"] = {"url": redis_url, "prefix": prefix}
    store = "Redis" if redis_url else "memory"
    with tempfile.TemporaryDirectory(prefix="node-bench-") as tmp:
        log = Path(tmp) / "node.log"
        # Hold the npm lock while node loads its modules: a concurrent `npm ci` would empty node_modules.
        with NPM_LOCK.open("w") as lock, log.open("wb") as sink:
            fcntl.flock(lock, fcntl.LOCK_EX)
            process = subprocess.Popen(
                [node, str(NODE_SCRIPT), json.dumps(config)],
                stdout=subprocess.PIPE,
                stderr=sink,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            assert process.stdout is not None
            line = process.stdout.readline()
        try:
            if not line:
                process.wait(timeout=10)
                raise RuntimeError(f"node-oidc-provider did not start: {log.read_text()[-2000:]}")
            ready = json.loads(line)
            label = f"node-oidc-provider {ready['version']} {store}"
            yield Server(label, ready["issuer"], process, client_id, secret, log=log)
        finally:
            _stop(process)
            if process.stdout is not None:
                process.stdout.close()
            if redis_url is not None:
                _delete_prefix(redis_url, prefix)


def _delete_prefix(redis_url: str, prefix: str) -> None:
    store = redis.Redis.from_url(redis_url)
    try:
        keys = list(store.scan_iter(match=prefix + "*", count=1000))
        if keys:
            store.delete(*keys)
    finally:
        store.close()
