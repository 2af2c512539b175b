"""``fc-dev-provider``: keygen, citizens, and ``run`` serving the provider on a port."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from fc_dev_provider.cli import build_cli
from fc_dev_provider.keys import SigningKey

START_TIMEOUT = 20


def test_keygen_writes_a_private_pem_key_once(tmp_path: Path) -> None:
    path = tmp_path / "fc-dev.pem"
    result = CliRunner().invoke(build_cli(), ["keygen", str(path)])
    assert result.exit_code == 0, result.output
    key = SigningKey.from_file(path)
    assert key.kid in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = CliRunner().invoke(build_cli(), ["keygen", str(path)])
    assert again.exit_code != 0
    assert SigningKey.from_file(path).kid == key.kid


def test_citizens_lists_the_fictitious_identities(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("FCDEV_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(build_cli(), ["citizens"])
    assert result.exit_code == 0, result.output
    assert "claire-jullien" in result.output
    assert "Claire JULLIEN" in result.output
    assert "[scénario userinfo-erreur-503]" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FCDEV_ISSUER": f"{base}/api/v2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fc_dev_provider", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stderr.read().decode() if process.stderr else "no output"
                    raise AssertionError(output) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def test_run_serves_the_provider_on_a_port(served: str) -> None:
    assert requests.get(f"{served}/healthz", timeout=5).json()["status"] == "ok"
    meta = requests.get(f"{served}/api/v2/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == f"{served}/api/v2"
    assert requests.get(meta["jwks_uri"], timeout=5).json()["keys"][0]["crv"] == "P-256"
