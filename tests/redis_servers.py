"""Redis servers and Sentinels of a test's own, on free loopback ports (Debian's ``redis-server`` and
``redis-sentinel``), that the test may stop, kill, pause or restart empty. The shared Redis on 6379, which the rest
of the suite uses, is never touched.

Outside CI, a missing binary skips the test with the reason; in CI (``CI=true``) it fails (``.ci/run`` installs
them).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from infra.unavailable import RETRY_AFTER
from tests.backends import unavailable
from tests.delivery_servers import free_port

MASTER = "elections"


def require(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/bin/{binary}" if Path(f"/usr/bin/{binary}").exists() else None)
    if path is None:
        unavailable(f"{binary} is not installed (Debian package {binary})")
    assert path is not None
    return path


def wait_until(predicate: object, timeout: float, what: str) -> float:
    """Poll ``predicate`` (a callable returning truthy) every 50 ms; return the seconds it took, fail after
    ``timeout``."""
    assert callable(predicate)
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except Exception:  # not ready yet: the server is starting or failing over
            pass
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class RedisServer:
    """One ``redis-server`` on 127.0.0.1 (no persistence: a restart starts empty, like a lost cache)."""

    def __init__(self, directory: Path, *, replica_of: RedisServer | None = None, args: tuple[str, ...] = ()) -> None:
        self.binary = require("redis-server")
        self.port = free_port()
        self.directory = directory / f"redis-{self.port}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.replica_of = replica_of
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def start(self) -> RedisServer:
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if self.replica_of is not None:
            command += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
        self.process = subprocess.Popen([*command, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.client().ping(), 10, f"redis-server on port {self.port}")
        return self

    def replicas_online(self) -> int:
        """Replicas connected and in sync (past their initial synchronisation)."""
        info = self.client().info("replication")
        return sum(
            1
            for name, value in info.items()
            if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
        )

    def wait_for_replicas(self, count: int = 1) -> None:
        wait_until(lambda: self.replicas_online() >= count, 15, f"{count} replica(s) in sync with port {self.port}")

    def stop(self) -> None:
        """Stop it (SIGTERM) and wait: connections are refused from then on."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def kill(self) -> None:
        """``kill -9``: the process vanishes without a word to its clients or replicas."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def pause(self) -> None:
        """SIGSTOP: it accepts connections (the kernel does) but never answers, like a server that hangs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart_empty(self) -> None:
        """Start again on the same port, with no data (no persistence)."""
        self.stop()
        self.start()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.kill()


class SentinelGroup:
    """Three ``redis-sentinel`` processes monitoring ``primary`` under :data:`MASTER` (quorum 2), quick to decide
    (down after 1 s) so that a test sees a failover in a few seconds."""

    def __init__(self, directory: Path, primary: RedisServer, *, count: int = 3) -> None:
        self.binary = require("redis-sentinel")
        self.ports = [free_port() for _ in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for port in self.ports:
            config = directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\n"
                "bind 127.0.0.1\n"
                f"dir {directory}\n"
                f"logfile {directory / f'sentinel-{port}.log'}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            self.processes.append(
                subprocess.Popen([self.binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        for port in self.ports:
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)
            wait_until(client.ping, 10, f"redis-sentinel on port {port}")
        # Every Sentinel knows the replica (learnt from the primary) before a test kills anything.
        wait_until(lambda: all(self._sees_replicas(port) for port in self.ports), 15, "sentinels see the replica")

    @staticmethod
    def _sees_replicas(port: int) -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)
        return bool(client.sentinel_slaves(MASTER))

    @property
    def addresses(self) -> str:
        """The value of ``*_REDIS_SENTINELS``."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def primary_port(self) -> int:
        client = redis.Redis(host="127.0.0.1", port=self.ports[0], socket_timeout=2, decode_responses=True)
        _, port = client.sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, started."""
    server = RedisServer(tmp_path).start()
    yield server
    server.close()


def assert_unavailable_page(response: object, started: float) -> None:
    """The French 503 page of infra.unavailable, answered within 2 s of ``started``."""
    assert time.monotonic() - started < 2, "answered within 2 s"
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == str(RETRY_AFTER)  # type: ignore[attr-defined]
    assert response.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]
    assert response.mimetype == "text/html"  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Service momentanément indisponible" in page
    assert "Réessayez dans quelques instants" in page
    assert "Traceback" not in page and "Internal Server Error" not in page
