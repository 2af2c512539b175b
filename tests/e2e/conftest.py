"""Fixtures of the browser journeys: the whole suite served live (on SQLite files, or on PostgreSQL + Redis), a
headless chromium launched once for the package with a fresh context (a new profile) per test, and the screen
recorder of each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests import backends
from tests.e2e.browser import Screens, artifact_dir, chromium, chromium_context, require_tools
from tests.e2e.servers import Storage, Suite, serve_suite

E2E_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=E2E_BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The IdP's and the portal's storage, parametrised like the suite's ``app``."""
    (tmp_path / "idp").mkdir()
    (tmp_path / "portal").mkdir()
    idp = backends.chosen(request, request.param, "sqlite_template", "postgres", tmp_path / "idp")
    portal = backends.chosen(request, request.param, "portal_sqlite_template", "portal_postgres", tmp_path / "portal")
    return Storage(request.param, idp.config(), portal.config())


@pytest.fixture
def suite(storage: Storage, tmp_path: Path) -> Iterator[Suite]:
    require_tools()
    (tmp_path / "fc").mkdir()
    with serve_suite(storage, tmp_path / "fc") as served:
        yield served
    for prefix in (storage.idp.get("REDIS_PREFIX"), storage.portal.get("REDIS_PREFIX")):
        if storage.name == "postgresql" and prefix:
            backends.clear_redis_prefix(str(prefix))


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One chromium for the package's tests: launching it took longer than most of their screens."""
    require_tools()
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(suite: Suite, browser: Browser) -> Iterator[BrowserContext]:
    with chromium_context(browser) as browser_context:
        yield browser_context


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


@pytest.fixture
def screens(page: Page, storage: Storage, request: pytest.FixtureRequest) -> Screens:
    return Screens(page, artifact_dir(storage.name, request.node.originalname))
