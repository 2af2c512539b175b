"""The Jinja templates and static files of the whole suite (IdP, portal, plugins): one look.

A package so that it ships inside the wheel and is found the same way in editable and regular installs.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent
STATIC_DIR = TEMPLATE_DIR / "static"
