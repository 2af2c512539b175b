"""Fixtures of the fuzz suite: the IdP (with the réassort plugin and a registered client), the portal, the auditors'
and the operators' consoles, on the suite's back ends. The portal's and the consoles' fixtures are those of their own
tests."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import werkzeug.test
import werkzeug.wsgi

from tests.audit_console.conftest import console_config, make_console, suite  # noqa: F401 - fixtures
from tests.operator_console.conftest import portal_storage  # noqa: F401 - fixture
from tests.relying_party.conftest import portal_backend, portal_config  # noqa: F401 - fixtures


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PLUGINS": "reassort"}


@pytest.fixture(autouse=True)
def _cookies_matched_without_the_query_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """werkzeug's test client rebuilds each request's whole URL, its query string percent-decoded, only to read the
    host and path its cookies are matched on (twice a request). With the hostile query strings generated here (5,000
    characters, multi-byte escapes repeated 300 times) that decoding was half the time spent sending requests. The
    host and path are the same without the query string; what the application receives is unchanged."""
    monkeypatch.setattr(
        werkzeug.test, "get_current_url", functools.partial(werkzeug.wsgi.get_current_url, strip_querystring=True)
    )
