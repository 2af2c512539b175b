"""The components the fault benchmark breaks, each of the run's own on loopback: PostgreSQL (a primary, and a
synchronous streaming replica when a failover is on the programme), Redis (a primary, and a replica watched by three
Sentinels when a failover is on the programme), an SMTP server (aiosmtpd), the SMS gateway double, the FranceConnect
development provider, and a relay in front of the portal's back-channel logout route that can be cut.

The servers are the tests' (:mod:`tests.postgres_clusters`, :mod:`tests.redis_servers`,
:mod:`tests.delivery_servers`): the shared PostgreSQL on 5432 and Redis on 6379 are never touched. Every port is
one the kernel hands out (its ephemeral range), so no other program's fixed port is taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from benchmarks.oidc_servers import _stop, _wait_http
from benchmarks.suite_servers import Storage, process_tree
from tests.delivery_servers import SmsGateway, SmtpServer, free_port
from tests.postgres_clusters import Cluster, multi_host_url
from tests.redis_servers import MASTER, RedisServer, SentinelGroup

#: Connections the PostgreSQL clusters accept: two apps × their workers' pools, the workers, the checks.
MAX_CONNECTIONS = "300"


class TcpRelay:
    """Forwards connections from its port to ``upstream_port``; :meth:`cut` refuses them until :meth:`restore`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.forwarded = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the port and every connection through it: the receiver is down (connections refused)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.forwarded += 1
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(sock)


@dataclass
class Mail:
    """The SMTP server, stopped and started again on the same port; what it received across its restarts."""

    port: int = field(default_factory=free_port)
    servers: list[SmtpServer] = field(default_factory=list)
    running: SmtpServer | None = None

    def start(self) -> None:
        server = SmtpServer(port=self.port)
        server.__enter__()
        self.servers.append(server)
        self.running = server

    def stop(self) -> None:
        if self.running is not None:
            self.running.__exit__(None, None, None)
            self.running = None

    def received(self) -> list[tuple[str, str]]:
        """(recipient, text) of every message, in the order received."""
        found = []
        for server in self.servers:
            for message in server.received:
                body = message.message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                found += [(recipient, text) for recipient in message.rcpt_tos]
        return found


FC_CLIENT_ID = "portail-elections-idp-bench"
FC_CLIENT_SECRET = "secret-du-banc-d-essai-pas-un-secret-0123456789"  # fictitious: the benchmark's own provider


