"""The Jinja templates and static files of the whole suite (IdP, portal, plugins): one look.

A package so that it ships inside the wheel and is found the same way in editable and regular installs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

TEMPLATE_DIR = Path(__file__).resolve().parent
STATIC_DIR = TEMPLATE_DIR / "static"


class Folders(TypedDict):
    template_folder: str
    static_folder: str


#: The folders an app of the suite serves its pages and static files from (``Flask(..., **FOLDERS)``).
FOLDERS: Folders = {"template_folder": str(TEMPLATE_DIR), "static_folder": str(STATIC_DIR)}
