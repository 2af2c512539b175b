"""Seed step 8: the link, "Générer un code", the code shown until noted, then "Voter" — and the link's rules
(single use even under 50 concurrent clicks, 30 minutes, bound to its voter and purpose, stored hashed)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from idp.db import get_db
from idp.models import AuditEvent, OneTimeLink, Voter
from idp.votecode import codes
from idp.votecode.models import VoteCode
from idp.votecode.service import code_matches, issue_code
from idp.web import keyed_hasher
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.reassort_plugin.helpers import CODE_SHOWN, ReassortActions, data_of, events, last_link, shown_code, types

NEXT = "/authorize/resume?tx=abc"


def notice_code(app, voter) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        return issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())


def is_current(app, voter, printed: str) -> bool:
    canonical = codes.normalise(printed)
    assert canonical is not None
    with app.app_context(), get_db(app).transaction() as session:
        return code_matches(session, keyed_hasher(), voter.id, canonical)


def links(app) -> list[OneTimeLink]:
    with get_db(app).transaction() as session:
        rows = list(session.execute(select(OneTimeLink).order_by(OneTimeLink.id)).scalars())
        session.expunge_all()
        return rows


def count_issued(app) -> int:
    with get_db(app).transaction() as session:
        return len(session.execute(select(AuditEvent).where(AuditEvent.type == "votecode.issued")).all())


@pytest.fixture
def link(app, client, signed_in, reassort) -> tuple[Any, str, str]:
    """(voter, printed notice code, link path) after a successful request from the vote-code page."""
    printed = notice_code(app, signed_in)
    client.get(f"/login/vote-code?next={NEXT.replace('?', '%3F').replace('=', '%3D')}")
    assert reassort.ask_code().status_code == 200
    return signed_in, printed, last_link(app)


def test_the_link_is_256_random_bits_stored_hashed_bound_to_the_voter_and_purpose(app, link):
    voter, _, path = link
    token = path.rsplit("/", 1)[1]
    assert token[0] == "E" and len(token) == 44  # the channel tag + 43 base64url characters (256 bits)
    [row] = links(app)
    assert (row.voter_id, row.purpose, row.used_at) == (voter.id, "reassort_code", None)
    assert row.token_hash != token.encode() and token not in repr(row.token_hash)
    assert dt.timedelta(minutes=29) < row.expires_at - row.created_at <= dt.timedelta(minutes=30)


def test_opening_the_link_changes_nothing(app, client, link):
    voter, printed, path = link
    fresh = app.test_client()  # a mail scanner, or the voter's phone
    for browser in (client, fresh, fresh):
        page = browser.get(path)
        assert page.status_code == 200
        assert "<h1>Réassort de votre code de vote</h1>" in page.get_data(as_text=True)
        assert '<button type="submit" class="fr-btn">Générer un code</button>' in page.get_data(as_text=True)
    assert [row.used_at for row in links(app)] == [None]
    assert is_current(app, voter, printed) and count_issued(app) == 1  # the notice's only
    assert types(app).count("reassort.link_opened") == 3
    assert data_of(events(app)[-1])["channel"] == "email"


def test_generate_shows_a_readable_code_that_replaces_the_previous_one(app, client, reassort, link):
    voter, printed, path = link
    response = reassort.generate(path)
    assert response.status_code == 303 and response.headers["Location"] == CODE_SHOWN
    page = client.get(CODE_SHOWN)
    new = shown_code(page)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{5}", new)
    html = unescape(page.get_data(as_text=True))
    assert " ".join(new[:4]) + ", " in html  # spelled out for screen readers
    assert "J'ai noté mon code" in html and ">Voter</button>" in html
    assert is_current(app, voter, new) and not is_current(app, voter, printed)
    with get_db(app).transaction() as session:
        assert (
            session.execute(select(VoteCode.issued_by).where(VoteCode.voter_id == voter.id)).scalar_one() == "reassort"
        )
    generated = next(e for e in events(app) if e.type == "reassort.code_generated")
    assert generated.subject == voter.subject and data_of(generated)["channel"] == "email"
    assert new not in generated.data and new.replace("-", "") not in "".join(e.data for e in events(app, ""))


def test_the_code_stays_shown_until_the_voter_confirms_then_voter_goes_to_the_vote_code_step(
    app, client, reassort, link
):
    _, _, path = link
    reassort.generate(path)
    first = shown_code(client.get(CODE_SHOWN))
    assert shown_code(client.get(CODE_SHOWN)) == first  # a reload shows it again
    not_ticked = reassort.noted(ticked=False)
    assert not_ticked.status_code == 400 and "Cochez « J&#39;ai noté mon code »" in not_ticked.get_data(as_text=True)
    assert shown_code(not_ticked) == first
    done = reassort.noted()
    location = urlsplit(done.headers["Location"])
    assert done.status_code == 302 and location.path == "/login/vote-code"
    assert parse_qs(location.query) == {"next": [NEXT]}  # back to the authorization request the voter came from
    gone = client.get(CODE_SHOWN)
    assert gone.status_code == 302 and urlsplit(gone.headers["Location"]).path == "/login/vote-code"

    step = client.get(done.headers["Location"])
    entered = client.post(
        done.headers["Location"],
        data={
            "csrf_token": csrf_of(step),
            "code": first.lower(),
            "captcha_id": captcha_id_of(step),
            "captcha": TEST_CAPTCHA,
        },
    )
    assert entered.status_code == 302 and entered.headers["Location"] == NEXT


def test_the_session_holds_the_shown_code_only_encrypted(app, client, reassort, link):
    from tests.idp.test_no_secret_leaks import store_dump

    _, _, path = link
    reassort.generate(path)
    code = shown_code(client.get(CODE_SHOWN))
    dump = store_dump(app)
    assert code not in dump and code.replace("-", "") not in dump


def test_a_used_link_gets_a_clear_page_offering_a_new_request(app, client, reassort, link):
    _, _, path = link
    reassort.generate(path)
    again = client.get(path)
    assert again.status_code == 410
    page = unescape(again.get_data(as_text=True))
    assert "Ce lien n'est plus valide" in page and "déjà été utilisé ou a expiré" in page
    assert '<a class="fr-btn" href="/reassort/code">Faire une nouvelle demande</a>' in page
    other = app.test_client()
    assert other.post(path, data={"csrf_token": csrf_of(app.test_client().get("/login"))}).status_code == 400
    assert count_issued(app) == 2


def test_a_second_post_on_a_used_link_issues_nothing(app, client, reassort, link):
    _, _, path = link
    page = client.get(path)
    token = csrf_of(page)
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    second = client.post(path, data={"csrf_token": token})
    assert second.status_code == 410
    assert count_issued(app) == 2  # the notice and one réassort
    assert types(app)[-1] == "reassort.link_refused"
    assert data_of(events(app)[-1]) == {"kind": "code", "channel": "email", "reason": "used_or_expired"}


def test_an_expired_link_is_refused(app, client, link):
    _, printed, path = link
    with get_db(app).transaction() as session:
        session.execute(update(OneTimeLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert client.get(path).status_code == 410
    page = client.get("/login")
    assert client.post(path, data={"csrf_token": csrf_of(page)}).status_code == 410
    assert is_current(app, link[0], printed)


def test_the_link_serves_only_its_purpose(app, client, link):
    _, _, path = link
    assert client.get(path.replace("/reassort/code/lien/", "/reassort/mot-de-passe/lien/")).status_code == 410
    assert client.get("/activation/" + path.rsplit("/", 1)[1]).status_code == 410


def test_the_code_of_the_latest_link_used_voids_the_other_links(app, client, reassort, link):
    voter, _, first_path = link
    assert reassort.ask_code(channel="sms", phone="0639981234", email="").status_code == 200
    second_path = last_link(app)
    assert second_path != first_path and second_path.rsplit("/", 1)[1][0] == "S"
    reassort.generate(second_path)
    code = shown_code(client.get(CODE_SHOWN))
    assert client.get(first_path).status_code == 410  # a late e-mail cannot replace the code just noted
    assert is_current(app, voter, code)


def test_fifty_concurrent_generate_clicks_produce_exactly_one_code(app, link):
    voter, printed, path = link
    browsers = [app.test_client() for _ in range(50)]
    tokens = [csrf_of(browser.get(path)) for browser in browsers]
    barrier = threading.Barrier(len(browsers))
    statuses: dict[int, int] = {}

    def click(n: int) -> None:
        barrier.wait()
        statuses[n] = browsers[n].post(path, data={"csrf_token": tokens[n]}).status_code

    threads = [threading.Thread(target=click, args=(n,)) for n in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [303] + [410] * 49
    assert count_issued(app) == 2  # the notice, and exactly one réassort
    [winner] = [browsers[n] for n, status in statuses.items() if status == 303]
    code = shown_code(winner.get(CODE_SHOWN))
    assert is_current(app, voter, code) and not is_current(app, voter, printed)
    assert types(app).count("reassort.code_generated") == 1
    assert types(app).count("reassort.link_refused") == 49


def test_a_link_opened_on_another_device_works_and_voter_leads_to_sign_in(app, link):
    voter, _, path = link
    phone = app.test_client()
    ReassortActions(phone).generate(path)
    code = shown_code(phone.get(CODE_SHOWN))
    assert is_current(app, voter, code)
    done = ReassortActions(phone).noted()
    assert done.headers["Location"] == "/login/vote-code"  # no destination noted on this device
    assert urlsplit(phone.get("/login/vote-code").headers["Location"]).path == "/login"  # not signed in here


def test_generate_requires_the_csrf_token(app, client, link):
    voter, printed, path = link
    client.get(path)
    assert client.post(path, data={}).status_code == 400
    assert [row.used_at for row in links(app)] == [None] and is_current(app, voter, printed)


def test_a_link_granted_in_the_browser_works_like_a_sent_one(app, client, signed_in, reassort):
    """The entry point the FranceConnect route will use once the identity pivot designated this voter."""
    from reassort_plugin.request_service import grant_link

    with app.test_request_context():
        session = get_db(app).sessionmaker()
        with session.begin():
            token = grant_link(session, session.get(Voter, signed_in.id))
        session.close()
    assert token[0] == "F"
    path = f"/reassort/code/lien/{token}"
    assert reassort.generate(path).status_code == 303
    assert is_current(app, signed_in, shown_code(client.get(CODE_SHOWN)))
    granted, generated = (e for e in events(app) if e.type in {"reassort.link_granted", "reassort.code_generated"})
    assert data_of(granted)["channel"] == data_of(generated)["channel"] == "franceconnect"
