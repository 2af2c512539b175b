"""The portal's audit log: what is recorded where, what it never holds, and that it is tamper-evident in the IdP's
exact format (``portal audit verify``; ``portal audit export`` checked by ``tools/verify_audit_export.py``).

Every test runs on SQLite and on PostgreSQL + Redis (the ``app`` fixture).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, text, update
from sqlalchemy import event as sa_event

from hashchain import ExportFilter, ProblemKind
from relying_party.audit import EVENT_TYPES, record, voter_reference
from relying_party.audit.log import export_lines, verify
from relying_party.audit.pseudonym import audit_key
from relying_party.cli import main
from relying_party.db import get_db
from relying_party.elections.importer import import_document
from relying_party.models import AuditEvent, Ballot, CandidateList, Emargement, Scrutin, utcnow
from relying_party.voting.mixing import mix
from relying_party.voting.service import AlreadyVoted, VoteRefused, has_voted
from tests.relying_party import test_signin_live_idp as live
from tests.relying_party.ceremony import PASSPHRASE
from tests.relying_party.helpers import (
    CLAIRE,
    MARC,
    captcha_fields,
    csrf_of,
    list_ids,
    load,
    scrutin_entry,
    scrutin_id,
    sign_in,
    standard_document,
    text_of,
)
from tests.relying_party.voting import (
    ballot_from_html,
    ballot_page,
    cast_choice,
    choice_index,
    ensure_key,
    post_ballot,
    vote,
)

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_export.py"
VOTERS = {f"audite.{n:02d}@ac-exemple.fr": f"Mme AUDITÉE {n:02d}" for n in range(6)}

#: The live IdP + portal of test_signin_live_idp.py (real sign-in, vote-code step and ballot).
suite = live.suite
#: The module :mod:`hashchain.append` (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")


# --- helpers -------------------------------------------------------------------------------------------------------


def events(app: Flask, type: str | None = None) -> list[AuditEvent]:
    with get_db(app).sessionmaker() as session:
        query = select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq)
        if type is not None:
            query = query.where(AuditEvent.type == type)
        return list(session.execute(query).scalars())


def counts(app: Flask) -> tuple[int, int]:
    with get_db(app).sessionmaker() as session:
        ballots = session.execute(select(func.count()).select_from(Ballot)).scalar_one()
        emargements = session.execute(select(func.count()).select_from(Emargement)).scalar_one()
    return int(ballots), int(emargements)


def cli(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])
    return CliRunner().invoke(main, list(args))


def tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def vote_through_the_pages(app: Flask, client: FlaskClient, code: str, choice: str) -> str:
    """Sign in with a fresh vote-code level, choose, confirm; return the receipt shown to the voter."""
    ensure_key(app, code)
    cast = vote(client, code, choice_index(app, code, None if choice == "blanc" else int(choice)))
    assert cast.status_code == 303, cast.status_code
    receipt = re.search(r'class="receipt-code">([A-Z2-7-]+)<', text_of(client.get(f"/je-vote/{code}/recu")))
    assert receipt
    return receipt.group(1)


def open_scrutin_with_voters(app: Flask, code: str = "AUDIT") -> int:
    now = utcnow()
    load(
        app,
        {
            "scrutins": [
                scrutin_entry(code, now - dt.timedelta(days=1), now + dt.timedelta(days=1), lists=3, roll=VOTERS)
            ]
        },
    )
    ensure_key(app, code)
    return scrutin_id(app, code)


def chain_of_five(app: Flask) -> list[AuditEvent]:
    """Five events on one chain, each in its own transaction (the tampering tests' material)."""
    for rank in range(5):
        with get_db(app).transaction() as session:
            record(session, "election.imported", chains=1, source=f"fichier-fictif-{rank}.json", scrutins=[], counts={})
    return events(app)


# --- ballot cast ---------------------------------------------------------------------------------------------------


def test_a_vote_records_ballot_cast_with_the_scrutin_and_the_voters_pseudonym(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    vote_through_the_pages(app, client, "OPEN", str(list_ids(app, "OPEN")[0]))
    [event] = events(app, "ballot.cast")
    assert json.loads(event.data) == {"scrutin": "OPEN"}
    # The keyed hash of the identifier, with the key derived from PORTAL_SECRET_KEY (no PORTAL_AUDIT_HMAC_KEY set).
    key = hmac.new(
        app.config["SECRET_KEY"].encode(), b"portail-elections/portal/audit-voter-reference/v1", hashlib.sha256
    ).digest()
    assert event.subject == hmac.new(key, CLAIRE.encode(), hashlib.sha256).hexdigest()
    assert event.subject != hashlib.sha256(CLAIRE.encode()).hexdigest(), "an unkeyed hash is reversible"
    assert event.subject == voter_reference(CLAIRE.upper(), get_db(app).audit_key)
    assert event.client_id is None


def test_the_pseudonym_key_can_be_set_apart_from_the_session_secret(app: Flask, make_portal: Any) -> None:
    other = make_portal(AUDIT_HMAC_KEY="portal-audit-key-for-tests-only-0123456789")
    assert get_db(other).audit_key == audit_key(other.config) == b"portal-audit-key-for-tests-only-0123456789"
    assert voter_reference(CLAIRE, get_db(other).audit_key) != voter_reference(CLAIRE, get_db(app).audit_key)


def test_the_event_reveals_neither_the_choice_nor_the_receipt(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    lists = list_ids(app, "OPEN")
    claire_receipt = vote_through_the_pages(app, client, "OPEN", str(lists[1]))
    marc_receipt = cast_choice(
        app, scrutin_id=scrutin_id(app, "OPEN"), voter_identifier=MARC, candidate_list_id=None, now=utcnow()
    ).receipt
    cast = events(app, "ballot.cast")
    assert len(cast) == 2
    # A vote for list 2 and a blank vote leave the very same details: nothing in them depends on the choice.
    assert {event.data for event in cast} == {'{"scrutin":"OPEN"}'}
    with get_db(app).sessionmaker() as session:
        names = list(session.execute(select(CandidateList.organisation)).scalars())
    forbidden = {
        claire_receipt,
        marc_receipt,
        claire_receipt.replace("-", ""),
        marc_receipt.replace("-", ""),
        CLAIRE,
        MARC,
        *names,
    }
    assert cli(app, monkeypatch, "audit", "export", "--output", str(tmp_path / "log.jsonl")).exit_code == 0
    export = (tmp_path / "log.jsonl").read_text(encoding="ascii")
    with get_db(app).engine.connect() as conn:
        stored = " ".join(str(value) for row in conn.execute(text("SELECT * FROM portal_audit_event")) for value in row)
    for value in forbidden:
        assert value not in stored and value not in export, value
    for event in cast:
        assert set(json.loads(event.data)) == {"scrutin"}
        assert not {str(list_id) for list_id in lists} & set(json.loads(event.data).values())


def test_a_double_click_leaves_one_event(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    ensure_key(app, "OPEN")
    page = ballot_page(client, "OPEN")
    ballot = page.encrypt(2)
    assert post_ballot(client, "OPEN", page, ballot).status_code == 303
    assert post_ballot(client, "OPEN", page, ballot).status_code == 409
    assert counts(app) == (1, 1)
    assert len(events(app, "ballot.cast")) == 1


def test_a_cast_sends_its_emargement_ballot_and_event_together(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the émargement, the ballot and the audit event travel in one round trip (psycopg's pipeline,
    in that order: a second vote fails on the émargement before a chain is taken); elsewhere through SQLAlchemy."""
    load(app, standard_document(utcnow()))
    ensure_key(app, "OPEN")
    engine = get_db(app).engine
    through_sqlalchemy: list[str] = []
    pipelined: list[str] = []
    direct = appending.send

    def on_send(cursor: Any, sql: str, params: Any) -> None:
        pipelined.append(sql)
        direct(cursor, sql, params)

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        through_sqlalchemy.append(statement)

    monkeypatch.setattr(appending, "send", on_send)
    sa_event.listen(engine, "before_cursor_execute", on_execute)
    try:
        now = utcnow()
        cast = cast_choice(
            app, scrutin_id=scrutin_id(app, "OPEN"), voter_identifier=CLAIRE, candidate_list_id=None, now=now
        )
    finally:
        sa_event.remove(engine, "before_cursor_execute", on_execute)
    written = [sql.split("(")[0].strip() for sql in pipelined]
    if engine.dialect.name == "postgresql":
        # The scrutin's window with the voter's roll entry first, read in the pipeline (with the transaction's BEGIN
        # when hashchain.append.pipeline queues it), then the writes.
        assert written[0].startswith("SELECT portal_scrutin.code, portal_scrutin.opens_at")
        assert written[1:] == [
            "INSERT INTO portal_emargement",
            "INSERT INTO portal_ballot",
            "SELECT set_config",
            "INSERT INTO portal_audit_event",
        ]
        assert not [sql for sql in through_sqlalchemy if sql.startswith("INSERT")]
    else:
        assert written == []
        assert len([sql for sql in through_sqlalchemy if sql.startswith("INSERT")]) == 3
    assert counts(app) == (1, 1)
    with get_db(app).reader() as session:
        row = session.execute(select(Emargement.voted_at, Emargement.receipt)).one()
        box = session.execute(select(Ballot.tracking_code, Ballot.mixed)).one()
    assert row.voted_at == now and row.receipt is not None and box == (cast.tracking_code, False)
    [recorded] = events(app, "ballot.cast")
    assert json.loads(recorded.data) == {"scrutin": "OPEN"}
    assert verify(get_db(app).engine).ok


def test_concurrent_submissions_leave_one_vote_and_one_event(app: Flask) -> None:
    target = open_scrutin_with_voters(app)
    voter = next(iter(VOTERS))
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            cast_choice(app, scrutin_id=target, voter_identifier=voter, candidate_list_id=None, now=utcnow())
            outcome = "cast"
        except AlreadyVoted:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["cast"] + ["refused"] * 7
    assert counts(app) == (1, 1)
    assert len(events(app, "ballot.cast")) == 1


def test_refused_votes_leave_no_event(app: Flask) -> None:
    load(app, standard_document(utcnow()))
    for code, voter in (("CLOSED", CLAIRE), ("FUTURE", CLAIRE), ("OPEN", "inconnu.fictif@ac-dijon.fr")):
        with pytest.raises(VoteRefused):
            cast_choice(
                app,
                scrutin_id=scrutin_id(app, code),
                voter_identifier=voter,
                candidate_list_id=None,
                now=utcnow(),
            )
    assert events(app, "ballot.cast") == []


def test_a_vote_whose_event_cannot_be_written_is_not_recorded(app: Flask) -> None:
    """The event and the vote are one transaction: the database refusing the event undoes the émargement and the
    ballot written before it (a trigger makes the database refuse it)."""
    target = open_scrutin_with_voters(app)
    voter = next(iter(VOTERS))
    engine = get_db(app).engine
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(
                text(
                    "CREATE FUNCTION portal_test_refuse_event() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER portal_test_refuse BEFORE INSERT ON portal_audit_event FOR EACH ROW "
                    "WHEN (NEW.type = 'ballot.cast') EXECUTE FUNCTION portal_test_refuse_event()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER portal_test_refuse BEFORE INSERT ON portal_audit_event "
                    "WHEN NEW.type = 'ballot.cast' BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
                )
            )
    try:
        with pytest.raises(Exception, match=r"audit refused|could not append"):
            cast_choice(app, scrutin_id=target, voter_identifier=voter, candidate_list_id=None, now=utcnow())
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER portal_test_refuse" + (" ON portal_audit_event" if postgres else "")))
            if postgres:
                conn.execute(text("DROP FUNCTION portal_test_refuse_event()"))
    assert not has_voted(get_db(app), target, voter)
    assert counts(app) == (0, 0)
    assert events(app, "ballot.cast") == []
    # The same vote goes through once the database accepts the event again.
    cast_choice(app, scrutin_id=target, voter_identifier=voter, candidate_list_id=None, now=utcnow())
    assert counts(app) == (1, 1) and len(events(app, "ballot.cast")) == 1


# --- ballot secrecy ------------------------------------------------------------------------------------------------


def test_after_mixing_nothing_links_an_event_to_a_ballot(app: Flask) -> None:
    """The event carries a time and the voter; the ballot neither. PostgreSQL stamps rows with a transaction id
    (xmin, readable by any SQL user). The event is written in the casting transaction, so it carries its ballot's
    xmin: before mixing, sorting ballots and events by xmin pairs each ballot with its event. After mixing, the
    ballots carry the mix's xmin, later than every event's, shared by all of them and by no event: nothing pairs
    them any more."""
    target = open_scrutin_with_voters(app)
    lists = list_ids(app, "AUDIT")
    for rank, voter in enumerate(VOTERS):
        cast_choice(
            app,
            scrutin_id=target,
            voter_identifier=voter,
            candidate_list_id=[*lists, None][rank % 4],
            now=utcnow(),
        )
    engine = get_db(app).engine
    if engine.dialect.name == "postgresql":
        ballot_xids = text("SELECT xmin::text::bigint FROM portal_ballot")
        event_xids = text("SELECT xmin::text::bigint FROM portal_audit_event WHERE type = 'ballot.cast'")

        def interleaving() -> str:
            with engine.connect() as conn:
                marks = sorted(
                    [(xid, "b") for xid in conn.execute(ballot_xids).scalars()]
                    + [(xid, "e") for xid in conn.execute(event_xids).scalars()]
                )
            return "".join(mark for _, mark in marks)

        # The link mixing exists to break: ballot, its event, next ballot, its event…
        assert interleaving() == "be" * len(VOTERS)
        assert mix(get_db(app)) == len(VOTERS)
        assert interleaving() == "e" * len(VOTERS) + "b" * len(VOTERS)
        shared = text(
            "SELECT count(*) FROM portal_audit_event a JOIN portal_ballot b ON a.xmin::text = b.xmin::text "
            "WHERE a.type = 'ballot.cast'"
        )
        with engine.connect() as conn:
            assert conn.execute(shared).scalar_one() == 0
            assert conn.execute(text("SELECT count(DISTINCT xmin::text) FROM portal_ballot")).scalar_one() == 1
    else:
        assert mix(get_db(app)) == len(VOTERS)
    # On both back ends: no value of a ballot row appears in the log.
    with engine.connect() as conn:
        ballot_values = {
            bytes(value).hex() for value in conn.execute(text("SELECT tracking_code FROM portal_ballot")).scalars()
        }
        logged = " ".join(str(value) for row in conn.execute(text("SELECT * FROM portal_audit_event")) for value in row)
    assert ballot_values and not any(value in logged for value in ballot_values)


# --- the other events ----------------------------------------------------------------------------------------------


def test_import_mix_and_tally_are_audited(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = open_scrutin_with_voters(app)
    [imported] = events(app, "election.imported")
    details = json.loads(imported.data)
    assert details["scrutins"] == ["AUDIT"] and details["counts"]["électeurs ajoutés"] == len(VOTERS)
    assert imported.subject is None
    lists = list_ids(app, "AUDIT")
    for rank, voter in enumerate(list(VOTERS)[:4]):
        cast_choice(
            app,
            scrutin_id=target,
            voter_identifier=voter,
            candidate_list_id=[lists[0], None][rank % 2],
            now=utcnow(),
        )
    assert cli(app, monkeypatch, "election", "mix").exit_code == 0
    [mixed] = events(app, "ballots.mixed")
    assert json.loads(mixed.data) == {"scrutin": "AUDIT", "ballots": 4}
    with get_db(app).transaction() as session:
        session.execute(
            update(Scrutin).values(
                opens_at=utcnow() - dt.timedelta(days=2), closes_at=utcnow() - dt.timedelta(minutes=1)
            )
        )
    request = tmp_path / "demande.json"
    record = tmp_path / "dossier.jsonl"
    waiting = cli(app, monkeypatch, "election", "tally", "AUDIT", "--request", str(request), "--record", str(record))
    assert waiting.exit_code == 3, waiting.output
    [aggregated] = events(app, "tally.aggregated")
    assert json.loads(aggregated.data) == {"scrutin": "AUDIT", "ballots": 4, "emargements": 4}
    partials = []
    for trustee in ensure_key(app, "AUDIT")[1:]:
        partial = tmp_path / f"partiel-{trustee.index}.json"
        monkeypatch.setenv("PORTAL_TRUSTEE_PASSPHRASE", PASSPHRASE)
        args = ["trustee", "decrypt", str(request), "--record", str(record), "--key-file", str(trustee.key_file)]
        args += ["--output", str(partial)]
        assert cli(app, monkeypatch, *args).exit_code == 0
        partials += ["--partial", str(partial)]
    result = cli(app, monkeypatch, "election", "tally", "AUDIT", *partials)
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(e.data)["trustee"] for e in events(app, "tally.partial_received")) == [2, 3]
    [tally] = events(app, "tally.run")
    assert json.loads(tally.data) == {
        "scrutin": "AUDIT",
        "ballots": 4,
        "emargements": 4,
        "blank": 2,
        "votes": {"1": 2, "2": 0, "3": 0},
        "consistent": True,
        "trustees": [2, 3],
    }
    # An import refused inside its transaction (voters who voted cannot leave the roll) records nothing.
    last = list(VOTERS)[-1]
    shrunk = {
        "scrutins": [
            scrutin_entry("AUDIT", utcnow() - dt.timedelta(days=2), utcnow(), lists=3, roll={last: VOTERS[last]})
        ]
    }
    report = import_document(get_db(app), shrunk, Path("."), max_pdf_bytes=1000)
    assert not report.ok and "a déjà voté" in report.errors[0]
    assert len(events(app, "election.imported")) == 1


def test_complaint_and_assistance_are_audited_without_their_text(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app)
    page = client.get("/mes-scrutins/reclamation")
    message = "Mon nom d'usage fictif n'apparaît pas sur la liste."
    client.post(
        "/mes-scrutins/reclamation",
        data={"csrf_token": csrf_of(page), "scrutin": "OPEN", "topic": "inscription", "message": message},
    )
    anonymous = app.test_client()
    page = anonymous.get("/assistance")
    anonymous.post(
        "/assistance",
        data={
            "csrf_token": csrf_of(page),
            **captcha_fields(page),
            "contact_name": "Camille Fictive",
            "contact_email": "camille@exemple.fr",
            "academie": "Dijon",
            "topic": "code_de_vote",
            "message": "Notice de vote fictive non reçue.",
        },
    )
    [complaint] = events(app, "complaint.filed")
    [assistance] = events(app, "assistance.requested")
    complaint_data, assistance_data = json.loads(complaint.data), json.loads(assistance.data)
    assert complaint_data["scrutin"] == "OPEN" and complaint_data["topic"] == "inscription"
    assert re.fullmatch(r"REC-[A-Z0-9]{4}-[A-Z0-9]{4}", complaint_data["reference"])
    assert complaint.subject == voter_reference(CLAIRE, get_db(app).audit_key)
    assert assistance_data == {"reference": assistance_data["reference"], "topic": "code_de_vote", "signed_in": False}
    assert assistance.subject is None
    logged = " ".join(str(e.data) + str(e.subject) for e in (complaint, assistance))
    for value in (message, "Notice de vote", "Camille", "camille@exemple.fr", CLAIRE):
        assert value not in logged


def test_sign_in_vote_code_step_and_ballot_through_the_real_idp(suite: live.Suite, app: Flask) -> None:
    browser = live.Browser()
    live.sign_in(suite, browser)
    step_up = browser.get(f"{suite.portal_url}/je-vote/OPEN")
    ballot = browser.submit(step_up, "/login/vote-code", {"code": suite.vote_code, "captcha": live.TEST_CAPTCHA})
    cast = browser.submit(ballot, "/je-vote/OPEN/bulletin", {"ballot": ballot_from_html(ballot.text, 2)})
    assert "/je-vote/OPEN/recu" in cast.url
    recorded = [
        (event.type, event.subject)
        for event in sorted(events(app), key=lambda e: (e.occurred_at, e.id))
        if event.type != "election.imported" and not event.type.startswith("ceremony.")
    ]
    claire = voter_reference(CLAIRE, get_db(suite.portal_app).audit_key)
    assert recorded == [("signin.accepted", claire), ("vote_level.reached", claire), ("ballot.cast", claire)]
    level = json.loads(events(app, "vote_level.reached")[0].data)
    assert set(level) == {"acr", "amr"} and level["acr"] == "urn:portail-elections:acr:password+vote-code"
    assert {"pwd", "otp"} <= set(level["amr"])
    assert verify(get_db(app).engine).ok


# --- verification and export ---------------------------------------------------------------------------------------


def test_verify_accepts_an_intact_log(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    vote_through_the_pages(app, client, "OPEN", "blanc")
    mix(get_db(app))
    report = verify(get_db(app).engine)
    # Import, the key ceremony (created, attached, 3 trustees × 3 rounds, completed), ballot cast, mix.
    assert report.ok and report.events == len(events(app)) == 15
    result = cli(app, monkeypatch, "audit", "verify")
    assert result.exit_code == 0
    assert result.output == f"audit log intact: 15 events in {report.chains} chains\n"


def _swap(app: Flask, first: AuditEvent, second: AuditEvent) -> None:
    with get_db(app).transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(seq=-1))
        session.execute(update(AuditEvent).where(AuditEvent.id == second.id).values(seq=first.seq))
        session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(seq=second.seq))


@pytest.mark.parametrize("damage", ["altered", "deleted", "reordered"])
def test_verify_names_the_first_damaged_event(app: Flask, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    log = chain_of_five(app)
    third = log[2]
    with get_db(app).transaction() as session:
        if damage == "altered":
            session.execute(
                update(AuditEvent)
                .where(AuditEvent.id == third.id)
                .values(data=third.data.replace("fichier-fictif-2", "fichier-fictif-9"))
            )
        elif damage == "deleted":
            session.execute(delete(AuditEvent).where(AuditEvent.id == third.id))
    if damage == "reordered":
        _swap(app, log[1], log[3])
    problem = verify(get_db(app).engine).first_problem
    assert problem is not None
    expected = {
        "altered": (ProblemKind.ALTERED, third.id, 3),
        "deleted": (ProblemKind.DELETED, log[3].id, 4),
        "reordered": (ProblemKind.REORDERED, log[1].id, 4),
    }[damage]
    assert (problem.kind, problem.event_id, problem.seq) == expected
    assert problem.intact_until == log[0 if damage == "reordered" else 1].occurred_at
    result = cli(app, monkeypatch, "audit", "verify")
    assert result.exit_code == 1
    assert "audit log damaged: " in result.output and damage in result.output


def test_an_edited_pseudonym_is_an_alteration(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    vote_through_the_pages(app, client, "OPEN", "blanc")
    [cast] = events(app, "ballot.cast")
    with get_db(app).transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == cast.id)
            .values(subject=voter_reference(MARC, get_db(app).audit_key))
        )
    problem = verify(get_db(app).engine).first_problem
    assert problem is not None and problem.kind is ProblemKind.ALTERED and problem.event_id == cast.id


def test_export_verifies_with_the_standalone_tool(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    vote_through_the_pages(app, client, "OPEN", str(list_ids(app, "OPEN")[0]))
    cast_choice(app, scrutin_id=scrutin_id(app, "OPEN"), voter_identifier=MARC, candidate_list_id=None, now=utcnow())
    mix(get_db(app))
    total = len(events(app))
    complete, filtered = tmp_path / "portal-audit.jsonl", tmp_path / "portal-ballots.jsonl"
    result = cli(app, monkeypatch, "audit", "export", "--output", str(complete))
    assert result.exit_code == 0 and f"{total} events exported to {complete} (complete export)" in result.output
    assert complete.stat().st_mode & 0o777 == 0o600
    lines = complete.read_text(encoding="ascii").splitlines()
    assert len(lines) == total
    assert set(json.loads(lines[0])) == {
        "chain",
        "seq",
        "occurred_at",
        "type",
        "subject",
        "client_id",
        "data",
        "prev_hash",
        "hash",
    }
    checked = tool(complete)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"export intact: {total} events in ")
    # To standard output: the same lines.
    assert cli(app, monkeypatch, "audit", "export").stdout.splitlines() == lines

    assert cli(app, monkeypatch, "audit", "export", "--type", "ballot.cast", "--output", str(filtered)).exit_code == 0
    types = [json.loads(line)["type"] for line in filtered.read_text(encoding="ascii").splitlines()]
    assert types == ["ballot.cast"] * 2
    assert tool("--filtered", filtered).returncode == 0

    # One character of one event changed in the file: the tool refuses the export.
    tampered = tmp_path / "tampered.jsonl"
    events_ = [json.loads(line) for line in lines]
    victim = next(index for index, event in enumerate(events_) if event["type"] == "ballot.cast")
    events_[victim]["data"] = events_[victim]["data"].replace("OPEN", "OPEN2")
    tampered.write_text("".join(json.dumps(event, separators=(",", ":")) + "\n" for event in events_), encoding="ascii")
    refused = tool(tampered)
    assert refused.returncode == 1 and f"line {victim + 1}: altered" in refused.stderr


def test_an_export_in_progress_does_not_hold_up_voters(app: Flask) -> None:
    """On SQLite the portal's writers take the write lock at BEGIN: an export must read without it."""
    target = open_scrutin_with_voters(app)
    first, second = list(VOTERS)[:2]
    cast_choice(app, scrutin_id=target, voter_identifier=first, candidate_list_id=None, now=utcnow())
    lines = export_lines(get_db(app).engine, ExportFilter(), batch_size=1)
    assert json.loads(next(lines))["seq"] == 1  # the export's transaction is open, its result half read
    cast_choice(app, scrutin_id=target, voter_identifier=second, candidate_list_id=None, now=utcnow())
    assert len(list(lines)) >= 1
    assert counts(app) == (2, 2)


def test_export_options_are_checked(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = cli(app, monkeypatch, "audit", "export", "--type", "login.succeeded")
    assert unknown.exit_code == 2 and "unknown event type(s): login.succeeded" in unknown.output
    backwards = cli(app, monkeypatch, "audit", "export", "--since", "2027-03-15", "--until", "2027-03-14")
    assert backwards.exit_code == 2 and "--since must be before --until" in backwards.output
    chain_of_five(app)
    middle = events(app)[2].occurred_at
    window = cli(app, monkeypatch, "audit", "export", "--since", middle.isoformat())
    assert window.exit_code == 0 and len(window.stdout.splitlines()) == 3


def test_the_vocabulary_names_every_recorded_type() -> None:
    assert set(EVENT_TYPES) == {
        "signin.accepted",
        "vote_level.reached",
        "ballot.cast",
        "complaint.filed",
        "assistance.requested",
        "election.imported",
        "tally.run",
        "ballots.mixed",
        "tally.aggregated",
        "tally.partial_received",
        "ceremony.created",
        "ceremony.attached",
        "ceremony.received",
        "ceremony.completed",
    }
    with pytest.raises(ValueError, match="unknown audit event type"):
        record(None, "ballot.choice")  # type: ignore[arg-type]
