"""The worker commands serve their metrics on their own port: ``idp deliver`` the outbox's depth and age by channel
and whether its database and store answer, ``idp oidc deliver-logouts`` the back-channel backlog, computed at each
scrape; SIGTERM stops them."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from idp.delivery import Message
from infra import metrics
from tests.delivery_servers import queue, update_row
from tests.metrics_helpers import free_port, scraped

COMMANDS = {
    "deliver": (["deliver", "--interval", "3600"], "idp_delivery"),
    "deliver-logouts": (["oidc", "deliver-logouts", "--interval", "3600"], "idp_backchannel_logout"),
}


def scrape_until(port: int, name: str, deadline: float = 90, **labels: str) -> str:
    until = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                text = str(answer.read().decode())
            if f"{name}{{" in text:
                return text
        except OSError:
            pass
        assert time.monotonic() < until, f"no {name} served"
        time.sleep(0.3)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_worker_serves_its_queue_and_dependencies(
    app: Flask, app_config: dict[str, Any], tmp_path: Path, command: str
) -> None:
    [message] = queue(app, Message("email", "dominique.fictif@ac-exemple.fr", "Objet", "Corps"))
    update_row(
        app,
        message,
        created_at=metrics.utcnow() - dt.timedelta(minutes=4),
        next_attempt_at=metrics.utcnow() + dt.timedelta(hours=1),
    )
    args, worker = COMMANDS[command]
    port = free_port()
    env = {**os.environ, **{f"IDP_{k}": str(v) for k, v in app_config.items() if v is not None and k != "TESTING"}}
    errors = tmp_path / "worker.err"
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from idp.cli import main; main()", *args, "--metrics-port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        text = scrape_until(port, "elections_worker_dependency_up")
        assert scraped(text, "elections_worker_dependency_up", worker=worker, dependency="database") == 1
        assert scraped(text, "elections_worker_dependency_up", worker=worker, dependency="store") == 1
        if command == "deliver":
            assert scraped(text, "elections_outbox_messages", app="idp", channel="email") == 1
            assert 240 <= scraped(text, "elections_outbox_oldest_age_seconds", app="idp", channel="email") < 300
        else:
            assert scraped(text, "elections_backchannel_pending", app="idp") == 0
        assert "ac-exemple" not in text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, errors.read_text()[-2000:]
