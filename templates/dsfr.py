"""The French state's design system (DSFR) served as static files, for every app whose pages extend ``base.html``.

The package (``@gouvfr/dsfr``, pinned in ``frontend/package.json``) is installed by npm, not copied into the
repository: ``make install`` runs ``npm ci --prefix frontend``, and the Docker image runs npm itself and points the
``*_DSFR_DIR`` setting at its copy. An app calls :func:`init_app` with that setting; ``base.html`` then links the
stylesheet and scripts through the ``dsfr_url`` template global, and stays usable (plain, unstyled) in an app that
did not call it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Blueprint, Flask

from infra import links

logger = logging.getLogger(__name__)

#: Where ``npm ci --prefix frontend`` puts the files (a source checkout; installed wheels set the setting).
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "frontend" / "node_modules" / "@gouvfr" / "dsfr" / "dist"
URL_PATH = "/static/dsfr"
#: The stylesheet whose presence says the directory holds the DSFR's ``dist`` folder.
STYLESHEET = "dsfr.min.css"
#: Files are versioned by the package's version in their URL (``?v=``), so browsers may keep them this long.
VERSIONED_MAX_AGE = 365 * 24 * 3600


class _DsfrBlueprint(Blueprint):
    """A static-only blueprint whose files may be cached long when their URLs carry the package version."""

    def __init__(self, folder: Path, version: str | None) -> None:
        super().__init__("dsfr", __name__, static_folder=str(folder), static_url_path=URL_PATH)
        self.version = version

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        return VERSIONED_MAX_AGE if self.version else None


def resolve_dir(setting: str | Path | None) -> Path:
    """The DSFR ``dist`` folder named by an app's setting, or the repository's npm install by default."""
    return Path(setting) if setting else DEFAULT_DIR


def package_version(folder: Path) -> str | None:
    """The version in the ``package.json`` beside ``dist`` (None if absent: the files are then not cached long)."""
    try:
        manifest = json.loads((folder.parent / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = manifest.get("version") if isinstance(manifest, dict) else None
    return str(version) if version else None


def init_app(app: Flask, setting: str | Path | None) -> None:
    """Serve the DSFR under ``/static/dsfr/`` and give the templates ``dsfr_url(filename)``.

    A missing folder is logged, not fatal: the OpenID endpoints need no stylesheet, and the pages still work
    (every page is usable without CSS and JavaScript).
    """
    folder = resolve_dir(setting)
    if not (folder / STYLESHEET).is_file():
        logger.warning("DSFR not found in %s: pages are served without the design system (run make install)", folder)
    blueprint = _DsfrBlueprint(folder, package_version(folder))
    app.register_blueprint(blueprint)

    def dsfr_url(filename: str) -> str:
        # This app's links (infra.links), found without the current_app proxy; Flask's url_for in an app without them.
        build: links.Links | Flask = app.extensions.get(links.EXTENSION_KEY, app)
        if blueprint.version:
            return build.url_for("dsfr.static", filename=filename, v=blueprint.version)
        return build.url_for("dsfr.static", filename=filename)

    app.jinja_env.globals["dsfr_url"] = dsfr_url
