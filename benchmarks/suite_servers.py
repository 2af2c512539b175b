"""The suite in its production shape on this machine, for the journey benchmark and whoever drives load at it.

:func:`deployment` starts, in this order, and stops everything at the end (nothing outlives the run):

- **storage**: throw-away SQLite files; or PostgreSQL + Redis. ``postgres="private"`` starts a PostgreSQL cluster
  of the run's own (``initdb`` in a temporary directory, ``pg_stat_statements`` preloaded, as user ``postgres`` when
  run as root), so that every PostgreSQL process's CPU and every statement counts for the suite alone; a server URL
  instead creates two scratch databases there (CPU: the backends connected to them). Redis is always a private
  ``redis-server`` on a free port (append-only file as in docker-compose), so its CPU and its command statistics
  are the suite's alone.
- **data**: both schemas migrated, the IdP's signing keys, the portal registered as its first-party client, ``voters``
  fictitious activated voters (one argon2id hash at the production parameters shared by all: same cost to verify,
  minutes less to provision) each with a vote code, and one open scrutin ``BENCH`` with three lists whose roll is
  those voters.
- **processes**: the IdP and the portal under the chosen web server (:data:`SERVERS`; several workers), the IdP's
  delivery worker and back-channel logout sender, the portal's outbox worker and its ballot-box mixer (every
  ``mix_interval`` seconds, as in docker-compose); ``background=False`` leaves those four out (a run that reads
  neither their work nor their CPU: each costs an interpreter and the app's import, about 2.5 s of CPU).

Configuration is production's (argon2id parameters, audit chains, lifetimes, CSRF, server-side sessions) except
``*_ENV=testing``: plain http on loopback, and the fixed CAPTCHA of tests (``IDP_CAPTCHA_BACKEND=fixed:12345``; the
image is still drawn for every challenge). The per-address lockout thresholds are raised: every voter here comes
from 127.0.0.1.

:class:`Deployment` gives the addresses, the voters (:class:`benchmarks.journey_load.Voter`), the processes by role
(:meth:`Deployment.roles`) and the server logs (``logs_dir``; kept with ``keep_logs`` for ``grep``).
:class:`Usage` reads CPU time (nanoseconds, ``/proc/<pid>/task/*/schedstat``) and peak resident memory (``VmHWM``)
of every process of each role.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks.audit_append import postgres_database
from benchmarks.journey_load import Target, Voter
from benchmarks.oidc_servers import _children, _die_with_parent, _stop, _wait_http, free_port
from benchmarks.web_servers import SERVERS, WebServer
from infra import web_server

REPO = Path(__file__).resolve().parents[1]
CAPTCHA = "12345"
PASSWORD = "correct horse battery staple 42"  # fictitious: the benchmark's voters only
SCRUTIN = "BENCH"
PG_BIN = Path("/usr/lib/postgresql")


# --- CPU and memory of processes -------------------------------------------------------------------------------------


def task_cpu_ns(pid: int) -> dict[int, int]:
    """CPU nanoseconds used so far by each live thread of ``pid``, by thread id (scheduler statistics: nanoseconds,
    not 10 ms ticks).

    A thread that exits takes its time with it (granian ends its idle threads): compare two readings thread by
    thread (:class:`Usage`), never as sums, or a thread that ended in between counts as negative time.
    """
    found: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                found[int(task.name)] = int((task / "schedstat").read_text().split()[0])
    return found


def peak_rss_kib(pid: int) -> int:
    """Peak resident memory of ``pid`` (``VmHWM``, KiB), 0 if it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, frontier = [pid], [pid]
    while frontier:
        children = [c for p in frontier for c in _children(p)]
        found += children
        frontier = children
    return found


def terminate_all(deployment: Deployment) -> None:
    """``SIGTERM`` to every process of ``deployment`` at once, before its exit stops them one after the other
    (waiting for each): the run then ends in the time of the longest stop, not of their sum."""
    for process in deployment.processes.values():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)


