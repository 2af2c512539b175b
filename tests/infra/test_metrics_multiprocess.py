"""Under a server of several worker processes, one scrape answers the sum of every worker's metrics, on a port of
its own that the public port does not serve; a worker that dies leaves its counts in the sum. granian (what
docker-compose runs): every worker serves the sum on the shared port; gunicorn: the master does."""

from __future__ import annotations

import json
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
    except OSError:  # a connection the killed worker held: no answer
        return 0


Server = tuple[str, str, Path, subprocess.Popen[bytes]]


def gunicorn_argv(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:infra.gunicorn_config",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--no-control-socket",
        "fc_dev_provider:create_app()",
    ]


def granian_argv(port: int) -> list[str]:
    from infra.web_server import python_granian_argv

    return python_granian_argv("fc_dev_provider:create_app", host="127.0.0.1", port=port, workers=2, threads=2)


@pytest.fixture(params=["granian", "gunicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
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
    if request.param == "granian":
        (directory / "counter_1.db").unlink()  # granian has no start hook: the directory must start empty
    argv = granian_argv(public) if request.param == "granian" else gunicorn_argv(public)
    errors = (tmp_path / "server.err").open("wb")  # a file, not a pipe: a full pipe would stop the server
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    base, metrics_url = f"http://127.0.0.1:{public}", f"http://127.0.0.1:{private}/metrics"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {(tmp_path / 'server.err').read_text()[-2000:]}")
            try:
                if get(metrics_url) == 200 and get(f"{base}/healthz") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not start within 30 s")
            time.sleep(0.2)
        yield base, metrics_url, directory, process
    finally:
        process.send_signal(signal.SIGINT if request.param == "granian" else signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def pids(directory: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}


def test_a_scrape_sums_every_worker(server: Server) -> None:
    base, metrics_url, directory, _process = server
    assert not (directory / "counter_1.db").exists(), "no stale file of a previous run"
    baseline = scraped(scrape(metrics_url), "elections_http_requests_total", **LABELS)  # the readiness checks
    sent = 0
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(pids(directory)) < 2:  # until both workers have served requests
            assert time.monotonic() < deadline, f"one worker served everything ({pids(directory)})"
            statuses = list(pool.map(lambda _: get(f"{base}/healthz"), range(REQUESTS)))
            assert statuses == [200] * REQUESTS
            sent += REQUESTS
    workers = pids(directory)
    for _ in range(6):  # under granian each scrape goes to one worker or the other: every one answers the sum
        text = scrape(metrics_url)
        assert scraped(text, "elections_http_requests_total", **LABELS) == baseline + sent
    assert scraped(text, "elections_http_request_duration_seconds_count", app="fc_dev_provider", route="/healthz") == (
        baseline + sent
    )
    assert scraped(text, "elections_dependency_up", app="fc_dev_provider", dependency="store") == 1
    assert get(f"{base}/metrics") == 404, "the public port serves no metrics"

    # A worker killed: the server starts another; the dead one's counts stay in the sum.
    os.kill(int(sorted(workers)[0]), signal.SIGKILL)
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=8) as pool:
        while not pids(directory) - workers:  # until the new worker has served requests
            assert time.monotonic() < deadline, "no new worker served a request"
            statuses = list(pool.map(lambda _: get(f"{base}/healthz"), range(20)))
            sent += sum(1 for status in statuses if status == 200)
            time.sleep(0.2)
    for _ in range(4):
        text = scrape(metrics_url)
        assert scraped(text, "elections_http_requests_total", **LABELS) == baseline + sent
    # Every worker wrote its requests' JSON lines to standard error.
    lines = [json.loads(line) for line in (directory.parent / "server.err").read_text().splitlines() if line[:1] == "{"]
    served = [line for line in lines if line.get("event") == "request" and line["route"] == "/healthz"]
    assert len(served) >= sent and len({line["process"] for line in served}) >= 3, "both first workers and the new one"
