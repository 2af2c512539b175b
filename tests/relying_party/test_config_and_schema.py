"""Configuration layering, refusal of unsafe settings, and the portal's own migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from relying_party import config, create_app
from relying_party.cli import main
from relying_party.db import make_engine
from relying_party.migrate import VERSION_TABLE, SchemaNotCurrent, current_revision, head_revision, upgrade
from tests import backends as suite_backends

WEB = {
    "SECRET_KEY": "s" * 40,
    "IDP_ISSUER": "https://idp.example.fr",
    "CLIENT_ID": "portail",
    "CLIENT_SECRET": "secret",
    "PUBLIC_URL": "https://elections.example.fr",
}


def test_layering_defaults_environment_files_overrides(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-" + "x" * 30 + "\n", encoding="utf-8")
    environ = {
        "PORTAL_VOTE_MAX_AGE": "120",
        "PORTAL_SECRET_KEY_FILE": str(secret_file),
        "PORTAL_SMTP_STARTTLS": "yes",
        "PORTAL_CLIENT_ID": "from-env",
    }
    settings = config.load(environ, {"CLIENT_ID": "from-overrides"})
    assert settings["VOTE_MAX_AGE"] == 120
    assert settings["SECRET_KEY"] == "from-a-file-" + "x" * 30
    assert settings["SMTP_STARTTLS"] is True
    assert settings["CLIENT_ID"] == "from-overrides"
    assert settings["VOTE_ACR"] == "urn:portail-elections:acr:password+vote-code"
    with pytest.raises(ValueError, match="PORTAL_VOTE_MAX_AGE must be an integer"):
        config.load({"PORTAL_VOTE_MAX_AGE": "cinq"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": None}, "PORTAL_SECRET_KEY is required"),
        ({"SECRET_KEY": "court"}, "at least 32 characters"),
        ({"IDP_ISSUER": None}, "PORTAL_IDP_ISSUER is required"),
        ({"IDP_ISSUER": "http://idp.example.fr"}, "must use https in production"),
        ({"VOTE_LEVEL_TTL": 60}, "at least PORTAL_VOTE_MAX_AGE"),
        ({"SCOPES": "profile email"}, "must contain openid"),
        ({"ENV": "staging"}, "PORTAL_ENV must be"),
    ],
)
def test_unsafe_settings_are_refused(change: dict[str, Any], message: str) -> None:
    settings = config.load({}, {**WEB, **change})
    with pytest.raises(ValueError, match=message):
        config.validate(settings)


def test_operators_commands_need_only_the_database() -> None:
    config.validate(config.load({}, {"SECRET_KEY": None}), web=False)


def test_refuses_to_start_unmigrated_then_db_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    settings = {**WEB, "ENV": "testing", "DATABASE_URL": url}
    with pytest.raises(SchemaNotCurrent, match="portal db upgrade"):
        create_app(settings)
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "check"]).exit_code == 1
    result = runner.invoke(main, ["db", "upgrade"])
    engine = make_engine(url)
    assert result.exit_code == 0 and f"portal database at revision {head_revision(engine)}" in result.output
    engine.dispose()
    assert runner.invoke(main, ["db", "check"]).exit_code == 0
    app = create_app(settings)
    assert app.config["CLIENT_ID"] == "portail"
    from relying_party.db import get_db

    get_db(app).dispose()


def test_portal_and_idp_share_one_postgresql_database() -> None:
    """Own version table and ``portal_`` tables: both migration histories live side by side."""
    from idp.migrate import check_current as idp_check
    from idp.migrate import upgrade as idp_upgrade

    admin_url = suite_backends.PG_ADMIN_URL
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"portal_shared_test_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        suite_backends.unavailable(f"PostgreSQL not reachable: {type(exc).__name__}")
        return
    engine = make_engine(admin_url.rsplit("/", 1)[0] + "/" + name)
    try:
        idp_upgrade(engine)
        upgrade(engine)
        idp_check(engine)
        assert current_revision(engine) == head_revision(engine)
        tables = set(inspect(engine).get_table_names())
        assert {VERSION_TABLE, "alembic_version", "portal_ballot", "voter"} <= tables
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_existing_scrutins_keep_proof_format_1_and_new_ones_get_the_current_format(tmp_path: Path) -> None:
    """Migration 0007: a scrutin created before it keeps manifest version 1 (its election hash, and every ballot
    bound to it, cover the version); a scrutin created after it gets the current format."""
    import datetime as dt

    from sqlalchemy.orm import Session

    from relying_party.models import Scrutin
    from votecrypto.ballot import CURRENT_FORMAT

    engine = make_engine(f"sqlite:///{tmp_path / 'formats.sqlite3'}")
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO portal_scrutin (code, label, kind, opens_at, closes_at) VALUES "
                    "('AVANT', 'Scrutin fictif', 'ccp', '2026-12-01 08:00:00', '2026-12-08 17:00:00')"
                )
            )
        upgrade(engine)
        with Session(engine) as session:
            now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
            session.add(
                Scrutin(
                    code="APRES", label="Scrutin fictif", kind="ccp", opens_at=now, closes_at=now + dt.timedelta(days=1)
                )
            )
            session.commit()
            versions = {
                code: version
                for code, version in session.execute(text("SELECT code, manifest_version FROM portal_scrutin"))
            }
        assert versions == {"AVANT": 1, "APRES": CURRENT_FORMAT} and CURRENT_FORMAT == 2
    finally:
        engine.dispose()
