"""Staff accounts, for each staff role (auditors, operators): ``idp <group> add/list/reset/remove``, audited as
``<role>.added/reset/removed`` with a pseudonymous subject; a staff account is on no roll and never gets a vote code,
and the database refuses one with a civil identity; one address, one role (voter, auditor or operator); the
``audit`` scope releases the account's role, to first-party clients registered by an operator only; each role's
console is registered with ``console-client``; the migrations that brought each role (0004 auditors, 0007
operators) keep every account and its children, and go back down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from idp.db import get_db, make_engine
from idp.migrate import alembic_config, current_revision, upgrade
from idp.models import AuditEvent, Voter
from idp.models.voter import ROLE_AUDITOR, ROLE_OPERATOR
from idp.oidc import clients
from idp.oidc.clients import ClientSettings, ClientSettingsError
from idp.votecode.models import VoteCode
from idp.votecode.notices import issue_notices
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests import backends
from tests.backends import PG_ADMIN_URL
from tests.helpers import DEFAULT_PASSWORD, AuthActions
from tests.idp.audit.helpers import cli
from tests.oidc_helpers import Flow, make_client

pytest_plugins = ["tests.oidc_fixtures"]


@dataclass(frozen=True)
class Staff:
    """One staff role as its commands and its console see it."""

    group: str
    role: str
    noun: str
    identifier: str
    name: str
    console_id: str
    console_name: str
    #: The e-mail domain of the role's accounts in these tests (a voter's is ac-exemple.fr).
    domain: str


AUDITORS = Staff(
    "auditors",
    ROLE_AUDITOR,
    "auditeur",
    "sacha.controle@audit.example.fr",
    "Sacha Contrôle",
    "audit-console",
    "Journal d'audit (console des auditeurs)",
    "audit.example.fr",
)
OPERATORS = Staff(
    "operators",
    ROLE_OPERATOR,
    "opérateur",
    "alix.pilotage@pilotage.example.fr",
    "Alix Rivière",
    "operator-console",
    "Console des opérateurs",
    "pilotage.example.fr",
)
ROLES = {staff.group: staff for staff in (AUDITORS, OPERATORS)}


@pytest.fixture(params=list(ROLES.values()), ids=list(ROLES))
def staff(request: pytest.FixtureRequest) -> Staff:
    return request.param  # type: ignore[no-any-return]


def other_than(staff: Staff) -> Staff:
    return OPERATORS if staff is AUDITORS else AUDITORS


def account(app, identifier: str) -> Voter | None:
    with get_db(app).transaction() as session:
        return session.execute(select(Voter).where(Voter.identifier == identifier)).scalar_one_or_none()


def events_of(app, type_: str) -> list[AuditEvent]:
    with get_db(app).transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.type == type_)).scalars())


def add(app, staff: Staff, identifier: str | None = None) -> None:
    added = cli(app, staff.group, "add", identifier or staff.identifier, "--name", staff.name)
    assert added.exit_code == 0, added.output


def activate_by_hand(app, identifier: str) -> Voter:
    with get_db(app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.identifier == identifier)
            .values(
                password_hash=app.extensions["idp.hasher"].hash(DEFAULT_PASSWORD), activated_at=dt.datetime.now(dt.UTC)
            )
        )
    activated = account(app, identifier)
    assert activated is not None
    return activated


def test_add_list_reset_remove(app, staff):
    typed = f" {staff.identifier.title()} "  # spaces and capitals are normalised away
    added = cli(app, staff.group, "add", typed, "--name", "Camille Marie de La Tour", "--family-name", "de La Tour")
    assert added.exit_code == 0, added.output
    assert f"Compte {staff.noun} créé : {staff.identifier}" in added.output
    created = account(app, staff.identifier)
    assert created is not None and created.role == staff.role and not created.is_activated
    assert (created.is_auditor, created.is_operator, created.is_voter) == (staff is AUDITORS, staff is OPERATORS, False)
    assert (created.first_names, created.family_name) == ("Camille Marie", "de La Tour")
    assert created.birth_date is None and created.numen_hash is None and created.academie is None
    [event] = events_of(app, f"{staff.role}.added")
    assert event.subject == created.subject and staff.identifier not in event.data, "pseudonymous: no address"

    listed = cli(app, staff.group, "list")
    assert listed.exit_code == 0
    assert listed.output.strip() == f"{staff.identifier}  Camille Marie de La Tour  non activé  sujet {created.subject}"

    with get_db(app).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.id == created.id)
            .values(password_hash="x", challenge_question="q", challenge_answer_hash="y")
        )
    assert f"{staff.identifier}  Camille Marie de La Tour  activé" in cli(app, staff.group, "list").output
    assert cli(app, staff.group, "reset", staff.identifier).exit_code == 0
    reset = account(app, staff.identifier)
    assert reset is not None and not reset.is_activated and reset.challenge_answer_hash is None
    assert reset.session_epoch == created.session_epoch + 1
    assert len(events_of(app, f"{staff.role}.reset")) == 1

    removed = cli(app, staff.group, "remove", staff.identifier)
    assert removed.exit_code == 0 and created.subject in removed.output
    assert account(app, staff.identifier) is None and len(events_of(app, f"{staff.role}.removed")) == 1
    assert cli(app, staff.group, "list").output.strip() == f"Aucun compte {staff.noun}."


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "pas-une-adresse", "--name", "Camille Rivière"], "identifiant invalide"),
        (["add", "{identifier}", "--name", "Camille"], "le ou les prénoms puis le nom"),
        (["add", "{identifier}", "--name", "Camille Rivière", "--family-name", "Tour"], "doit être la fin de --name"),
        (["add", "{identifier}", "--name", "Camille R1vière"], "caractère"),
        (["remove", "{identifier}"], "aucun compte"),
        (["reset", "{identifier}"], "aucun compte"),
    ],
)
def test_refused_requests(app, staff, args, message):
    result = cli(app, staff.group, *(arg.format(identifier=staff.identifier) for arg in args))
    assert result.exit_code == 1 and message in result.output, result.output
    assert account(app, staff.identifier) is None


def test_one_address_one_role(app, voters, staff):
    other = other_than(staff)
    voter = voters.create("dominique.electeur@ac-exemple.fr")
    as_voter = cli(app, staff.group, "add", voter.identifier, "--name", "Dominique Électeur")
    assert as_voter.exit_code == 1 and "déjà un compte électeur" in as_voter.output
    assert cli(app, staff.group, "remove", voter.identifier).exit_code == 1, f"a voter is not removed as {staff.noun}"

    add(app, other)
    taken = cli(app, staff.group, "add", other.identifier, "--name", other.name)
    assert taken.exit_code == 1 and f"déjà un compte {other.noun}" in taken.output
    removed = cli(app, staff.group, "remove", other.identifier)
    assert removed.exit_code == 1 and f"compte {other.noun}, pas un compte {staff.noun}" in removed.output
    assert account(app, other.identifier) is not None

    add(app, staff)
    again = cli(app, staff.group, "add", staff.identifier, "--name", staff.name)
    assert again.exit_code == 1 and f"déjà un compte {staff.noun}" in again.output


def test_a_staff_account_is_on_no_roll_and_never_gets_a_vote_code(app, voters, staff, tmp_path):
    voter = voters.create()
    add(app, staff)
    member = account(app, staff.identifier)
    assert member is not None
    report = issue_notices(
        get_db(app).sessionmaker,
        keyed_hasher(app),
        tmp_path / "notices",
        portal_url="https://portail.example.fr",
        pdf=False,
    )
    assert report.voters == 1 and list(report.academies) == ["exemple"]
    notices = (tmp_path / "notices" / "notices.csv").read_text(encoding="utf-8")
    assert voter.identifier in notices and staff.identifier not in notices
    with get_db(app).transaction() as session:
        holders = set(session.execute(select(VoteCode.voter_id)).scalars())
    assert holders == {voter.id}
    with app.app_context(), get_db(app).transaction() as session, pytest.raises(ValueError, match="no roll"):
        issue_code(session, session.get(Voter, member.id), "reassort", hasher=keyed_hasher())


@pytest.mark.parametrize(
    "values",
    [
        {"numen_hash": bytes(32)},
        {"birth_date": dt.date(1980, 1, 1)},
        {"birthplace": "21231"},
        {"academie": "dijon"},
    ],
    ids=["numen", "birth_date", "birthplace", "academie"],
)
def test_the_database_refuses_a_staff_account_with_an_identity(app, staff, values):
    with pytest.raises(IntegrityError), get_db(app).transaction() as session:
        session.execute(insert(Voter).values(**_bare_row(f"x@{staff.domain}", role=staff.role, **values)))


@pytest.mark.parametrize("role", ["voter", "admin", "operateur"])
def test_the_database_refuses_an_unknown_role_or_a_voter_without_identity(app, role):
    with pytest.raises(IntegrityError), get_db(app).transaction() as session:
        session.execute(insert(Voter).values(**_bare_row("x@audit.example.fr", role=role)))


def _bare_row(identifier: str, **values: object) -> dict[str, object]:
    return {
        "subject": "0" * 32,
        "identifier": identifier,
        "family_name": "X",
        "first_names": "Y",
        "session_epoch": 0,
        "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        **values,
    }


def test_the_audit_scope_releases_a_voters_role_only_when_asked(app, flow, voters):
    console = make_client(app, client_name="Console", scope="openid profile email audit")
    voter = voters.create()
    tokens = flow.tokens(console, voter, scope="openid profile audit")
    info = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert info["roles"] == ["voter"] and info["birthdate"] == "1985-07-21"
    plain = flow.tokens(console, voter, scope="openid profile email")
    without = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {plain['access_token']}"}).get_json()
    assert "roles" not in without


def test_the_audit_scope_releases_the_staff_role(app, flow, staff):
    console = make_client(app, client_name=staff.console_name, scope="openid profile email audit")
    add(app, staff)
    member = activate_by_hand(app, staff.identifier)
    browser = app.test_client()
    granted = Flow(app, browser, AuthActions(browser)).tokens(
        console, member, scope="openid profile email academie audit"
    )
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {granted['access_token']}"}).get_json()
    given, family = staff.name.split()
    # No birth date and no académie: a staff account has none.
    assert info == {
        "sub": member.subject,
        "roles": [staff.role],
        "name": staff.name,
        "given_name": given,
        "family_name": family,
        "email": staff.identifier,
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


def test_console_client_registration(app, staff):
    result = cli(app, staff.group, "console-client", "--url", "http://127.0.0.1:26500/")
    assert result.exit_code == 0, result.output
    assert f"client_id: {staff.console_id}" in result.output
    prefix = "AUDIT_CONSOLE_" if staff is AUDITORS else "OPERATOR_CONSOLE_"
    assert f"{prefix}PUBLIC_URL=http://127.0.0.1:26500" in result.output
    with get_db(app).transaction() as session:
        client = clients.find(session, staff.console_id)
        assert client is not None and client.client_name == staff.console_name
        assert client.redirect_uris == ["http://127.0.0.1:26500/connexion/retour"]
        assert "audit" in client.scope.split()


# --- the migrations that brought each role ------------------------------------------------------------------


def _voter_row(subject: str, **values: object) -> dict[str, object]:
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
        **values,
    }


#: Before 0004 the voter table has no role column.
INSERT_VOTER = text(
    "INSERT INTO voter (subject, identifier, family_name, first_names, birth_date, birthplace, academie, "
    "numen_hash, nir_hash, session_epoch, created_at, updated_at) VALUES (:subject, :identifier, :family_name, "
    ":first_names, :birth_date, :birthplace, :academie, :numen_hash, :nir_hash, :session_epoch, :created_at, "
    ":updated_at)"
)
INSERT_WITH_ROLE = text(
    "INSERT INTO voter (subject, identifier, role, family_name, first_names, birth_date, birthplace, academie, "
    "numen_hash, nir_hash, session_epoch, created_at, updated_at) VALUES (:subject, :identifier, :role, "
    ":family_name, :first_names, :birth_date, :birthplace, :academie, :numen_hash, :nir_hash, :session_epoch, "
    ":created_at, :updated_at)"
)
INSERT_VOTE_CODE = text(
    "INSERT INTO vote_code (voter_id, code_hash, issued_at, issued_by) VALUES "
    "(:voter_id, :code_hash, :issued_at, 'notice')"
)
NO_IDENTITY = dict.fromkeys(("birth_date", "birthplace", "academie", "numen_hash", "nir_hash"))


@contextmanager
def migration_engine(tmp_path: Path, backend_name: str, database: str) -> Iterator[Engine]:
    """An empty database of the back end (a PostgreSQL database of its own, dropped at the end); at the end its
    foreign keys are checked on SQLite (a table rebuilt with them off must leave none broken)."""
    admin = None
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'migration.sqlite3'}"
    else:
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
        yield engine
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


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_migration_0004_keeps_accounts_and_their_children(tmp_path, backend_name):
    """0003 -> 0004 -> 0003 -> 0004 with a voter and a vote code: SQLite rebuilds the voter table, and with foreign
    keys enforced a careless rebuild would delete every row that references it."""
    with migration_engine(tmp_path, backend_name, "idp_migration_0004") as engine:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            connection.execute(INSERT_VOTER, _voter_row("a" * 32))
            voter_id = connection.execute(text("SELECT id FROM voter")).scalar_one()
            connection.execute(
                INSERT_VOTE_CODE, {"voter_id": voter_id, "code_hash": bytes(32), "issued_at": dt.datetime(2026, 1, 1)}
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


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_migration_0007_keeps_accounts_and_their_children(tmp_path, backend_name):
    """0006 -> 0007 -> 0006 -> 0007 with a voter, its vote code and an auditor: SQLite rebuilds the voter table
    with foreign keys off; going down removes the operators only."""
    with migration_engine(tmp_path, backend_name, "idp_migration_0007_console") as engine:
        upgrade(engine, "0006")
        with engine.begin() as connection:
            connection.execute(INSERT_WITH_ROLE, _voter_row("a" * 32, role="voter"))
            connection.execute(
                INSERT_WITH_ROLE, _voter_row("b" * 32, identifier="b@audit.example.fr", role="auditor", **NO_IDENTITY)
            )
            voter_id = connection.execute(text("SELECT id FROM voter WHERE role = 'voter'")).scalar_one()
            connection.execute(
                INSERT_VOTE_CODE, {"voter_id": voter_id, "code_hash": bytes(32), "issued_at": dt.datetime(2026, 1, 1)}
            )
        for _ in range(2):
            upgrade(engine, "0007")
            assert current_revision(engine) == "0007"
            with engine.begin() as connection:
                connection.execute(
                    INSERT_WITH_ROLE,
                    _voter_row("c" * 32, identifier="c@pilotage.example.fr", role="operator", **NO_IDENTITY),
                )
                roles = connection.execute(text("SELECT role FROM voter ORDER BY subject")).scalars().all()
                assert roles == ["voter", "auditor", "operator"]
                assert connection.execute(text("SELECT count(*) FROM vote_code")).scalar_one() == 1
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(
                    INSERT_WITH_ROLE, _voter_row("d" * 32, identifier="d@pilotage.example.fr", role="operator")
                )
            command.downgrade(alembic_config(engine), "0006")
            with engine.connect() as connection:
                roles = connection.execute(text("SELECT role FROM voter ORDER BY subject")).scalars().all()
                assert roles == ["voter", "auditor"]
                assert connection.execute(text("SELECT count(*) FROM vote_code")).scalar_one() == 1


def test_the_models_match_the_migrations(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from idp.schema import metadata

    with get_db(app).engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert differences == []
