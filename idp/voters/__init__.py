"""Voters as an operator manages them: the CSV import (``idp voters import``)."""

from __future__ import annotations

from idp.voters.importer import ImportReport, LineError, import_voters

__all__ = ["ImportReport", "LineError", "import_voters"]
