"""The documented PostgreSQL role of the console (``operator_console/readonly_role_*.sql``): every page works with
it, and it can neither write (even after lifting the read-only default) nor read a secret or personal column."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from idp.db import get_db
from infra.db import get_db as get_console_db
from operator_console.figures import portal_engine
from relying_party.db import get_db as portal_db
from tests.operator_console.test_pages import PAGES, signed_in

FOLDER = Path(__file__).resolve().parents[2] / "operator_console"


def statements(name: str, role: str, password: str) -> list[str]:
    lines = (FOLDER / name).read_text(encoding="utf-8").splitlines()
    body = "\n".join(line for line in lines if not line.startswith("--"))
    body = body.replace(":password", f"'{password}'").replace("operator_console", role)
    return [statement.strip() for statement in body.split(";") if statement.strip()]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # a role is a PostgreSQL matter
def test_the_documented_read_only_role(app, backend, portal, portal_storage, make_console):
    role, password = f"operator_console_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    owners = {"idp": get_db(app).engine, "portal": portal_db(portal).engine}
    for name, engine in owners.items():
        with engine.begin() as connection:
            for statement in statements(f"readonly_role_{name}.sql", role, password):
                connection.execute(text(statement))
    idp_url = make_url(backend.database_url).set(username=role, password=password)
    portal_url = make_url(portal_storage.database_url).set(username=role, password=password)
    try:
        console = make_console(
            DATABASE_URL=idp_url.render_as_string(hide_password=False),
            PORTAL_DATABASE_URL=portal_url.render_as_string(hide_password=False),
        )
        client = signed_in(app, console)
        for path in PAGES:
            assert client.get(path).status_code == 200, path
        assert client.get("/healthz").status_code == 200
        get_console_db(console).engine.dispose()
        portal_engine(console).dispose()

        for url, refused in (
            (
                idp_url,
                (
                    "SELECT identifier FROM voter",
                    "SELECT password_hash FROM voter",
                    "SELECT payload FROM outbox_message",
                    "SELECT token_hash FROM oidc_token",
                    "SET TRANSACTION READ WRITE; DELETE FROM audit_event",
                ),
            ),
            (
                portal_url,
                (
                    "SELECT display_name FROM portal_roll_entry",
                    "SELECT receipt FROM portal_emargement",
                    "SELECT * FROM portal_ballot",
                    "SET TRANSACTION READ WRITE; DELETE FROM portal_emargement",
                ),
            ),
        ):
            direct = create_engine(url)
            for statement in refused:
                with pytest.raises(ProgrammingError, match="permission denied"), direct.begin() as connection:
                    for part in statement.split("; "):
                        connection.execute(text(part))
            direct.dispose()
    finally:
        for engine in owners.values():
            with engine.begin() as connection:
                connection.execute(text(f'DROP OWNED BY "{role}"'))
        with owners["idp"].begin() as connection:
            connection.execute(text(f'DROP ROLE "{role}"'))
