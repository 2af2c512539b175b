"""After a full sign-in journey, no secret or personal datum is in the logs, the audit log or the store."""

from __future__ import annotations

import logging

import redis
from sqlalchemy import inspect, select, text

from idp.db import get_db
from idp.store import get_store
from tests import backends
from tests.helpers import AuthActions, csrf_of, delivered_messages, link_path_in

PASSWORD = "Ma phrase secrète très longue 314"
ANSWER = "Les Zèbres Volants de Nulle-Part"
NUMEN = "55Q1234567XYZ"
NIR10 = "1920375056"
IDENTIFIER = "sacha.fictif@ac-exemple.fr"


def every_text_in_tables(app, tables: list[str]) -> str:
    chunks = []
    with get_db(app).engine.connect() as conn:
        for table in tables:
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.extend(str(v) for v in row)
    return "\n".join(chunks)


def store_dump(app) -> str:
    store = get_store(app)
    if hasattr(store, "client"):
        client = redis.Redis.from_url(backends.REDIS_URL, decode_responses=True)
        return "\n".join(f"{k}={client.get(k)}" for k in client.scan_iter(match=store.prefix + "*"))
    with store.engine.connect() as conn:
        return "\n".join(str(tuple(r)) for r in conn.execute(text("SELECT * FROM ephemeral_entry")))


def test_full_journey_leaves_no_secret_behind(app, client, voters, caplog):
    caplog.set_level(logging.DEBUG)
    voters.create(IDENTIFIER, password=None, numen=NUMEN, nir10=NIR10)
    auth = AuthActions(client)
    auth.submit_identifier(IDENTIFIER)
    page = client.get("/login/password")
    client.post("/login/activation", data={"csrf_token": csrf_of(page)})
    path = link_path_in(delivered_messages(app)[0].body)
    form_page = client.get(path)
    client.post(
        path,
        data={
            "csrf_token": csrf_of(form_page),
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "question": "football_team",
            "answer": ANSWER,
        },
    )
    client.get("/login/restart")
    auth.login(IDENTIFIER, PASSWORD + " faux")
    client.get("/login/restart")
    assert auth.login(IDENTIFIER, PASSWORD).status_code == 302

    tables = inspect(get_db(app).engine).get_table_names()
    audit_text = every_text_in_tables(app, ["audit_event"])
    all_tables_text = every_text_in_tables(app, [t for t in tables if t != "alembic_version"])
    logs = caplog.text
    store = store_dump(app)
    secrets_ = [PASSWORD, ANSWER, ANSWER.lower(), "zebres volants", NUMEN, NIR10]
    for secret in secrets_:
        assert secret not in all_tables_text, f"{secret!r} stored in the database"
        assert secret not in logs, f"{secret!r} in the logs"
        assert secret not in store, f"{secret!r} in the ephemeral store"
    # The identifier (a personal e-mail address) stays out of the audit log, the logs and the store.
    assert IDENTIFIER not in audit_text
    assert IDENTIFIER not in logs
    for line in store.splitlines():  # only inside the voter's own server-side session
        assert IDENTIFIER not in line or "session:" in line, line
    with get_db(app).transaction() as session:
        from idp.models import AuditEvent

        assert session.execute(select(AuditEvent.id)).first() is not None
