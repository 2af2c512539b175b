"""Fixtures of the browser journeys: the whole suite served live (on SQLite files, or on PostgreSQL + Redis), a
fresh headless chromium, and the screen recorder of each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests import backends
from tests.e2e.browser import Screens, artifact_dir, chromium_context, require_tools
from tests.e2e.servers import Storage, Suite, serve_suite
from tests.relying_party import backends as portal_backends

E2E_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def portal_postgres_e2e() -> Iterator[portal_backends.PostgresDatabase | str]:
    db = portal_backends.postgres_or_reason()
    yield db
    if isinstance(db, portal_backends.PostgresDatabase):
        db.drop()


@pytest.fixture(scope="session")
def portal_sqlite_template_e2e(tmp_path_factory: pytest.TempPathFactory) -> portal_backends.SQLiteTemplate:
    return portal_backends.SQLiteTemplate(tmp_path_factory.mktemp("e2e-portal-template"))


@pytest.fixture(params=E2E_BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The IdP's and the portal's storage, parametrised like the suite's ``app``."""
    if request.param == "sqlite":
        idp_template: backends.SQLiteTemplate = request.getfixturevalue("sqlite_template")
        (tmp_path / "idp").mkdir()
        (tmp_path / "portal").mkdir()
        portal_template: portal_backends.SQLiteTemplate = request.getfixturevalue("portal_sqlite_template_e2e")
        return Storage(
            "sqlite", idp_template.fresh(tmp_path / "idp").config(), portal_template.fresh(tmp_path / "portal").config()
        )
    idp_pg = request.getfixturevalue("postgres")
    if isinstance(idp_pg, str):
        backends.unavailable(idp_pg)
    portal_pg = request.getfixturevalue("portal_postgres_e2e")
    if isinstance(portal_pg, str):
        backends.unavailable(portal_pg)
    reason = backends.redis_reason()
    if reason:
        backends.unavailable(reason)
    assert isinstance(idp_pg, backends.PostgresDatabase)
    assert isinstance(portal_pg, portal_backends.PostgresDatabase)
    idp_pg.truncate()
    idp_storage = backends.Backend("postgresql", idp_pg.url, backends.REDIS_URL).config()
    return Storage("postgresql", idp_storage, portal_pg.backend().config())


@pytest.fixture
def suite(storage: Storage, tmp_path: Path) -> Iterator[Suite]:
    require_tools()
    (tmp_path / "fc").mkdir()
    with serve_suite(storage, tmp_path / "fc") as served:
        yield served
    for prefix in (storage.idp.get("REDIS_PREFIX"), storage.portal.get("REDIS_PREFIX")):
        if storage.name == "postgresql" and prefix:
            backends.clear_redis_prefix(str(prefix))


@pytest.fixture
def context(suite: Suite, tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium_context(tmp_path / "chromium-profile") as browser_context:
        yield browser_context


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


@pytest.fixture
def screens(page: Page, storage: Storage, request: pytest.FixtureRequest) -> Screens:
    return Screens(page, artifact_dir(storage.name, request.node.originalname))
