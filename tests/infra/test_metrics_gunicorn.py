"""Under gunicorn with several workers, one scrape of the master answers the sum of every worker's metrics, on a
port of its own that the public port does not serve; a worker that dies leaves its counts in the sum."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.metrics_helpers import free_port, scraped

REQUESTS = 60
LABELS = {"app": "fc_dev_provider", "route": "/healthz", "method": "GET", "status": "200"}


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[str, str, Path, subprocess.Popen[bytes]]]:
    public, private = free_port(), free_port()
    directory = tmp_path / "multiproc"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"stale")  # a previous run's file: removed at start
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "FCDEV_METRICS_PORT": str(private),
        "FCDEV_SECRET_KEY": "test-secret-0123456789-0123456789",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:infra.gunicorn_config",
            "--bind",
            f"127.0.0.1:{public}",
            "--workers",
            "2",
            "--no-control-socket",
            "fc_dev_provider:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base, metrics_url = f"http://127.0.0.1:{public}", f"http://127.0.0.1:{private}/metrics"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
            try:
                if get(metrics_url) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not start within 30 s")
            time.sleep(0.2)
        yield base, metrics_url, directory, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def test_the_masters_scrape_sums_every_worker(gunicorn: tuple[str, str, Path, subprocess.Popen[bytes]]) -> None:
    base, metrics_url, directory, _process = gunicorn
    assert not (directory / "counter_1.db").exists(), "the stale file of a previous run is removed at start"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: get(f"{base}/healthz"), range(REQUESTS)))
    assert statuses == [200] * REQUESTS
    workers = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
    assert len(workers) == 2, f"both workers served requests ({workers})"
    text = scrape(metrics_url)
    assert scraped(text, "elections_http_requests_total", **LABELS) == REQUESTS
    assert scraped(text, "elections_http_request_duration_seconds_count", app="fc_dev_provider", route="/healthz") == (
        REQUESTS
    )
    assert scraped(text, "elections_dependency_up", app="fc_dev_provider", dependency="store") == 1
    assert get(f"{base}/metrics") == 404, "the public port serves no metrics"

    # A worker killed: gunicorn starts another; the dead one's counts stay in the sum.
    victim = int(sorted(workers)[0])
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while len({p.stem.rsplit("_", 1)[1] for p in directory.glob("counter_*.db")} - workers) == 0:
        get(f"{base}/healthz")
        assert time.monotonic() < deadline, "no new worker served a request"
        time.sleep(0.1)
    text = scrape(metrics_url)
    assert scraped(text, "elections_http_requests_total", **LABELS) > REQUESTS
