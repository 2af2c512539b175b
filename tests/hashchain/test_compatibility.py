"""Exports made before the audit log moved into :mod:`hashchain` still verify, and export again byte for byte.

``data/idp-export-9c74afc.jsonl`` and ``data/portal-export-9c74afc.jsonl`` were written by ``idp.audit.export`` and
``relying_party.audit.export`` at commit 9c74afc (each application's own append and export code, since replaced):
events on several chains, several events per transaction, a client, a null subject, and details whose JSON
spelling is awkward (quote, backslash, control characters, non-ASCII, a character outside the BMP, U+2028).
Fictitious values only. Loaded row by row into each application's table, on SQLite and PostgreSQL, they must verify
intact with the current code, and the current export must give back the very same bytes; the standalone tool must
accept them too.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert

from hashchain import export_lines, verify
from tests.hashchain.conftest import Target

DATA = Path(__file__).resolve().parent / "data"
TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_export.py"
EXPORTS = {"idp": DATA / "idp-export-9c74afc.jsonl", "portal": DATA / "portal-export-9c74afc.jsonl"}


def load(target: Target, path: Path) -> int:
    """The export's events as rows of the table (``id`` is the database's: it is not part of the export)."""
    rows = []
    for line in path.read_text(encoding="ascii").splitlines():
        event = json.loads(line)
        instant = dt.datetime.strptime(event.pop("occurred_at"), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        rows.append({**event, "occurred_at": instant})
    with target.engine.begin() as connection:
        connection.execute(insert(target.log.table), rows)
    return len(rows)


@pytest.mark.parametrize("application", ["idp", "portal"])
def test_the_standalone_tool_accepts_an_export_made_before(application: str) -> None:
    checked = subprocess.run(
        [sys.executable, str(TOOL), str(EXPORTS[application])], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("export intact:")


def test_an_export_made_before_verifies_and_exports_again_byte_for_byte(target: Target) -> None:
    before = EXPORTS[target.name.split("-")[0]]
    count = load(target, before)
    report = verify(target.engine, target.log)
    assert report.ok, report.first_problem
    assert report.events == count and report.chains >= 2
    assert "".join(export_lines(target.engine, target.log)).encode("ascii") == before.read_bytes()