@dataclass
class Usage:
    """CPU nanoseconds per role between :meth:`start` and :meth:`stop` (thread by thread), and each process's peak
    memory."""

    roles: Callable[[], dict[str, list[int]]]
    #: Role → thread id → CPU nanoseconds, at :meth:`start` and at :meth:`stop`.
    before: dict[str, dict[int, int]] = field(default_factory=dict)
    after: dict[str, dict[int, int]] = field(default_factory=dict)
    peaks: dict[str, dict[int, int]] = field(default_factory=dict)

    def _read(self) -> dict[str, dict[int, int]]:
        return {
            role: {t: ns for pid in pids for t, ns in task_cpu_ns(pid).items()} for role, pids in self.roles().items()
        }

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> None:
        self.after = self._read()
        self.peaks = {role: {pid: peak_rss_kib(pid) for pid in pids} for role, pids in self.roles().items()}

    def seconds(self, role: str) -> float:
        """CPU seconds of ``role`` in the window, thread by thread (a thread born in between counts from zero; one
        that ended in between is left out: what it used in the window is lost, what it used before is not)."""
        before = self.before.get(role, {})
        return sum(ns - before.get(tid, 0) for tid, ns in self.after.get(role, {}).items()) / 1e9


# --- storage -------------------------------------------------------------------------------------------------------


@dataclass
class Storage:
    label: str
    idp_url: str
    portal_url: str
    redis_url: str | None = None
    #: Processes of the database server working for the suite, and of Redis.
    database_pids: Callable[[], list[int]] = list
    redis_pid: int | None = None
    #: Statements run so far per database (pg_stat_statements), when known.
    statements: Callable[[], dict[str, int]] | None = None
    reset_statements: Callable[[], None] | None = None


def _as_postgres_user() -> Callable[[], None] | None:
    """PostgreSQL refuses to run as root: the cluster's commands then run as the ``postgres`` system user."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")

    def drop() -> None:
        _die_with_parent()
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return drop


def _pg_bindir() -> Path:
    versions = sorted((p for p in PG_BIN.glob("*/bin/initdb")), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install -y postgresql)")
    return versions[-1].parent


@contextlib.contextmanager
def private_postgres() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A PostgreSQL cluster of the run's own on a free loopback port, trust auth; yields (server URL, postmaster)."""
    with tempfile.TemporaryDirectory(prefix="journey-bench-pg-") as tmp, _private_postgres(Path(tmp)) as found:
        yield found


@contextlib.contextmanager
def _private_postgres(directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    bindir = _pg_bindir()
    data, sockets = directory / "pgdata", directory / "pgsock"
    sockets.mkdir()
    drop = _as_postgres_user()
    if drop is not None:
        entry = pwd.getpwnam("postgres")
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        os.chown(sockets, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        preexec_fn=drop,
    )
    port = free_port()
    log = directory / "postgres.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(sockets),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "shared_preload_libraries=pg_stat_statements",
                "-c",
                "pg_stat_statements.track=all",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=drop or _die_with_parent,
            start_new_session=True,
        )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                engine = create_engine(url, poolclass=NullPool)
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                engine.dispose()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield url, process
    finally:
        _stop(process)


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``redis-server`` of the run's own: append-only file (``everysec``), ``noeviction``, as in docker-compose."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        client.close()
        yield url, process
    finally:
        _stop(process)


