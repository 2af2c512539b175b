"""Keep-alive on the proxy → application hop, in every file that sets it: the application holds an idle connection
longer than the proxy does, so that the proxy is always the side that closes it (infra/web_server.py says why).

The proxy's idle timeout is read from Caddy's own adaptation of deploy/Caddyfile (``caddy adapt``: the JSON Caddy
would run), the applications' from the commands of docker-compose.yml, the Dockerfile and ``make demo``. Then a
real granian, started with those options, shows that the figure means what the files say: its header-read timeout is
how long it keeps an idle connection (``make test``, with a timeout of 3 s), and with the deployment's own figure a
connection idle for longer than the proxy's timeout is still served (``make test-long``: it idles 32 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import web_server

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
WEB_SERVICES = {"idp-1": "idp:create_app", "portal-1": "relying_party:create_app", "fc-dev-provider": None}


def _option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {' '.join(argv)}"
    return argv[argv.index(name) + 1]


def app_keep_alive(argv: list[str]) -> float:
    """Seconds granian keeps an idle HTTP/1 connection: its header-read timeout (milliseconds on the command line)."""
    assert "granian" in argv[0] or argv[:3] == [sys.executable, "-m", "granian"], argv
    assert "--no-http1-keep-alive" not in argv
    return int(_option(argv, "--http1-header-read-timeout")) / 1000


def compose_command(service: str) -> list[str]:
    spec = COMPOSE["services"][service]
    if "command" not in spec:  # the IdP replicas take the x-idp anchor's command
        spec = COMPOSE["x-idp"]
    command = spec["command"]
    return command if isinstance(command, list) else shlex.split(command)


def dockerfile_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = text[text.index("\nCMD ") + 5 :].replace("\\\n", " ")
    return list(json.loads(cmd.splitlines()[0]))


def caddy_idle_timeouts() -> dict[str, float]:
    """Upstream → seconds Caddy keeps an idle connection to it, from ``caddy adapt`` of deploy/Caddyfile."""
    if shutil.which("caddy") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("caddy is not installed (.ci/run installs it)")
        pytest.skip("caddy is not installed (apt-get install -y caddy)")
    adapted = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", str(ROOT / "deploy" / "Caddyfile")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HOME": str(ROOT)},
    )
    found: dict[str, float] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("handler") == "reverse_proxy":
                idle_ns = node.get("transport", {}).get("keep_alive", {}).get("idle_timeout")
                for upstream in node["upstreams"]:
                    # Caddy's default when unset is 2 minutes: longer than any application's here, so a failure.
                    found[upstream["dial"]] = idle_ns / 1e9 if idle_ns else 120.0
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(adapted.stdout))
    return found


def test_the_settings_module_keeps_the_app_longer_than_the_proxy() -> None:
    assert web_server.APP_KEEP_ALIVE > web_server.PROXY_KEEP_ALIVE
    # granian accepts at most 60 s for its header-read timeout.
    assert web_server.APP_KEEP_ALIVE <= 60


def test_every_proxied_application_outlasts_the_proxy() -> None:
    proxy = caddy_idle_timeouts()
    assert set(proxy) == {
        "idp-1:8000",
        "idp-2:8000",
        "portal-1:8000",
        "portal-2:8000",
        "operator-console:8000",
        "fc-dev-provider:5002",
    }
    assert set(proxy.values()) == {web_server.PROXY_KEEP_ALIVE}
    for dial, idle in proxy.items():
        service = dial.split(":")[0]
        argv = compose_command(service)
        assert argv[-1].endswith(":create_app"), argv
        assert _option(argv, "--port") == dial.split(":")[1]
        assert app_keep_alive(argv) == web_server.APP_KEEP_ALIVE > idle, service


def test_the_image_and_the_demo_serve_with_the_same_keep_alive() -> None:
    from idp import demo

    image = dockerfile_command()
    assert image == web_server.granian_argv("idp:create_app", host="0.0.0.0", port=8000, workers=3, threads=4)
    assert app_keep_alive(image) == web_server.APP_KEEP_ALIVE
    for service, factory in WEB_SERVICES.items():
        argv = compose_command(service)
        expected_factory = factory or "fc_dev_provider:create_app"
        workers = int(_option(argv, "--workers"))
        port = int(_option(argv, "--port"))
        assert argv == web_server.granian_argv(expected_factory, host="0.0.0.0", port=port, workers=workers, threads=4)
    demo_argv = demo._web("idp:create_app", 22999)
    assert app_keep_alive(demo_argv) == web_server.APP_KEEP_ALIVE


def test_every_web_service_hands_queued_connections_over_when_a_worker_stops() -> None:
    """Without ``net.ipv4.tcp_migrate_req``, a granian worker that stops resets the connections queued on its own
    socket: a rolling restart under load lost requests (infra/web_server.py)."""
    services = COMPOSE["services"]
    granian = {name for name, spec in services.items() if (spec.get("command") or [""])[0] == "granian"}
    assert granian == {"idp-1", "idp-2", "portal-1", "portal-2", "operator-console", "fc-dev-provider"}
    assert web_server.SYSCTLS == {"net.ipv4.tcp_migrate_req": "1"}
    for name in granian:
        sysctls = {key: str(value) for key, value in services[name].get("sysctls", {}).items()}
        assert sysctls == web_server.SYSCTLS, name
    # Only the web services: the jobs and workers listen on no port that restarts.
    assert {name for name, spec in services.items() if "sysctls" in spec} == granian


_HELLO = "tests.deploy.keep_alive_app:create_app"
#: Seconds of granian's header-read timeout in the bounded test (the deployment's command line otherwise).
SHORT_KEEP_ALIVE = 3


@contextlib.contextmanager
def granian(tmp_path: Path, *, keep_alive: float | None = None) -> Iterator[int]:
    """A real granian with the deployment's options (``keep_alive``: another header-read timeout, in seconds),
    serving a two-line WSGI app on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = web_server.python_granian_argv(_HELLO, host="127.0.0.1", port=port, workers=1, threads=1)
    if keep_alive is not None:
        argv[argv.index("--http1-header-read-timeout") + 1] = str(int(keep_alive * 1000))
    log = (tmp_path / "granian.log").open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "granian.log").read_text()
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _get(connection: socket.socket) -> bytes:
    connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return connection.recv(4096)


def test_granians_header_read_timeout_is_its_idle_keep_alive(tmp_path: Path) -> None:
    """What the files above are checked on decides how long granian keeps an idle connection, both ways: with a
    header-read timeout of 3 s, a connection idle for 2 s is still answered, then granian closes it once idle (its
    default, 30 s, would keep it past the socket's 10 s wait)."""
    with (
        granian(tmp_path, keep_alive=SHORT_KEEP_ALIVE) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as connection,
    ):
        assert _get(connection).startswith(b"HTTP/1.1 200")
        time.sleep(SHORT_KEEP_ALIVE - 1)
        assert _get(connection).startswith(b"HTTP/1.1 200")
        assert connection.recv(4096) == b"", "granian closes the idle connection"


@pytest.mark.long
def test_granian_keeps_an_idle_connection_past_the_proxys_timeout(tmp_path: Path) -> None:
    """The same connection, idle a little longer than Caddy keeps it, is still answered: the proxy closes first.
    (32 s is also past granian's default of 30 s: the option on the command line is what keeps it open.)"""
    with granian(tmp_path) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        assert _get(connection).startswith(b"HTTP/1.1 200")
        time.sleep(web_server.PROXY_KEEP_ALIVE + 2)
        assert _get(connection).startswith(b"HTTP/1.1 200")
