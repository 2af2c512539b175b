"""The design system (DSFR) served as static files: from npm's install by default, from IDP_DSFR_DIR when set,
linked by every page with its version in the URL (so browsers may keep it a year), and a missing folder does not
stop the IdP (its pages are then plain HTML)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask

from templates import dsfr


def _installed_version() -> str:
    return str(json.loads((dsfr.DEFAULT_DIR.parent / "package.json").read_text(encoding="utf-8"))["version"])


@pytest.fixture
def installed() -> None:
    if not (dsfr.DEFAULT_DIR / dsfr.STYLESHEET).is_file():
        from tests import backends

        backends.unavailable(f"the DSFR is not installed in {dsfr.DEFAULT_DIR}: npm ci --prefix frontend")


def test_pages_link_the_installed_dsfr_which_is_served_with_a_long_cache(app: Flask, installed: None) -> None:
    client = app.test_client()
    version = _installed_version()
    page = client.get("/login").get_data(as_text=True)
    assert f'<link rel="stylesheet" href="/static/dsfr/dsfr.min.css?v={version}">' in page
    assert (
        '<header role="banner" class="fr-header">' in page and '<p class="fr-logo">République<br>française</p>' in page
    )
    css = client.get(f"/static/dsfr/dsfr.min.css?v={version}")
    assert css.status_code == 200 and css.mimetype == "text/css" and b".fr-btn" in css.data
    assert css.headers["Cache-Control"] == f"public, max-age={dsfr.VERSIONED_MAX_AGE}"
    css.close()
    font = client.get("/static/dsfr/fonts/Marianne-Regular.woff2")
    assert font.status_code == 200
    font.close()
    # The app's own static files are still where they were, and nothing outside the folder is served.
    for path, status in (("/static/style.css", 200), ("/static/dsfr/../package.json", 404)):
        response = client.get(path)
        assert response.status_code == status, path
        response.close()


def test_the_folder_comes_from_the_setting(make_app, tmp_path: Path) -> None:
    dist = tmp_path / "dsfr" / "dist"
    dist.mkdir(parents=True)
    (dist / "dsfr.min.css").write_text(".fr-essai{}", encoding="utf-8")
    (dist.parent / "package.json").write_text('{"version": "9.9.9"}', encoding="utf-8")
    client = make_app(DSFR_DIR=str(dist)).test_client()
    assert '/static/dsfr/dsfr.min.css?v=9.9.9"' in client.get("/login").get_data(as_text=True)
    served = client.get("/static/dsfr/dsfr.min.css?v=9.9.9")
    assert served.data == b".fr-essai{}"
    served.close()


def test_a_missing_folder_is_logged_and_the_pages_still_work(
    make_app, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="templates.dsfr"):
        client = make_app(DSFR_DIR=str(tmp_path / "absent")).test_client()
    assert any("DSFR not found" in record.getMessage() for record in caplog.records)
    page = client.get("/login")
    assert page.status_code == 200 and "Accès au portail Élections" in page.get_data(as_text=True)
    assert '/static/dsfr/dsfr.min.css"' in page.get_data(as_text=True)  # no version known: no long cache
    assert client.get("/static/dsfr/dsfr.min.css").status_code == 404
