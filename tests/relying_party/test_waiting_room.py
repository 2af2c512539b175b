"""The waiting room « Salle d'attente » at the portal's entry (relying_party.signin.admission).

Here the IdP is never reached: an admitted voter's « Accéder au portail Élections » is answered by the sign-in
redirect (to the home page with « momentanément indisponible », the test IdP address being closed), a voter beyond
the capacity by the waiting room's page. The whole journey through the real IdP with a waiting room, the slot
given back at the ballot, is in test_signin_live_idp.py.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from relying_party.signin.admission import ADMITTED_KEY, MIN_REFRESH, room
from tests.relying_party.helpers import csrf_of, sign_in

WAITING = "Salle d'attente"


@pytest.fixture
def app(portal_config: dict, make_portal: Callable[..., Flask]) -> Flask:
    return make_portal(WAITING_ROOM_CAPACITY=1)


def enter(client: FlaskClient, query: str = ""):
    return client.get(f"/connexion{query}")


def place_of(response) -> int:
    text = html.unescape(response.get_data(as_text=True))
    found = re.search(r"Vous êtes n° (?:<strong>)?(\d+)", text)
    assert found, text[:1500]
    return int(found.group(1))


def test_beyond_the_capacity_voters_wait_with_their_place_and_the_page_asks_again(app: Flask) -> None:
    first, second, third = app.test_client(), app.test_client(), app.test_client()
    assert enter(first).status_code == 302  # admitted: on to the sign-in
    waiting = enter(second)
    assert waiting.status_code == 200
    text = html.unescape(waiting.get_data(as_text=True))
    assert "<h1>Salle d'attente</h1>" in text and 'lang="fr"' in text
    assert place_of(waiting) == 1 and "Temps d'attente estimé" in text
    assert re.search(r'<meta http-equiv="refresh" content="(\d+)">', text)
    assert '<meta name="waiting-room" content="1">' in text
    assert waiting.headers["Cache-Control"] == "no-store"
    assert place_of(enter(third)) == 2
    assert place_of(enter(second)) == 1, "asking again keeps one's place"
    assert place_of(enter(third)) == 2


def test_the_voters_next_in_line_ask_again_at_the_shortest_interval(make_portal: Callable[..., Flask]) -> None:
    """A freed slot waits for its voter's next refresh: the voters within the capacity of the head ask every
    MIN_REFRESH seconds even before any admission rate is known; those further back, less often."""
    app = make_portal(WAITING_ROOM_CAPACITY=2)
    for _ in range(2):
        assert enter(app.test_client()).status_code == 302
    refreshes = []
    for _ in range(4):
        page = enter(app.test_client()).get_data(as_text=True)
        found = re.search(r'http-equiv="refresh" content="(\d+)"', page)
        assert found
        refreshes.append(int(found.group(1)))
    assert refreshes[:2] == [MIN_REFRESH, MIN_REFRESH]
    assert refreshes[2] > MIN_REFRESH and refreshes[3] > MIN_REFRESH


def test_the_voter_can_make_the_refresh_ten_times_slower(app: Flask) -> None:
    app.test_client().get("/connexion")
    client = app.test_client()
    normal = re.search(r'http-equiv="refresh" content="(\d+)"', enter(client).get_data(as_text=True))
    slow_page = enter(client, "?lent=1").get_data(as_text=True)
    slow = re.search(r'http-equiv="refresh" content="(\d+)"', slow_page)
    assert normal and slow and int(slow.group(1)) == 10 * int(normal.group(1))
    assert "Actualiser plus souvent" in slow_page and "Actualiser moins souvent" not in slow_page


def test_an_admitted_voter_is_never_sent_back_to_the_waiting_room(app: Flask) -> None:
    admitted = app.test_client()
    assert enter(admitted).status_code == 302
    others = [app.test_client() for _ in range(3)]
    assert all(enter(c).status_code == 200 for c in others)
    # The slot of the admitted journey is given back (a lease ended, say): the voter stays admitted all the same.
    with admitted.session_transaction() as data:
        ticket = data[ADMITTED_KEY]
    with app.test_request_context():
        room().release(ticket)
    assert enter(admitted).status_code == 302
    assert enter(admitted).status_code == 302


def test_a_signed_in_voter_never_meets_the_waiting_room(app: Flask, client: FlaskClient) -> None:
    assert enter(app.test_client()).status_code == 302  # the only slot is taken
    sign_in(client, app)
    answer = enter(client)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_one_order_across_portal_processes(app: Flask, make_portal: Callable[..., Flask]) -> None:
    other = make_portal(WAITING_ROOM_CAPACITY=1)
    assert enter(app.test_client()).status_code == 302
    here, there = app.test_client(), other.test_client()
    assert place_of(enter(here)) == 1
    assert place_of(enter(there)) == 2
    assert enter(other.test_client()).status_code == 200


def test_signing_out_gives_the_slot_to_the_head_of_the_queue(app: Flask) -> None:
    first, head = app.test_client(), app.test_client()
    assert enter(first).status_code == 302
    assert place_of(enter(head)) == 1
    with first.session_transaction() as data:  # the admitted voter signed in (what the callback writes)
        data["user"] = {
            "sub": "sujet-fictif",
            "email": "claire.jullien@ac-dijon.fr",
            "given_name": "Claire",
            "family_name": "Jullien",
            "gender": "female",
            "idp_sid": None,
            "id_token": "",
            "auth_time": 0,
            "userinfo": {},
        }
    home = first.get("/")
    assert first.post("/deconnexion", data={"csrf_token": csrf_of(home)}).status_code == 302
    assert enter(head).status_code == 302


def test_no_capacity_means_no_waiting_room(make_portal: Callable[..., Flask]) -> None:
    unlimited = make_portal(WAITING_ROOM_CAPACITY=0)
    assert all(enter(unlimited.test_client()).status_code == 302 for _ in range(5))
