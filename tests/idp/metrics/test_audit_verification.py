"""``idp audit verify --every``: a verifier that runs beside the suite and tells Prometheus whether the audit log is
intact (``elections_audit_log_intact``), and when it last was; an event altered in the database turns it to 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from idp.audit import record
from idp.db import get_db
from idp.models import AuditEvent
from tests.metrics_helpers import free_port, scraped


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def wait_for(port: int, name: str, wanted: float, deadline: float = 90) -> str:
    until = time.monotonic() + deadline
    while True:
        try:
            text = scrape(port)
            if scraped(text, name, app="idp") == wanted and f"{name}{{" in text:
                return text
        except OSError:
            pass
        assert time.monotonic() < until, f"{name} never became {wanted}"
        time.sleep(0.2)


def test_the_periodic_verification_sets_the_gauge(app: Flask, app_config: dict[str, Any], tmp_path: Path) -> None:
    with app.app_context(), get_db(app).transaction() as session:
        for rank in range(3):
            record(session, "login.succeeded", subject=f"pseudo-ref-{rank}")
    port = free_port()
    env = {**os.environ, **{f"IDP_{k}": str(v) for k, v in app_config.items() if v is not None and k != "TESTING"}}
    errors = tmp_path / "verifier.err"  # a file, not a pipe: a full pipe would stop the verifier
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from idp.cli import main; main()", "audit", "verify", "--every", "0.3"],
            env={**env, "IDP_METRICS_PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        text = wait_for(port, "elections_audit_log_intact", 1)
        assert scraped(text, "elections_audit_log_events_verified", app="idp") == 3
        assert time.time() - scraped(text, "elections_audit_log_verified_timestamp_seconds", app="idp") < 30
        with get_db(app).transaction() as session:
            first = session.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars().first()
            session.execute(update(AuditEvent).where(AuditEvent.id == first).values(type="logout"))
        wait_for(port, "elections_audit_log_intact", 0)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    written = errors.read_text()
    lines = written.splitlines()
    assert any('"level": "error"' in line and "audit log damaged" in line for line in lines), written[-2000:]