def redis_commands(url: str) -> int:
    """Commands Redis ran since its statistics were reset (``INFO commandstats``), ``info``/``config`` aside."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if not name.startswith(("cmdstat_info", "cmdstat_config", "cmdstat_ping"))
    )


def reset_redis_stats(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.config_resetstat()
    finally:
        client.close()


@contextlib.contextmanager
def storage(postgres: str | None, directory: Path) -> Iterator[Storage]:
    """SQLite (``postgres`` None), a private PostgreSQL cluster (``"private"``) or scratch databases on a server."""
    if postgres is None:
        yield Storage(
            "SQLite",
            f"sqlite:///{directory / 'idp.sqlite3'}",
            f"sqlite:///{directory / 'portal.sqlite3'}",
        )
        return
    with contextlib.ExitStack() as stack:
        redis_dir = directory / "redis"
        redis_dir.mkdir()
        redis_url, redis_process = stack.enter_context(private_redis(redis_dir))
        if postgres == "private":
            server, postmaster = stack.enter_context(private_postgres())
            admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE idp"))
                conn.execute(text("CREATE DATABASE portal"))
                conn.execute(text("CREATE EXTENSION pg_stat_statements"))
            for name in ("idp", "portal"):
                engine = create_engine(make_url(server).set(database=name), poolclass=NullPool)
                with engine.begin() as conn:
                    conn.execute(text("CREATE EXTENSION pg_stat_statements"))
                engine.dispose()

            def statements() -> dict[str, int]:
                with admin.connect() as conn:
                    rows = conn.execute(
                        text(
                            "SELECT d.datname, sum(s.calls) FROM pg_stat_statements s "
                            "JOIN pg_database d ON d.oid = s.dbid "
                            "WHERE d.datname IN ('idp', 'portal') GROUP BY d.datname"
                        )
                    ).all()
                return {str(name): int(calls) for name, calls in rows}

            def reset() -> None:
                with admin.connect() as conn:
                    conn.execute(text("SELECT pg_stat_statements_reset()"))

            stack.callback(admin.dispose)
            yield Storage(
                "PostgreSQL + Redis",
                make_url(server).set(database="idp").render_as_string(hide_password=False),
                make_url(server).set(database="portal").render_as_string(hide_password=False),
                redis_url,
                lambda: process_tree(postmaster.pid),
                redis_process.pid,
                statements,
                reset,
            )
            return
        idp_db = stack.enter_context(postgres_database(postgres))
        portal_db = stack.enter_context(postgres_database(postgres))
        names = [make_url(idp_db).database, make_url(portal_db).database]

        def backends() -> list[int]:
            engine = create_engine(postgres, poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    found = conn.execute(
                        text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:names)"), {"names": names}
                    ).scalars()
                    return [int(pid) for pid in found if Path(f"/proc/{pid}").exists()]
            finally:
                engine.dispose()

        yield Storage("PostgreSQL + Redis", idp_db, portal_db, redis_url, backends, redis_process.pid)


# --- data ----------------------------------------------------------------------------------------------------------


def idp_environment(port: int, store: Storage) -> dict[str, str]:
    env = {
        "IDP_ENV": "testing",
        "IDP_SECRET_KEY": "bench-secret-key-not-a-secret-0123456789abcdef",
        "IDP_HMAC_KEY": "bench-hmac-key-not-a-secret-0123456789abcdef",
        "IDP_KEY_ENCRYPTION_KEY": "bench-kek-not-a-secret-0123456789abcdef01234",
        "IDP_CAPTCHA_BACKEND": f"fixed:{CAPTCHA}",
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDP_DATABASE_URL": store.idp_url,
        "IDP_LOCKOUT_THRESHOLD": "1000000000",
        "IDP_IP_FAILURE_THRESHOLD": "1000000000",
        "IDP_PLUGINS": "reassort",
        "IDP_MAIL_BACKEND": "outbox",
        "IDP_SMS_BACKEND": "outbox",
    }
    if store.redis_url:
        env.update(IDP_REDIS_URL=store.redis_url, IDP_REDIS_PREFIX="idp:")
    return env


def portal_environment(port: int, idp_port: int, store: Storage, client_secret: str) -> dict[str, str]:
    env = {
        "PORTAL_ENV": "testing",
        "PORTAL_SECRET_KEY": "bench-portal-secret-key-not-a-secret-0123456789",
        "PORTAL_DATABASE_URL": store.portal_url,
        "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PORTAL_IDP_ISSUER": f"http://127.0.0.1:{idp_port}",
        "PORTAL_CLIENT_ID": "portail-elections",
        "PORTAL_CLIENT_SECRET": client_secret,
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": "9",  # nothing is mailed during a journey; the worker polls its empty outbox
    }
    if store.redis_url:
        env.update(PORTAL_REDIS_URL=store.redis_url.rsplit("/", 1)[0] + "/1")
    return env


def provision_idp(
    env: dict[str, str], portal_url: str, identifiers: list[str], backchannel_logout_uri: str | None = None
) -> tuple[str, list[str]]:
    """Migrate, keys, the portal's registration, the voters (activated) and their vote codes: (secret, codes).

    ``backchannel_logout_uri``: where the IdP posts the portal's logout notices (default: the portal's own route;
    the fault benchmark puts a relay it can cut in between)."""
    from idp import create_app
    from idp.db import get_db, make_engine
    from idp.migrate import upgrade
    from idp.models import Voter, utcnow
    from idp.oidc import clients
    from idp.oidc.clients import ClientSettings
    from idp.oidc.provider import get_provider
    from idp.security.hashing import SecretHasher
    from idp.security.keyed import KeyedHasher
    from idp.security.normalise import normalise_answer
    from idp.votecode.service import issue_code

    engine = make_engine(env["IDP_DATABASE_URL"])
    upgrade(engine)
    engine.dispose()
    app = create_app(environ=env)
    cfg = app.config
    hasher = SecretHasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    keyed = KeyedHasher(cfg["HMAC_KEY"])
    password_hash = hasher.hash(PASSWORD)
    answer_hash = hasher.hash(normalise_answer("Les Canaris de Nulle-Part"))
    codes: list[str] = []
    try:
        with app.app_context():
            with get_db(app).transaction() as session:
                get_provider(app).keys.init(session)
                settings = ClientSettings(
                    client_name="Portail Élections",
                    client_id="portail-elections",
                    redirect_uris=[f"{portal_url}/connexion/retour"],
                    post_logout_redirect_uris=[f"{portal_url}/deconnexion/fin"],
                    backchannel_logout_uri=backchannel_logout_uri or f"{portal_url}/backchannel-logout",
                    scope="openid profile email academie",
                    first_party=True,
                )
                _, secret = clients.create(session, settings, cfg, allow_http=True)
            now = utcnow()
            for start in range(0, len(identifiers), 500):
                batch = identifiers[start : start + 500]
                with get_db(app).transaction() as session:
                    session.execute(
                        insert(Voter),
                        [
                            {
                                "identifier": identifier,
                                "family_name": "TESTEUR",
                                "first_names": "Camille",
                                "birth_date": dt.date(1985, 7, 21),
                                "birthplace": "21231",
                                "gender": "F",
                                "academie": "exemple",
                                "numen_hash": keyed.digest("numen", f"12A{n:07d}ABC"),
                                "nir_hash": keyed.digest("nir", "2850721231"),
                                "password_hash": password_hash,
                                "challenge_question": "football_team",
                                "challenge_answer_hash": answer_hash,
                                "activated_at": now,
                            }
                            for n, identifier in enumerate(batch, start)
                        ],
                    )
                    voters = session.execute(select(Voter).where(Voter.identifier.in_(batch))).scalars().all()
                    by_identifier = {v.identifier: v for v in voters}
                    codes += [issue_code(session, by_identifier[i], "notice", hasher=keyed) for i in batch]
    finally:
        get_db(app).dispose()
    assert secret is not None
    return secret, codes


def provision_portal(env: dict[str, str], identifiers: list[str]) -> None:
    from relying_party.ceremony.demo import THROWAWAY, ensure_demo_ceremony
    from relying_party.db import Database
    from relying_party.elections.importer import import_document
    from relying_party.migrate import upgrade
    from relying_party.models import utcnow

    database = Database(env["PORTAL_DATABASE_URL"])
    try:
        upgrade(database.engine)
        now = utcnow()
        document = {
            "version": 1,
            "scrutins": [
                {
                    "code": SCRUTIN,
                    "label": "Scrutin de mesure",
                    "kind": "csa_academique",
                    "opens_at": (now - dt.timedelta(days=1)).isoformat(),
                    "closes_at": (now + dt.timedelta(days=7)).isoformat(),
                    "lists": [
                        {
                            "position": p,
                            "organisation": f"Organisation fictive {p}",
                            "candidates": [
                                {"civility": "Mme", "family_name": f"CANDIDATE{p}", "given_name": "Alice"},
                                {"civility": "M.", "family_name": f"CANDIDAT{p}", "given_name": "Bruno"},
                            ],
                        }
                        for p in (1, 2, 3)
                    ],
                    "roll": [
                        {"identifier": identifier, "display_name": f"Mme TESTEUR Camille {n}"}
                        for n, identifier in enumerate(identifiers)
                    ],
                }
            ],
        }
        report = import_document(database, document, Path("."), max_pdf_bytes=1)
        if not report.ok:
            raise RuntimeError(f"election import failed: {report.errors}")
        # The scrutin's election key: the demo's ceremony (fictitious trustees; their files are not needed after it,
        # so their keys are derived at the cheapest cost: 15 derivations, 0.1 s of CPU instead of 0.75 s).
        with tempfile.TemporaryDirectory(prefix="portal-bench-keys-") as keys:
            ensure_demo_ceremony(database, Path(keys), [SCRUTIN], now, THROWAWAY)
    finally:
        database.engine.dispose()


# --- processes -----------------------------------------------------------------------------------------------------


@dataclass
class Deployment:
    storage: Storage
    server: WebServer
    idp_url: str
    portal_url: str
    voters: list[Voter]
    logs_dir: Path
    processes: dict[str, subprocess.Popen[bytes]]
    idp_env: dict[str, str]
    portal_env: dict[str, str]
    #: How each process was started (argv, environment), to start it again after a fault killed it.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    #: Each app's web processes behind the public address: app (``idp``, ``portal``) → [(process name, port)]; one
    #: replica named as the app without a proxy, two (``idp``, ``idp-2``) with one.
    replicas: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: With ``proxied``: Caddy's admin API (``http://127.0.0.1:port``), in front of every replica.
    proxy_admin: str | None = None

    def drain_file(self, name: str) -> Path:
        """The drain file of web process ``name`` (its ``*_DRAIN_PATH``): while it exists, ``/readyz`` answers 503."""
        return self.logs_dir.parent / "drain" / name

    def start_again(self, name: str) -> subprocess.Popen[bytes]:
        """Start process ``name`` again as it was (what a supervisor's restart policy does); the caller stops it."""
        argv, env = self.commands[name]
        process = _start(argv, env, self.logs_dir / f"{name}.log")
        self.processes[name] = process
        return process

    def target(self, **options: float) -> Target:
        return Target(self.portal_url, self.idp_url, SCRUTIN, CAPTCHA, **options)

    def roles(self) -> dict[str, list[int]]:
        """Processes by role: the IdP's and the portal's web servers (master and workers), the background workers,
        the database server's processes working for the suite, Redis."""
        found = {name: process_tree(process.pid) for name, process in self.processes.items()}
        found["postgresql"] = self.storage.database_pids()
        if self.storage.redis_pid is not None:
            found["redis"] = [self.storage.redis_pid]
        return {name: pids for name, pids in found.items() if pids}

    def check_ballot_box(self, receipts: dict[str, str]) -> list[str]:
        """Problems found comparing the receipts the voters were shown with the portal's database (none: [])."""
        from relying_party.db import Database
        from relying_party.models import Ballot, Emargement
        from votecrypto.ballot import display_code

        problems = []
        database = Database(self.storage.portal_url)
        try:
            with database.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    # One snapshot for both counts: under load, a ballot and its émargement commit in between.
                    conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                ballots = [display_code(bytes(c)) for c in conn.execute(select(Ballot.tracking_code)).scalars()]
                emargements = conn.execute(select(Emargement.voter_identifier)).scalars().all()
        finally:
            database.engine.dispose()
        in_box = {receipt: 0 for receipt in ballots}
        for receipt in ballots:
            in_box[receipt] += 1
        for receipt in receipts:
            if in_box.get(receipt) != 1:
                problems.append(f"receipt {receipt} is in the box {in_box.get(receipt, 0)} times")
        marked: dict[str, int] = {}
        for voter in emargements:
            marked[voter] = marked.get(voter, 0) + 1
        for voter in set(receipts.values()):
            if marked.get(voter) != 1:
                problems.append(f"{voter} has {marked.get(voter, 0)} émargements")
        if len(ballots) != len(emargements):
            problems.append(f"{len(ballots)} ballots but {len(emargements)} émargements")
        if len(ballots) != len(receipts):
            problems.append(f"{len(ballots)} ballots but {len(receipts)} receipts shown")
        return problems


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            argv,
            env={**os.environ, **env},
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def caddy_environment(
    directory: Path, admin_port: int, sites: dict[str, int], upstreams: dict[str, list[int]]
) -> dict[str, str]:
    """The environment that makes deploy/Caddyfile serve plain http on loopback ports (``sites``: SITE_IDP → port)
    in front of these upstream ports (``upstreams``: IDP_UPSTREAMS → ports), its admin API on ``admin_port``, its
    state in ``directory``: the production file, only its addresses changed."""
    return {
        "CADDY_ADMIN": f"127.0.0.1:{admin_port}",
        **{name: f"http://127.0.0.1:{port}" for name, port in sites.items()},
        **{name: " ".join(f"127.0.0.1:{port}" for port in ports) for name, ports in upstreams.items()},
        "XDG_DATA_HOME": str(directory / "data"),
        "XDG_CONFIG_HOME": str(directory / "config"),
        "HOME": str(directory),
    }


def caddy_argv() -> list[str]:
    caddy = shutil.which("caddy")
    if caddy is None:
        raise RuntimeError("caddy is not installed (apt-get install -y caddy)")
    return [caddy, "run", "--adapter", "caddyfile", "--config", str(REPO / "deploy" / "Caddyfile")]


@contextlib.contextmanager
def deployment(
    *,
    postgres: str | None,
    voters: int,
    server: str = "gthread",
    workers: int | None = None,
    threads: int = web_server.THREADS,
    portal_workers: int | None = None,
    mix_interval: int = 300,
    extra_env: dict[str, str] | None = None,
    keep_logs: Path | None = None,
    store: Storage | None = None,
    extra_args: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    proxied: bool = False,
    background: bool = True,
) -> Iterator[Deployment]:
    """The whole suite, provisioned and running; stopped and removed on exit (see the module docstring).

    ``store``: storage the caller started and will stop (the fault benchmark's clusters, replicas and Sentinels)
    instead of :func:`storage`'s; ``extra_args``: more options for both web servers. ``proxied``: as docker-compose
    runs it, two replicas of each app (``idp`` and ``idp-2``, ``portal`` and ``portal-2``, each with its drain
    file) behind Caddy running deploy/Caddyfile, whose addresses are the public ones (the apps trust its
    ``X-Forwarded-*``; the portal calls the IdP through it too)."""
    web = SERVERS[server]
    workers = web_server.workers_for() if workers is None else workers
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="journey-bench-")))
        logs = directory / "logs"
        logs.mkdir()
        if keep_logs is not None:
            stack.callback(lambda: shutil.copytree(logs, keep_logs, dirs_exist_ok=True))
        if store is None:
            store = stack.enter_context(storage(postgres, directory))
        idp_port, portal_port = free_port(), free_port()
        idp_url, portal_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{portal_port}"
        identifiers = [f"electeur.mesure{n}@ac-exemple.fr" for n in range(voters)]
        idp_env = {**idp_environment(idp_port, store), **(extra_env or {})}
        secret, codes = provision_idp(idp_env, portal_url, identifiers, backchannel_logout_uri)
        portal_env = {**portal_environment(portal_port, idp_port, store, secret), **(extra_env or {})}
        provision_portal(portal_env, identifiers)
        py = sys.executable
        names = {"idp": ["idp", "idp-2"], "portal": ["portal", "portal-2"]} if proxied else {}
        replicas = {
            app: [(name, free_port()) for name in names[app]] if proxied else [(app, port)]
            for app, port in (("idp", idp_port), ("portal", portal_port))
        }
        (directory / "drain").mkdir()
        apps = {"idp": ("idp:create_app", workers, idp_env), "portal": ("relying_party:create_app", None, portal_env)}
        commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        for app, (factory, count, env) in apps.items():
            prefix = "IDP_" if app == "idp" else "PORTAL_"
            for name, port in replicas[app]:
                argv = [*web.argv(factory, port, count or portal_workers or workers, threads), *(extra_args or [])]
                own = {**env, f"{prefix}DRAIN_PATH": str(directory / "drain" / name)}
                if proxied:
                    own[f"{prefix}TRUSTED_PROXIES"] = "1"
                commands[name] = (argv, own)
        proxy_admin = None
        if proxied:
            admin = free_port()
            proxy_admin = f"http://127.0.0.1:{admin}"
            (directory / "caddy").mkdir()
            caddy_env = caddy_environment(
                directory / "caddy",
                admin,
                {"SITE_IDP": idp_port, "SITE_PORTAL": portal_port, "SITE_CONSOLE": free_port(), "SITE_FC": free_port()},
                {
                    "IDP_UPSTREAMS": [port for _, port in replicas["idp"]],
                    "PORTAL_UPSTREAMS": [port for _, port in replicas["portal"]],
                },
            )
            commands["proxy"] = (caddy_argv(), caddy_env)
        commands |= (
            {}
            if not background
            else {
                "idp-worker": ([py, "-m", "idp.cli", "deliver", "--interval", "1"], idp_env),
                "idp-logouts": ([py, "-m", "idp.cli", "oidc", "deliver-logouts"], idp_env),
                "portal-worker": ([py, "-m", "relying_party.cli", "deliver", "--loop", "--interval", "10"], portal_env),
                "portal-mixer": (
                    [
                        "sh",
                        "-c",
                        f"while :; do {py} -m relying_party.cli election mix >/dev/null || true; "
                        f"sleep {mix_interval}; done",
                    ],
                    portal_env,
                ),
            }
        )
        processes: dict[str, subprocess.Popen[bytes]] = {}
        for name, (argv, env) in commands.items():
            process = _start(argv, env, logs / f"{name}.log")
            processes[name] = process
            stack.callback(_stop, process)
        for app_replicas in replicas.values():  # each replica, its database and its store answer
            for name, port in app_replicas:
                _wait_http(f"http://127.0.0.1:{port}/healthz", processes[name], logs / f"{name}.log")
        if proxied:  # and Caddy routes to them
            _wait_http(f"{idp_url}/healthz", processes["proxy"], logs / "proxy.log")
            _wait_http(f"{portal_url}/healthz", processes["proxy"], logs / "proxy.log")
        yield Deployment(
            store,
            web,
            idp_url,
            portal_url,
            [Voter(i, PASSWORD, c) for i, c in zip(identifiers, codes, strict=True)],
            logs,
            processes,
            idp_env,
            portal_env,
            commands,
            replicas,
            proxy_admin,
        )


def stop_signal_handlers() -> None:
    """SIGTERM as KeyboardInterrupt, so that ``python -m benchmarks`` stopping a benchmark still stops its servers."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
