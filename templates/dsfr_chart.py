"""The State's chart components (``@gouvfr/dsfr-chart``, web components) served as static files, like the DSFR.

The package is pinned in ``frontend/package.json`` and installed by npm beside the DSFR (``make install``, the Docker
image); its ``dist`` folder is found next to the DSFR's (``…/@gouvfr/dsfr/dist`` → ``…/@gouvfr/dsfr-chart/dist``),
so an app's ``*_DSFR_DIR`` setting covers both. A page that shows charts loads them through the
``dsfr_chart_url(filename)`` template global; every chart has its table beside it (``templates/_charts.html``), so
nothing is lost without JavaScript or with a screen reader.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Flask

from infra.links import url_for
from templates import dsfr

logger = logging.getLogger(__name__)

URL_PATH = "/static/dsfr-chart"
#: The bundle of every chart (the package advises it over several single-chart bundles, which each carry Vue).
SCRIPT = "DSFRChart/DSFRChart.js"
STYLESHEET = "DSFRChart/DSFRChart.css"


def resolve_dir(dsfr_setting: str | Path | None) -> Path:
    """The chart package's ``dist`` folder, beside the DSFR's named by an app's ``*_DSFR_DIR`` setting."""
    return dsfr.resolve_dir(dsfr_setting).parent.parent / "dsfr-chart" / "dist"


class _ChartBlueprint(Blueprint):
    def __init__(self, folder: Path, version: str | None) -> None:
        super().__init__("dsfr_chart", __name__, static_folder=str(folder), static_url_path=URL_PATH)
        self.version = version

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        return dsfr.VERSIONED_MAX_AGE if self.version else None


def init_app(app: Flask, dsfr_setting: str | Path | None) -> None:
    """Serve the chart components under ``/static/dsfr-chart/`` and give the templates ``dsfr_chart_url``.

    A missing folder is logged, not fatal: the tables carry every figure.
    """
    folder = resolve_dir(dsfr_setting)
    if not (folder / SCRIPT).is_file():
        logger.warning("dsfr-chart not found in %s: pages show their tables without charts (run make install)", folder)
    blueprint = _ChartBlueprint(folder, dsfr.package_version(folder))
    app.register_blueprint(blueprint)

    def dsfr_chart_url(filename: str) -> str:
        if blueprint.version:
            return url_for("dsfr_chart.static", filename=filename, v=blueprint.version)
        return url_for("dsfr_chart.static", filename=filename)

    app.jinja_env.globals["dsfr_chart_url"] = dsfr_chart_url
