"""Fixtures of the lean path's tests (idp.oidc.lean): Flask's WSGI callable behind it, counted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask

from idp.oidc.provider import get_provider


class Counted:
    """Flask's WSGI callable behind the lean path, counting the requests it is handed."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture
def flask_side(app: Flask) -> Iterable[Counted]:
    lean = get_provider(app).lean
    counted = Counted(lean.app)
    lean.app = counted
    yield counted
    lean.app = counted.app
