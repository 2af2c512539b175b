"""The ballot page's encryption module, served like the DSFR: built from npm packages, never fetched at run time.

``make install`` runs ``npm ci`` then ``npm run build`` in ``frontend/``: esbuild bundles ``frontend/ballot/page.js``
(with @noble/curves and @noble/hashes, pinned in ``frontend/package.json``) into ``frontend/dist/ballot.js``. The
Docker image builds it the same way and sets ``PORTAL_BALLOT_JS_DIR``. The page links it with its SHA-384 as
subresource integrity and in its URL (so browsers may keep it long). A missing bundle is logged, not fatal: the
ballot page then says that the encryption module could not be loaded, as it does without JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

from flask import Blueprint, Flask, url_for

logger = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "frontend" / "dist"
FILENAME = "ballot.js"
URL_PATH = "/assets/ballot"
MAX_AGE = 365 * 24 * 3600


class _BallotBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        return MAX_AGE


def init_app(app: Flask, setting: str | None) -> None:
    folder = Path(setting) if setting else DEFAULT_DIR
    bundle = folder / FILENAME
    integrity: str | None = None
    if bundle.is_file():
        digest = hashlib.sha384(bundle.read_bytes()).digest()
        integrity = "sha384-" + base64.b64encode(digest).decode()
    else:
        logger.warning("ballot module not found at %s: run `make install` (npm run build in frontend/)", bundle)
    app.register_blueprint(_BallotBlueprint("ballot_js", __name__, static_folder=str(folder), static_url_path=URL_PATH))

    def ballot_js() -> dict[str, str] | None:
        if integrity is None:
            return None
        return {"url": url_for("ballot_js.static", filename=FILENAME, v=integrity[7:23]), "integrity": integrity}

    app.jinja_env.globals["ballot_js"] = ballot_js
