"""The development outbox (backend, page) and the ``idp deliver`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from idp import create_app
from idp.cli import main
from idp.db import get_db
from idp.delivery import Message
from idp.delivery.senders import ConfigurationError
from idp.delivery.worker import DeliveryWorker, run_once
from idp.models import DevMessage
from tests.delivery_servers import FICTION_MOBILE, outbox_row, queue, wait_for

LINK = "http://localhost/activation/jeton-fictif-0123456789"


def activation_email(n: int = 1) -> Message:
    return Message(
        "email",
        f"camille.testeur{n}@ac-exemple.fr",
        f"Portail Élections : activez votre compte {n}",
        f"Bonjour,\n\nOuvrez ce lien : {LINK}\n\n<script>alert(1)</script>\n",
    )


def app_for(app_config: dict[str, Any], env: str) -> Flask:
    config = {**app_config, "ENV": env}
    if env == "production":
        config.update(CAPTCHA_BACKEND="image", KEY_ENCRYPTION_KEY="k" * 40)
    return create_app(config)


@pytest.fixture
def dev_app(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """A development instance on the same database (``app`` cleans up the back end afterwards)."""
    application = app_for(app_config, "development")
    yield application
    get_db(application).dispose()


def dev_messages(app: Flask) -> int:
    with get_db(app).transaction() as session:
        return session.execute(select(func.count()).select_from(DevMessage)).scalar_one()


def test_outbox_backend_keeps_the_message_and_erases_the_payload(app):
    [message_id] = queue(app, activation_email())

    assert run_once(app) == 1

    with get_db(app).transaction() as session:
        [kept] = session.execute(select(DevMessage)).scalars()
        assert (kept.channel, kept.recipient) == ("email", "camille.testeur1@ac-exemple.fr")
        assert LINK in kept.body
    row = outbox_row(app, message_id)
    assert (row.status, row.payload) == ("sent", None)


def test_outbox_page_lists_messages_newest_first_with_links(dev_app):
    queue(dev_app, activation_email(1), Message("sms", FICTION_MOBILE, "", f"Votre lien : {LINK}"))
    run_once(dev_app)
    queue(dev_app, activation_email(2))
    run_once(dev_app)
    queue(dev_app, activation_email(3))  # not delivered yet

    page = dev_app.test_client().get("/dev/outbox")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Messages envoyés</h1>" in html
    assert html.index("activez votre compte 2") < html.index("activez votre compte 1")
    assert f'<a href="{LINK}" rel="noopener">{LINK}</a>' in html
    assert FICTION_MOBILE in html and "Courriel" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "1 message(s) en attente" in html
    assert "activez votre compte 3" not in html


@pytest.mark.parametrize("env", ["testing", "production"])
def test_outbox_page_is_not_found_outside_development(app, app_config, env):
    queue(app, activation_email())
    run_once(app)
    other = app if env == "testing" else app_for(app_config, env)
    try:
        response = other.test_client().get("/dev/outbox")
        assert response.status_code == 404
        assert "camille.testeur1" not in response.get_data(as_text=True)
    finally:
        if other is not app:
            get_db(other).dispose()


def test_outbox_page_refuses_even_if_registered_by_mistake(app):
    from idp.delivery import views

    app.register_blueprint(views.bp)
    assert app.test_client().get("/dev/outbox").status_code == 404


def test_outbox_backend_is_refused_in_production(app, app_config):
    production = app_for(app_config, "production")
    try:
        with production.app_context(), pytest.raises(ConfigurationError, match="IDP_MAIL_BACKEND=outbox"):
            DeliveryWorker(production)
        result = production.test_cli_runner().invoke(main, ["deliver", "--once"])
        assert result.exit_code == 1
        assert "development only" in result.output
    finally:
        get_db(production).dispose()


def test_deliver_once_command(app):
    queue(app, activation_email(1), activation_email(2))

    result = app.test_cli_runner().invoke(main, ["deliver", "--once"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 message(s) handled"
    assert dev_messages(app) == 2


def test_deliver_loops_until_sigterm(app, app_config):
    env = {
        **os.environ,
        **{
            f"IDP_{name}": str(value)
            for name, value in app_config.items()
            if name in {"ENV", "SECRET_KEY", "HMAC_KEY", "DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "CAPTCHA_BACKEND"}
            and value is not None
        },
    }
    command = [str(Path(sys.executable).parent / "idp"), "deliver", "--interval", "0.2"]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        queue(app, activation_email())
        assert wait_for(lambda: dev_messages(app) == 1, timeout=30)
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, err
    assert "SIGTERM received" in err and "delivery worker: stopped" in err
    assert "ac-exemple.fr" not in err  # the worker's log names messages by id, never by recipient
