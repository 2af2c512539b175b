"""The smallest WSGI app, for the keep-alive test's real granian (tests/deploy/test_keep_alive.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def create_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    return app