class FcProvider:
    """The FranceConnect development provider under gunicorn (one process: its store in memory), with the IdP as
    its client; :meth:`pause` makes it hang (accepting connections, answering nothing), :meth:`stop` takes it away."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def idp_environment(self) -> dict[str, str]:
        return {
            "IDP_FC_ENABLED": "true",
            "IDP_FC_ISSUER": self.issuer,
            "IDP_FC_CLIENT_ID": FC_CLIENT_ID,
            "IDP_FC_CLIENT_SECRET": FC_CLIENT_SECRET,
            "IDP_FC_HTTP_TIMEOUT": "4",
        }

    def start(self, idp_url: str, log: Path) -> None:
        clients = [
            {
                "client_id": FC_CLIENT_ID,
                "client_name": "Portail Élections (banc d'essai)",
                "client_secret": FC_CLIENT_SECRET,
                "redirect_uris": [f"{idp_url}/federation/franceconnect/callback"],
                "post_logout_redirect_uris": [f"{idp_url}/federation/franceconnect/logged-out"],
                "sector": "portail-elections.banc-d-essai",
            }
        ]
        env = {**os.environ, "FCDEV_ISSUER": self.issuer, "FCDEV_CLIENTS": json.dumps({"clients": clients})}
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"]
        argv += ["--threads", "4", "--no-control-socket", "fc_dev_provider:create_app()"]
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                argv, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        _wait_http(f"{self.issuer}/.well-known/openid-configuration", self.process, log)

    def pause(self) -> None:
        assert self.process is not None
        for pid in process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        for pid in process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            _stop(self.process)
            self.process = None


@dataclass
class Topology:
    """Everything the apps depend on, started; see the module docstring."""

    directory: Path
    postgres: Cluster
    standby: Cluster | None
    redis_nodes: list[RedisServer]
    sentinels: SentinelGroup | None
    mail: Mail
    sms: SmsGateway
    fc: FcProvider

    # --- what the apps are given -----------------------------------------------------------------------------------

    def database_url(self, name: str) -> str:
        if self.standby is None:
            return self.postgres.url(name)
        return multi_host_url(name, self.postgres, self.standby)

    def storage(self) -> Storage:
        primary = self.redis_primary()
        return Storage(
            "PostgreSQL + Redis" + (" (replicas, Sentinels)" if self.sentinels else ""),
            self.database_url("idp"),
            self.database_url("portal"),
            primary.url(0),
            lambda: self._postgres_pids(),
            None,
        )

    def environment(self) -> dict[str, str]:
        """Settings of both apps (their prefixes keep them apart) for these components."""
        env = {
            **self.fc.idp_environment(),
            "IDP_MAIL_BACKEND": "smtp",
            "IDP_SMTP_HOST": "127.0.0.1",
            "IDP_SMTP_PORT": str(self.mail.port),
            "IDP_SMTP_TIMEOUT": "5",
            "IDP_SMS_BACKEND": "http",
            "IDP_SMS_GATEWAY_URL": self.sms.url,
            "IDP_SMS_ACCOUNT_SID": self.sms.state.account_sid,
            "IDP_SMS_AUTH_TOKEN": self.sms.state.auth_token,
            "IDP_SMS_SENDER": "ELECTIONS",
            "PORTAL_SMTP_HOST": "127.0.0.1",
            "PORTAL_SMTP_PORT": str(self.mail.port),
        }
        if self.sentinels is not None:
            for prefix in ("IDP", "PORTAL"):
                env[f"{prefix}_REDIS_SENTINELS"] = self.sentinels.addresses
                env[f"{prefix}_REDIS_SENTINEL_MASTER"] = MASTER
                # A write is acknowledged once a replica has it (at most 200 ms): a failover then loses none.
                env[f"{prefix}_REDIS_WAIT_REPLICAS"] = "1"
        return env

    def messages(self) -> list[tuple[str, str]]:
        """(destination, text) of every e-mail and SMS that reached a voter."""
        sms = [(r.form.get("To", ""), r.form.get("Body", "")) for r in self.sms.requests]
        return self.mail.received() + sms

    # --- Redis -------------------------------------------------------------------------------------------------------

    def redis_primary(self) -> RedisServer:
        if self.sentinels is None:
            return self.redis_nodes[0]
        port = self.sentinels.primary_port()
        return next(node for node in self.redis_nodes if node.port == port)

    def redis_keys(self, pattern: str) -> int:
        client = self.redis_primary().client()
        try:
            return sum(1 for _ in client.scan_iter(match=pattern, count=1000))
        finally:
            client.close()

    def stop_redis(self) -> list[RedisServer]:
        """Stop every Redis data node (replicas first); returns them primary first, to be started in that order."""
        primary = self.redis_primary()
        ordered = [primary, *(node for node in self.redis_nodes if node is not primary)]
        for node in reversed(ordered):
            node.stop()
        return ordered

    def start_redis_empty(self, ordered: list[RedisServer]) -> None:
        primary, *replicas = ordered
        primary.replica_of = None
        primary.start()
        for replica in replicas:
            replica.replica_of = primary
            replica.start()
        if replicas:
            primary.wait_for_replicas(len(replicas))

    # --- PostgreSQL --------------------------------------------------------------------------------------------------

    def _postgres_pids(self) -> list[int]:
        pids = []
        for cluster in (self.postgres, self.standby):
            if cluster is None:
                continue
            pid_file = cluster.data / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                pids += process_tree(int(pid_file.read_text().split()[0]))
        return pids


@contextlib.contextmanager
def topology(*, replicas: bool) -> Iterator[Topology]:
    """Start every component (with a replica of PostgreSQL and of Redis, and Sentinels, if ``replicas``)."""
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-faults-")))
        directory.chmod(0o755)  # the postgres user goes through it to its clusters
        postgres = Cluster(directory, settings={"max_connections": MAX_CONNECTIONS}).init().start()
        stack.callback(postgres.destroy)
        postgres.execute("CREATE DATABASE idp")
        postgres.execute("CREATE DATABASE portal")
        standby = None
        if replicas:
            standby = Cluster(directory, settings={"max_connections": MAX_CONNECTIONS}).standby_of(postgres).start()
            stack.callback(standby.destroy)
            # After the standby's base backup, so that the promoted standby does not wait for a standby of its own.
            postgres.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            postgres.execute("SELECT pg_reload_conf()")
        primary = RedisServer(directory).start()
        stack.callback(primary.close)
        nodes = [primary]
        sentinels = None
        if replicas:
            replica = RedisServer(directory, replica_of=primary).start()
            stack.callback(replica.close)
            primary.wait_for_replicas()
            nodes.append(replica)
            sentinels = SentinelGroup(directory, primary)
            stack.callback(sentinels.close)
        mail = Mail()
        mail.start()
        stack.callback(mail.stop)
        sms = stack.enter_context(SmsGateway())
        # A client that gave up (the IdP's timeout) closes the connection before the late answer: not worth a trace.
        sms.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        fc = FcProvider()  # started once the IdP's address is known (its client registration names it)
        stack.callback(fc.stop)
        yield Topology(directory, postgres, standby, nodes, sentinels, mail, sms, fc)


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()
