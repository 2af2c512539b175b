"""The vote-code réassort is open only inside the election window configured in the IdP (sealing → closing);
outside it the voter gets a clear answer instead of a code. The password réassort does not depend on it."""

from __future__ import annotations

import datetime as dt
from html import unescape

from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent, OneTimeLink
from tests.helpers import AuthActions, csrf_of
from tests.reassort_plugin.helpers import CODE_CHOICE, CODE_REQUEST, ReassortActions, data_of, events, last_link

# The seed's election: sealed the day before the opening, closing on 8 December 2022 at 17:00 (Paris).
SEALED = "2022-11-30T08:00:00+01:00"
CLOSED = "2022-12-08T17:00:00+01:00"


def iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()


def page(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_after_the_closing_the_voter_is_told_the_vote_is_closed(make_app, voters):
    app = make_app(ELECTION_SEALED_AT=SEALED, ELECTION_CLOSES_AT=CLOSED)
    client = app.test_client()
    AuthActions(client).login(voters.create().identifier)
    for path in (CODE_CHOICE, CODE_REQUEST):
        response = client.get(path)
        assert response.status_code == 403
        assert (
            "Le vote est clos depuis le jeudi 08 décembre 2022 à 17h00 (heure de Paris) : il n'est plus possible "
            "d'obtenir un nouveau code de vote."
        ) in page(response)


def test_before_the_sealing_the_voter_is_told_when_it_opens(make_app, voters):
    opens = dt.datetime(2099, 12, 1, 7, 0, tzinfo=dt.UTC)
    app = make_app(ELECTION_SEALED_AT=opens.isoformat(), ELECTION_CLOSES_AT=None)
    client = app.test_client()
    AuthActions(client).login(voters.create().identifier)
    response = client.get(CODE_CHOICE)
    assert response.status_code == 403
    assert (
        "Le réassort du code de vote n'est pas encore ouvert : il le sera à partir du mardi 01 décembre 2099 à "
        "08h00 (heure de Paris)."
    ) in page(response)


def test_inside_the_window_the_reassort_is_open(make_app, voters):
    app = make_app(ELECTION_SEALED_AT=iso(-dt.timedelta(days=1)), ELECTION_CLOSES_AT=iso(dt.timedelta(days=7)))
    client = app.test_client()
    AuthActions(client).login(voters.create().identifier)
    assert client.get(CODE_CHOICE).status_code == 200
    assert ReassortActions(client).ask_code().status_code == 200


def test_a_link_sent_before_the_closing_gives_no_code_after_it(app, make_app, client, signed_in, reassort):
    """Two IdP processes on one database: the second one's clock is past the closing."""
    assert reassort.ask_code().status_code == 200
    path = last_link(app)
    closed = make_app(ELECTION_SEALED_AT=SEALED, ELECTION_CLOSES_AT=CLOSED).test_client()
    assert closed.get(path).status_code == 403
    form = closed.get("/login")
    refused = closed.post(path, data={"csrf_token": csrf_of(form)})
    assert refused.status_code == 403 and "Le vote est clos" in page(refused)
    with get_db(app).transaction() as session:
        assert session.execute(select(OneTimeLink.used_at)).scalar_one() is None  # left unused
        assert session.execute(select(AuditEvent).where(AuditEvent.type == "votecode.issued")).first() is None
    assert data_of(events(app)[-1]) == {"kind": "code", "channel": "email", "reason": "window"}


def test_the_password_reassort_does_not_depend_on_the_window(make_app, voters):
    app = make_app(ELECTION_SEALED_AT=SEALED, ELECTION_CLOSES_AT=CLOSED)
    client = app.test_client()
    AuthActions(client).submit_identifier(voters.create().identifier)
    assert ReassortActions(client).ask_password().status_code == 200
