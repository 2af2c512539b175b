"""Auditor accounts: ``idp auditors add/list/reset/remove``, audited; an auditor is on no roll and never gets a vote
code (nor can the database hold one with identity numbers); the ``audit`` scope releases the account's roles, to
first-party clients registered by an operator only; migration 0004 keeps the existing accounts and their data."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from idp.db import get_db, make_engine
from idp.migrate import alembic_config, current_revision, upgrade
from idp.models import AuditEvent, Voter
from idp.models.voter import ROLE_AUDITOR
from idp.oidc import clients
from idp.oidc.clients import ClientSettings, ClientSettingsError
from idp.votecode.models import VoteCode
from idp.votecode.notices import issue_notices
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.backends import PG_ADMIN_URL
from tests.helpers import DEFAULT_PASSWORD, AuthActions
from tests.idp.audit.helpers import cli
from tests.oidc_helpers import Flow, make_client

pytest_plugins = ["tests.oidc_fixtures"]

AUDITOR = "sacha.controle@audit.example.fr"


def account(app, identifier: str = AUDITOR) -> Voter | None:
    with get_db(app).transaction() as session:
        return session.execute(select(Voter).where(Voter.identifier == identifier)).scalar_one_or_none()


def events_of(app, type_: str) -> list[AuditEvent]:
    with get_db(app).transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.type == type_)).scalars())


def test_add_list_reset_remove(app):
    added = cli(
        app,
        "auditors",
        "add",
        " Sacha.Controle@Audit.Example.fr ",
        "--name",
        "Sacha Marie de La Tour",
        "--family-name",
        "de La Tour",
    )
    assert added.exit_code == 0, added.output
    created = account(app)
    assert created is not None and created.role == ROLE_AUDITOR and not created.is_activated
    assert (created.first_names, created.family_name) == ("Sacha Marie", "de La Tour")
    assert created.birth_date is None and created.numen_hash is None and created.academie is None
    [event] = events_of(app, "auditor.added")
    assert event.subject == created.subject and AUDITOR not in event.data, "pseudonymous: no address in the log"

    listed = cli(app, "auditors", "list")
    assert listed.exit_code == 0
    assert listed.output.strip() == f"{AUDITOR}  Sacha Marie de La Tour  non activé  sujet {created.subject}"

    with get_db(app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.id == created.id)
            .values(password_hash="x", challenge_question="q", challenge_answer_hash="y")
        )
    assert cli(app, "auditors", "reset", AUDITOR).exit_code == 0
    reset = account(app)
    assert reset is not None and not reset.is_activated and reset.challenge_answer_hash is None
    assert reset.session_epoch == created.session_epoch + 1
    assert len(events_of(app, "auditor.reset")) == 1

    removed = cli(app, "auditors", "remove", AUDITOR)
    assert removed.exit_code == 0 and created.subject in removed.output
    assert account(app) is None and len(events_of(app, "auditor.removed")) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "pas-une-adresse", "--name", "Sacha Contrôle"], "identifiant invalide"),
        (["add", AUDITOR, "--name", "Sacha"], "le ou les prénoms puis le nom"),
        (["add", AUDITOR, "--name", "Sacha Contrôle", "--family-name", "Tour"], "doit être la fin de --name"),
        (["add", AUDITOR, "--name", "Sacha C0ntrôle"], "caractère"),
        (["remove", AUDITOR], "aucun compte"),
        (["reset", AUDITOR], "aucun compte"),
    ],
)
def test_refused_requests(app, args, message):
    result = cli(app, "auditors", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert account(app) is None


def test_voting_and_auditing_stay_apart(app, voters):
    voter = voters.create("dominique.electeur@ac-exemple.fr")
    both = cli(app, "auditors", "add", voter.identifier, "--name", "Dominique Électeur")
    assert both.exit_code == 1 and "déjà un compte électeur" in both.output
    assert cli(app, "auditors", "remove", voter.identifier).exit_code == 1, "a voter is not removed as an auditor"
    assert cli(app, "auditors", "add", AUDITOR, "--name", "Sacha Contrôle").exit_code == 0
    again = cli(app, "auditors", "add", AUDITOR, "--name", "Sacha Contrôle")
    assert again.exit_code == 1 and "déjà un compte auditeur" in again.output


def test_an_auditor_never_gets_a_vote_code(app, voters, tmp_path):
    voter = voters.create()
    assert cli(app, "auditors", "add", AUDITOR, "--name", "Sacha Contrôle").exit_code == 0
    auditor = account(app)
    assert auditor is not None
    report = issue_notices(
        get_db(app).sessionmaker,
        app.extensions["idp.keyed"],
        tmp_path / "notices",
        portal_url="https://portail.example.fr",
        pdf=False,
    )
    assert report.voters == 1 and list(report.academies) == ["exemple"]
    notices = (tmp_path / "notices" / "notices.csv").read_text(encoding="utf-8")
    assert voter.identifier in notices and AUDITOR not in notices
    with get_db(app).transaction() as session:
        holders = set(session.execute(select(VoteCode.voter_id)).scalars())
    assert holders == {voter.id}
    with app.app_context(), get_db(app).transaction() as session, pytest.raises(ValueError, match="no roll"):
        issue_code(session, session.get(Voter, auditor.id), "reassort", hasher=keyed_hasher())


@pytest.mark.parametrize(
    "values",
    [
        {"role": "auditor", "numen_hash": bytes(32)},
        {"role": "auditor", "birth_date": dt.date(1980, 1, 1)},
        {"role": "voter"},
        {"role": "admin"},
    ],
)
def test_the_database_keeps_roles_and_identities_consistent(app, values):
    row = {
        "subject": "0" * 32,
        "identifier": "x@audit.example.fr",
        "family_name": "X",
        "first_names": "Y",
        "session_epoch": 0,
        "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        **values,
    }
    with pytest.raises(IntegrityError), get_db(app).transaction() as session:
        session.execute(insert(Voter).values(**row))


def test_the_audit_scope_releases_the_roles(app, flow, voters):
    console = make_client(app, client_name="Console", scope="openid profile email audit")
    voter = voters.create()
    tokens = flow.tokens(console, voter, scope="openid profile audit")
    info = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert info["roles"] == ["voter"] and info["birthdate"] == "1985-07-21"
    # Without the scope, no roles; an auditor's userinfo has no birth date and no académie.
    plain = flow.tokens(console, voter, scope="openid profile email")
    assert (
        "roles"
        not in flow.client.get("/userinfo", headers={"Authorization": f"Bearer {plain['access_token']}"}).get_json()
    )
    assert cli(app, "auditors", "add", AUDITOR, "--name", "Sacha Contrôle").exit_code == 0
    with get_db(app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.identifier == AUDITOR)
            .values(
                password_hash=app.extensions["idp.hasher"].hash(DEFAULT_PASSWORD), activated_at=dt.datetime.now(dt.UTC)
            )
        )
    auditor = account(app)
    browser = app.test_client()
    auditor_flow = Flow(app, browser, AuthActions(browser))
    granted = auditor_flow.tokens(console, auditor, scope="openid profile email academie audit")
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {granted['access_token']}"}).get_json()
    assert info == {
        "sub": auditor.subject,
        "roles": ["auditor"],
        "name": "Sacha Contrôle",
        "given_name": "Sacha",
        "family_name": "Contrôle",
        "email": AUDITOR,
        "email_verified": True,
    }


def test_only_first_party_clients_may_hold_the_audit_scope(app, flow):
    third_party = ClientSettings(
        client_name="Tiers", redirect_uris=["https://tiers.example.fr/cb"], scope="openid audit"
    )
    with (
        app.app_context(),
        get_db(app).transaction() as session,
        pytest.raises(ClientSettingsError, match="audit only for a first-party client"),
    ):
        clients.create(session, third_party, app.config)
    # Self-registration (RFC 7591) never grants it: the scope is not among those offered, so it is refused.
    token = "initial-access-token-for-tests-0123456789"
    app.config["REGISTRATION_TOKEN"] = token
    registered = flow.client.post(
        "/register",
        headers={"Authorization": f"Bearer {token}"},
        json={"client_name": "Tiers", "redirect_uris": ["https://tiers.example.fr/cb"], "scope": "openid email audit"},
    )
    assert registered.status_code == 400 and registered.get_json()["error"] == "invalid_client_metadata"
    discovery = flow.client.get("/.well-known/openid-configuration").get_json()
    assert "audit" not in discovery["scopes_supported"]


def _voter_row(subject: str) -> dict[str, object]:
    now = dt.datetime(2026, 1, 1)
    return {
        "subject": subject,
        "identifier": f"{subject}@ac-exemple.fr",
        "family_name": "A",
        "first_names": "B",
        "birth_date": dt.date(1980, 1, 1),
        "birthplace": "21231",
        "academie": "exemple",
        "numen_hash": bytes(32),
        "nir_hash": bytes(32),
        "session_epoch": 0,
        "created_at": now,
        "updated_at": now,
    }


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_migration_0004_keeps_accounts_and_their_children(tmp_path, backend_name):
    """0003 -> 0004 -> 0003 -> 0004 with a voter and a vote code: SQLite rebuilds the voter table, and with foreign
    keys enforced a careless rebuild would delete every row that references it."""
    admin = None
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'migration.sqlite3'}"
    else:
        from tests import backends

        reason = None
        try:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text('DROP DATABASE IF EXISTS "idp_migration_0004"'))
                connection.execute(text('CREATE DATABASE "idp_migration_0004"'))
        except Exception as exc:  # any connection failure means "not available"
            reason = f"PostgreSQL not reachable: {type(exc).__name__}"
        if reason:
            backends.unavailable(reason)
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/idp_migration_0004"
    engine = make_engine(url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO voter (subject, identifier, family_name, first_names, birth_date, "
                    "birthplace, academie, numen_hash, nir_hash, session_epoch, created_at, "
                    "updated_at) VALUES (:subject, :identifier, :family_name, :first_names, "
                    ":birth_date, :birthplace, :academie, :numen_hash, :nir_hash, :session_epoch, "
                    ":created_at, :updated_at)"
                ),
                _voter_row("a" * 32),
            )
            voter_id = connection.execute(text("SELECT id FROM voter")).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO vote_code (voter_id, code_hash, issued_at, issued_by) VALUES "
                    "(:voter_id, :code_hash, :issued_at, 'notice')"
                ),
                {"voter_id": voter_id, "code_hash": bytes(32), "issued_at": dt.datetime(2026, 1, 1)},
            )
        for _ in range(2):
            upgrade(engine, "0004")
            assert current_revision(engine) == "0004"
            with engine.connect() as connection:
                assert connection.execute(text("SELECT role FROM voter")).scalar_one() == "voter"
                assert connection.execute(text("SELECT count(*) FROM vote_code")).scalar_one() == 1
            command.downgrade(alembic_config(engine), "0003")
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM vote_code")).scalar_one() == 1
        upgrade(engine)
        if backend_name == "sqlite":
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
                assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text('DROP DATABASE IF EXISTS "idp_migration_0004" WITH (FORCE)'))
            admin.dispose()


def test_the_models_match_the_migrations(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from idp.schema import metadata

    with get_db(app).engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert differences == []
