"""Operator accounts: ``idp operators add/list/reset/remove``, audited; an operator is on no roll, never gets a vote
code, and the database refuses one with a civil identity; one address, one role; the ``audit`` scope releases its
role; migration 0007 keeps every account and its children, and goes back down."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from idp.db import get_db, make_engine
from idp.migrate import alembic_config, current_revision, upgrade
from idp.models import AuditEvent, Voter
from idp.models.voter import ROLE_OPERATOR
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.backends import PG_ADMIN_URL
from tests.helpers import DEFAULT_PASSWORD, AuthActions
from tests.idp.audit.helpers import cli
from tests.oidc_helpers import Flow, make_client

pytest_plugins = ["tests.oidc_fixtures"]

OPERATOR = "alix.pilotage@pilotage.example.fr"
AUDITOR = "sacha.controle@audit.example.fr"


def account(app, identifier: str = OPERATOR) -> Voter | None:
    with get_db(app).transaction() as session:
        return session.execute(select(Voter).where(Voter.identifier == identifier)).scalar_one_or_none()


def events_of(app, type_: str) -> list[AuditEvent]:
    with get_db(app).transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.type == type_)).scalars())


def test_add_list_reset_remove(app):
    added = cli(app, "operators", "add", " Alix.Pilotage@Pilotage.Example.fr ", "--name", "Alix Marie Rivière")
    assert added.exit_code == 0, added.output
    assert "Compte opérateur créé : alix.pilotage@pilotage.example.fr" in added.output
    created = account(app)
    assert created is not None and created.role == ROLE_OPERATOR and not created.is_activated
    assert created.is_operator and not created.is_auditor and not created.is_voter
    assert (created.first_names, created.family_name) == ("Alix Marie", "Rivière")
    assert created.birth_date is None and created.numen_hash is None and created.academie is None
    [event] = events_of(app, "operator.added")
    assert event.subject == created.subject and OPERATOR not in event.data, "pseudonymous: no address in the log"

    listed = cli(app, "operators", "list")
    assert listed.exit_code == 0
    assert listed.output.strip() == f"{OPERATOR}  Alix Marie Rivière  non activé  sujet {created.subject}"

    with get_db(app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.id == created.id)
            .values(password_hash="x", challenge_question="q", challenge_answer_hash="y")
        )
    assert "activé" in cli(app, "operators", "list").output
    assert cli(app, "operators", "reset", OPERATOR).exit_code == 0
    reset = account(app)
    assert reset is not None and not reset.is_activated and reset.challenge_answer_hash is None
    assert reset.session_epoch == created.session_epoch + 1
    assert len(events_of(app, "operator.reset")) == 1

    removed = cli(app, "operators", "remove", OPERATOR)
    assert removed.exit_code == 0 and created.subject in removed.output
    assert account(app) is None and len(events_of(app, "operator.removed")) == 1
    assert cli(app, "operators", "list").output.strip() == "Aucun compte opérateur."


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "pas-une-adresse", "--name", "Alix Rivière"], "identifiant invalide"),
        (["add", OPERATOR, "--name", "Alix"], "le ou les prénoms puis le nom"),
        (["add", OPERATOR, "--name", "Alix Rivière", "--family-name", "Tour"], "doit être la fin de --name"),
        (["remove", OPERATOR], "aucun compte"),
        (["reset", OPERATOR], "aucun compte"),
    ],
)
def test_refused_requests(app, args, message):
    result = cli(app, "operators", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert account(app) is None


def test_one_address_one_role(app, voters):
    voter = voters.create("dominique.electeur@ac-exemple.fr")
    both = cli(app, "operators", "add", voter.identifier, "--name", "Dominique Électeur")
    assert both.exit_code == 1 and "déjà un compte électeur" in both.output
    assert cli(app, "operators", "remove", voter.identifier).exit_code == 1, "a voter is not removed as an operator"
    assert cli(app, "auditors", "add", AUDITOR, "--name", "Sacha Contrôle").exit_code == 0
    auditing = cli(app, "operators", "add", AUDITOR, "--name", "Sacha Contrôle")
    assert auditing.exit_code == 1 and "déjà un compte auditeur" in auditing.output
    removed = cli(app, "operators", "remove", AUDITOR)
    assert removed.exit_code == 1 and "compte auditeur, pas un compte opérateur" in removed.output
    assert account(app, AUDITOR) is not None
    assert cli(app, "operators", "add", OPERATOR, "--name", "Alix Rivière").exit_code == 0
    again = cli(app, "operators", "add", OPERATOR, "--name", "Alix Rivière")
    assert again.exit_code == 1 and "déjà un compte opérateur" in again.output
    as_auditor = cli(app, "auditors", "add", OPERATOR, "--name", "Alix Rivière")
    assert as_auditor.exit_code == 1 and "déjà un compte" in as_auditor.output
    assert cli(app, "auditors", "remove", OPERATOR).exit_code == 1, "an operator is not removed as an auditor"


def test_an_operator_never_gets_a_vote_code(app):
    assert cli(app, "operators", "add", OPERATOR, "--name", "Alix Rivière").exit_code == 0
    operator = account(app)
    assert operator is not None
    with app.app_context(), get_db(app).transaction() as session, pytest.raises(ValueError, match="no roll"):
        issue_code(session, session.get(Voter, operator.id), "reassort", hasher=keyed_hasher())


@pytest.mark.parametrize(
    "values",
    [
        {"role": "operator", "numen_hash": bytes(32)},
        {"role": "operator", "birthplace": "21231"},
        {"role": "operator", "academie": "dijon"},
        {"role": "operateur"},
    ],
)
def test_the_database_keeps_operators_without_identity(app, values):
    row = {
        "subject": "0" * 32,
        "identifier": "x@pilotage.example.fr",
        "family_name": "X",
        "first_names": "Y",
        "session_epoch": 0,
        "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        **values,
    }
    with pytest.raises(IntegrityError), get_db(app).transaction() as session:
        session.execute(insert(Voter).values(**row))


def test_the_audit_scope_releases_the_operator_role(app, flow):
    console = make_client(app, client_name="Console des opérateurs", scope="openid profile email audit")
    assert cli(app, "operators", "add", OPERATOR, "--name", "Alix Rivière").exit_code == 0
    with get_db(app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.identifier == OPERATOR)
            .values(
                password_hash=app.extensions["idp.hasher"].hash(DEFAULT_PASSWORD), activated_at=dt.datetime.now(dt.UTC)
            )
        )
    operator = account(app)
    browser = app.test_client()
    operator_flow = Flow(app, browser, AuthActions(browser))
    granted = operator_flow.tokens(console, operator, scope="openid profile email audit")
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {granted['access_token']}"}).get_json()
    assert info["roles"] == ["operator"] and info["sub"] == operator.subject and "birthdate" not in info


def test_console_client_registration(app):
    result = cli(app, "operators", "console-client", "--url", "http://127.0.0.1:26500/")
    assert result.exit_code == 0, result.output
    assert "client_id: operator-console" in result.output
    assert "OPERATOR_CONSOLE_PUBLIC_URL=http://127.0.0.1:26500" in result.output
    from idp.oidc.clients import find

    with get_db(app).transaction() as session:
        client = find(session, "operator-console")
        assert client is not None
        assert client.redirect_uris == ["http://127.0.0.1:26500/connexion/retour"]
        assert "audit" in client.scope.split()


def _row(subject: str, **values: object) -> dict[str, object]:
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
        "role": "voter",
        **values,
    }


INSERT = text(
    "INSERT INTO voter (subject, identifier, role, family_name, first_names, birth_date, birthplace, academie, "
    "numen_hash, nir_hash, session_epoch, created_at, updated_at) VALUES (:subject, :identifier, :role, "
    ":family_name, :first_names, :birth_date, :birthplace, :academie, :numen_hash, :nir_hash, :session_epoch, "
    ":created_at, :updated_at)"
)
NO_IDENTITY = dict.fromkeys(("birth_date", "birthplace", "academie", "numen_hash", "nir_hash"))


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_migration_0007_keeps_accounts_and_their_children(tmp_path, backend_name):
    """0006 -> 0007 -> 0006 -> 0007 with a voter, its vote code and an auditor: SQLite rebuilds the voter table
    with foreign keys off; going down removes the operators only."""
    admin = None
    database = "idp_migration_0007_console"
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'migration.sqlite3'}"
    else:
        from tests import backends

        reason = None
        try:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
                connection.execute(text(f'CREATE DATABASE "{database}"'))
        except Exception as exc:  # any connection failure means "not available"
            reason = f"PostgreSQL not reachable: {type(exc).__name__}"
        if reason:
            backends.unavailable(reason)
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
    engine = make_engine(url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as connection:
            connection.execute(INSERT, _row("a" * 32))
            connection.execute(INSERT, _row("b" * 32, identifier="b@audit.example.fr", role="auditor", **NO_IDENTITY))
            voter_id = connection.execute(text("SELECT id FROM voter WHERE role = 'voter'")).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO vote_code (voter_id, code_hash, issued_at, issued_by) VALUES "
                    "(:voter_id, :code_hash, :issued_at, 'notice')"
                ),
                {"voter_id": voter_id, "code_hash": bytes(32), "issued_at": dt.datetime(2026, 1, 1)},
            )
        for _ in range(2):
            upgrade(engine, "0007")
            assert current_revision(engine) == "0007"
            with engine.begin() as connection:
                connection.execute(
                    INSERT, _row("c" * 32, identifier="c@pilotage.example.fr", role="operator", **NO_IDENTITY)
                )
                roles = connection.execute(text("SELECT role FROM voter ORDER BY subject")).scalars().all()
                assert roles == ["voter", "auditor", "operator"]
                assert connection.execute(text("SELECT count(*) FROM vote_code")).scalar_one() == 1
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(INSERT, _row("d" * 32, identifier="d@pilotage.example.fr", role="operator"))
            command.downgrade(alembic_config(engine), "0006")
            with engine.connect() as connection:
                roles = connection.execute(text("SELECT role FROM voter ORDER BY subject")).scalars().all()
                assert roles == ["voter", "auditor"]
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
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
