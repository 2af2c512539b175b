"""``make demo`` started on other ports than the defaults still offers a FranceConnect sign-in that completes.

The demo (``python -m idp.demo``) is started as a newcomer would, in an empty directory, with ``DEMO_IDP_PORT``,
``DEMO_PORTAL_PORT`` and ``DEMO_FC_PORT`` set to free ports; chromium then signs the activated demo voter in through
the development FranceConnect provider and the election password. Before the fix the provider only knew the IdP at
``localhost:5000``: it refused the callback, and its Content-Security-Policy (``form-action``) stopped the browser.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage

from idp.demo import ACTIVATED_DEMO_PASSWORD, ACTIVATED_DEMO_VOTER, DEMO_OPERATOR, DEMO_OPERATOR_PASSWORD
from tests.e2e.browser import chromium_context, require_tools

ROOT = Path(__file__).resolve().parents[2]
SIGNED_IN = "Vous êtes connecté"


@dataclass(frozen=True)
class Demo:
    idp: str
    portal: str
    fc: str
    console: str
    log: Path


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, "the demo stopped before it served"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still starting
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    require_tools()
    idp_port, portal_port, fc_port, console_port = _free_ports(4)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IDP_", "PORTAL_", "FCDEV_", "OPERATOR_CONSOLE_"))
    }
    env.update(
        DEMO_IDP_PORT=str(idp_port),
        DEMO_PORTAL_PORT=str(portal_port),
        DEMO_FC_PORT=str(fc_port),
        DEMO_CONSOLE_PORT=str(console_port),
        PYTHONPATH=str(ROOT),
    )
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "idp.demo"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo = Demo(
        f"http://localhost:{idp_port}",
        f"http://localhost:{portal_port}",
        f"http://localhost:{fc_port}",
        f"http://localhost:{console_port}",
        tmp_path / "demo.log",
    )
    try:
        deadline = time.monotonic() + 120
        for health in (
            f"{demo.idp}/healthz",
            f"{demo.portal}/healthz",
            f"{demo.fc}/healthz",
            f"{demo.console}/healthz",
        ):
            _wait_until_up(health, process, deadline)
        yield demo
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_a_demo_on_other_ports_completes_the_franceconnect_sign_in(demo: Demo, browser: Browser) -> None:
    """… and runs the operators' console on its own port too."""
    assert not demo.idp.endswith(":5000")
    refused: list[str] = []
    with chromium_context(browser) as context:
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Refused" in message.text:
                refused.append(message.text)

        page.on("console", on_console)
        page.goto(f"{demo.idp}/login")
        page.get_by_role("link", name="S'identifier avec FranceConnect").click()
        page.get_by_role("heading", name="Choisir une identité").wait_for()
        assert page.url.startswith(demo.fc + "/")
        page.get_by_role("button", name="Se connecter en tant que Marc Antoine DURAND").click()
        # Back at the IdP on its own port, the identifier step done by FranceConnect: the election password.
        page.get_by_role("heading", name="Saisie du mot de passe Élections").wait_for()
        assert page.url.startswith(demo.idp + "/")
        assert ACTIVATED_DEMO_VOTER in page.content()
        page.get_by_label("Mot de passe Élections").fill(ACTIVATED_DEMO_PASSWORD)
        page.get_by_role("button", name="Connexion").click()
        page.get_by_role("heading", name=SIGNED_IN).wait_for()
        assert page.url.startswith(demo.idp + "/")
    assert not refused, refused

    # The operators' console answers on its own port, its sign-in leads to this IdP, the banner gives its account.
    home = requests.get(f"{demo.console}/", timeout=10)
    assert home.status_code == 200 and "Console des opérateurs" in home.text
    start = requests.get(f"{demo.console}/connexion", timeout=10, allow_redirects=False)
    assert start.status_code == 302 and start.headers["Location"].startswith(f"{demo.idp}/authorize?")
    banner = demo.log.read_text(encoding="utf-8", errors="replace")
    assert f"Console des opérateurs        : {demo.console}/" in banner
    assert DEMO_OPERATOR in banner and DEMO_OPERATOR_PASSWORD in banner
