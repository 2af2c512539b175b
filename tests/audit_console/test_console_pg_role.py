"""The documented PostgreSQL role of the console (``audit_console/readonly_role.sql``): the console works with it,
and it can neither write (even after lifting the read-only default) nor read a secret or personal column."""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from idp.db import get_db
from infra.db import get_db as get_console_db
from tests.audit_console.test_console_pages import signed_in
from tests.idp.audit.helpers import record_events

SQL = Path(__file__).resolve().parents[2] / "audit_console" / "readonly_role.sql"


def statements(role: str, password: str) -> list[str]:
    body = "\n".join(line for line in SQL.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    body = body.replace(":password", f"'{password}'").replace("audit_console", role)
    return [statement.strip() for statement in body.split(";") if statement.strip()]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # a role is a PostgreSQL matter
def test_the_documented_read_only_role(app, backend, make_console):
    role, password = f"audit_console_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    owner = get_db(app).engine
    with owner.begin() as connection:
        for statement in statements(role, password):
            connection.execute(text(statement))
    url = make_url(backend.database_url).set(username=role, password=password)
    try:
        record_events(app, 3)
        console = make_console(DATABASE_URL=url.render_as_string(hide_password=False))
        client = signed_in(app, console)
        page = client.get("/journal")
        assert page.status_code == 200 and "login.succeeded" in page.get_data(as_text=True)
        assert client.get("/jetons?sujet=sujet-fictif-1").status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert csrf
        client.post("/verification", data={"csrf_token": csrf.group(1)})
        assert "Chaînes intègres" in html.unescape(client.get("/journal").get_data(as_text=True))
        get_console_db(console).engine.dispose()

        direct = create_engine(url)
        for statement in (
            "SELECT password_hash FROM voter",
            "SELECT identifier FROM voter",
            "SELECT token_hash FROM oidc_token",
            "SELECT * FROM oidc_client",
            "SET TRANSACTION READ WRITE; DELETE FROM audit_event",
            "SET TRANSACTION READ WRITE; UPDATE voter SET role = 'auditor'",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"), direct.begin() as connection:
                for part in statement.split("; "):
                    connection.execute(text(part))
        direct.dispose()
    finally:
        with owner.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
