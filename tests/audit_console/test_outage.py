"""The auditors' console while its Redis is down, then restarted empty (a Redis of the test's own, on both database
back ends): the French 503 page with ``Retry-After`` for a signed-in auditor, within 2 s; after the restart the
auditor signs in again (the session went with the store's content)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from infra.store import get_store
from infra.store.redis import RedisStore
from tests.audit_console.test_console_pages import signed_in
from tests.redis_servers import RedisServer, assert_unavailable_page, redis_server

__all__ = ["redis_server"]


def test_a_signed_in_auditor_gets_the_503_page_then_signs_in_again(
    app: Flask, make_console: Callable[..., Flask], redis_server: RedisServer
) -> None:
    console = make_console(REDIS_URL=redis_server.url())
    store = get_store(console)
    assert isinstance(store, RedisStore)
    store.cooldown = 0
    client = signed_in(app, console)
    assert client.get("/journal").status_code == 200
    redis_server.stop()
    started = time.monotonic()
    assert_unavailable_page(client.get("/journal"), started)
    assert client.get("/healthz").status_code == 503

    redis_server.start()  # empty
    back = client.get("/journal")
    assert back.status_code == 302, "signed out with the store's content, sent to sign in: not an error"
    again = signed_in(app, console, "dominique.relecture@audit.example.fr")
    assert again.get("/journal").status_code == 200
