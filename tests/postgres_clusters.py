"""PostgreSQL clusters of a test's own, on free loopback ports (Debian's server binaries: ``initdb``, ``pg_ctl``,
``pg_basebackup``), that the test may restart, stop, kill or fail over to a streaming replica. The shared cluster on
5432, which the rest of the suite uses, is never touched.

The clusters live in a temporary directory of their own (not pytest's, which only root may enter) and run as the
``postgres`` system user when the tests run as root (PostgreSQL refuses root). Outside CI, missing binaries skip
the test with the reason; in CI (``CI=true``) they fail it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from tests.backends import unavailable
from tests.delivery_servers import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def bindir() -> Path:
    versions = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    if not versions:
        unavailable("PostgreSQL server binaries are not installed (Debian package postgresql)")
    return versions[-1].parent


def _as_postgres() -> Callable[[], None] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")

    def drop() -> None:
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return drop


class Cluster:
    """One PostgreSQL server (a primary, or a streaming standby of one) in ``directory``, trust authentication."""

    def __init__(self, directory: Path, *, settings: dict[str, str] | None = None) -> None:
        self.bin = bindir()
        self.directory = directory
        self.data = directory / f"data-{id(self)}"
        self.sockets = directory / "sockets"
        self.sockets.mkdir(exist_ok=True)
        self.port = free_port()
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.sockets),
            "port": str(self.port),
            "fsync": "on",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            **(settings or {}),
        }
        self._drop = _as_postgres()
        if self._drop is not None:
            entry = pwd.getpwnam("postgres")
            for path in (directory, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    # --- commands -----------------------------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(list(args), check=False, capture_output=True, preexec_fn=self._drop, timeout=120)
        if check and done.returncode != 0:
            pytest.fail(f"{Path(args[0]).name} failed: {done.stderr.decode(errors='replace')[-1500:]}")
        return done

    def _options(self) -> str:
        return " ".join(f"-c {name}={value}" for name, value in self.settings.items())

    def init(self) -> Cluster:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        return self

    def standby_of(self, primary: Cluster) -> Cluster:
        """A streaming replica of ``primary`` (``pg_basebackup -R``), not started."""
        self._run(
            str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        with (self.data / "postgresql.auto.conf").open("a") as auto:
            auto.write(f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres "
                       f"application_name={self.name}'\n")  # fmt: skip
        return self

    @property
    def name(self) -> str:
        return f"standby{self.port}"

    def start(self) -> Cluster:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / f"log-{self.port}"),
            "-o", self._options(), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m fast``: in-flight transactions are rolled back, connections closed."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / f"log-{self.port}"),
            "-o", self._options(), "-m", mode, "-w", "-t", "60", "restart",
        )  # fmt: skip

    def kill(self) -> None:
        """``kill -9`` of the postmaster and its children: the primary is lost, as with its machine."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            subprocess.run(["pkill", "-9", "-P", str(pid)], check=False)
            os.kill(pid, 9)

    def promote(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "promote")

    # --- access -------------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> Engine:
        return create_engine(self.url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def execute(self, sql: str) -> list[tuple[object, ...]]:
        engine = self.admin()
        try:
            with engine.connect() as conn:
                result = conn.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")


def multi_host_url(database: str, *clusters: Cluster) -> str:
    """The URL the apps follow a failover with: every host, and only the one that accepts writes is kept."""
    hosts = "&".join(f"host=127.0.0.1:{cluster.port}" for cluster in clusters)
    return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write"


@pytest.fixture(scope="session")
def cluster_directory() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="pytest-pg-clusters-"))
    directory.chmod(0o755)  # the postgres user goes through it to its clusters' directories
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def private_cluster(cluster_directory: Path) -> Iterator[Cluster]:
    """A PostgreSQL of the tests' own, shared by a session's tests that restart or stop it (each test leaves it
    running)."""
    directory = cluster_directory / "private"
    directory.mkdir()
    cluster = Cluster(directory).init().start()
    yield cluster
    cluster.destroy()
