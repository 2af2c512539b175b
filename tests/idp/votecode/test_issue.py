"""Issuing vote codes: keyed hash only, one current code per voter, replaced in the caller's transaction."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, inspect, select, text

from idp.db import get_db
from idp.models import AuditEvent, Voter
from idp.security.keyed import KeyedHasher
from idp.votecode import codes
from idp.votecode.models import VoteCode
from idp.votecode.service import code_matches, issue_code
from idp.web import keyed_hasher


def issue(app, voter_id: int, issued_by: str = "notice") -> str:
    with app.app_context(), get_db(app).transaction() as session:
        return issue_code(session, session.get(Voter, voter_id), issued_by, hasher=keyed_hasher())


def matches(app, voter_id: int, printed: str) -> bool:
    with app.app_context(), get_db(app).sessionmaker() as session:
        return code_matches(session, app.extensions["idp.keyed"], voter_id, codes.normalise(printed) or "")


def database_dump(app) -> str:
    """Every value of every table, text and bytes alike, as one string."""
    engine = get_db(app).engine
    dumped: list[str] = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        dumped.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        dumped.append(str(value))
    return "\n".join(dumped)


def test_issued_code_is_printed_grouped_and_matches(app, voters):
    voter = voters.create()
    printed = issue(app, voter.id)
    assert len(printed) == 15 and printed[4] == printed[9] == "-"
    assert matches(app, voter.id, printed)
    assert matches(app, voter.id, printed.lower().replace("-", " "))


def test_only_a_keyed_hash_is_stored(app, voters):
    voter = voters.create()
    printed = issue(app, voter.id)
    canonical = printed.replace("-", "")
    everything = database_dump(app)
    assert voter.identifier in everything  # the dump does see the rows
    for form in (printed, canonical, printed.lower(), canonical.lower()):
        assert form not in everything
    with get_db(app).sessionmaker() as session:
        row = session.execute(select(VoteCode).where(VoteCode.voter_id == voter.id)).scalar_one()
    assert row.issued_by == "notice"
    # HMAC with the configured key (outside the database), bound to the voter: not a plain digest of the code.
    expected = KeyedHasher(app.config["HMAC_KEY"]).digest("vote_code", f"{voter.id}:{canonical}")
    assert row.code_hash == expected
    assert KeyedHasher("another key").digest("vote_code", f"{voter.id}:{canonical}") != row.code_hash


def test_a_code_is_bound_to_its_voter(app, voters):
    first, second = voters.create(), voters.create()
    printed = issue(app, first.id)
    issue(app, second.id)
    assert matches(app, first.id, printed)
    assert not matches(app, second.id, printed)


def test_reissue_replaces_the_code_in_the_same_transaction(app, voters):
    voter = voters.create()
    old = issue(app, voter.id)
    with app.app_context(), get_db(app).sessionmaker() as session:
        keyed = app.extensions["idp.keyed"]
        new = issue_code(session, session.get(Voter, voter.id), "reassort", hasher=keyed_hasher())
        # Inside the transaction that issued it, the new code is the only one.
        assert code_matches(session, keyed, voter.id, codes.normalise(new) or "")
        assert not code_matches(session, keyed, voter.id, codes.normalise(old) or "")
        session.rollback()
    # Rolled back: the old code is still the voter's, the new one never was.
    assert matches(app, voter.id, old) and not matches(app, voter.id, new)
    new = issue(app, voter.id, "reassort")
    assert matches(app, voter.id, new) and not matches(app, voter.id, old)
    with get_db(app).sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(VoteCode)) == 1
        assert session.scalar(select(VoteCode.issued_by)) == "reassort"


def test_issuing_is_audited_without_the_code(app, voters):
    voter = voters.create()
    printed = issue(app, voter.id, "reassort")
    with get_db(app).sessionmaker() as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.type == "votecode.issued")).scalars().all()
    assert [(e.subject, e.data) for e in events] == [(voter.subject, '{"issued_by":"reassort"}')]
    assert printed.replace("-", "") not in events[0].data


def test_concurrent_issues_for_one_voter_leave_one_row_and_one_valid_code(app, voters):
    voter = voters.create()
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(issue(app, voter.id, "reassort"))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 8
    assert sum(matches(app, voter.id, code) for code in results) == 1
    with get_db(app).sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(VoteCode)) == 1


def test_issued_by_must_be_a_label(app, voters):
    voter = voters.create()
    with pytest.raises(ValueError, match="issued_by"):
        issue(app, voter.id, "Notice; DROP")
