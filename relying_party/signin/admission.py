"""Admission at the portal's entry: the waiting room « Salle d'attente » (:mod:`infra.waiting_room`).

Where admission is decided: « Accéder au portail Élections » (``/connexion``), the one door into a journey. Every
later request of the journey (the IdP's sign-in screens, the vote-code step, the ballot) comes from a voter already
admitted, so the IdP and the portal both stay within ``PORTAL_WAITING_ROOM_CAPACITY`` journeys at once without the
IdP counting anything (its other clients, ministry applications, are not held back by the portal's rush).

- A signed-in voter, or one whose session was admitted, is never sent to the waiting room: the admission is kept in
  the server-side session (and carried over the new session a sign-in starts), whatever the counts say later.
- Anyone else gets a place, in arrival order across every process of every machine; the page tells the place and
  an estimated wait and refreshes itself (``<meta http-equiv="refresh">``, no JavaScript) until the turn comes.
- A journey's slot is given back when the ballot is cast or the voter signs out; one abandoned half-way is given
  back when its lease (``PORTAL_WAITING_ROOM_LEASE``) ends, pushed back at each sign-in and vote-code step.
"""

from __future__ import annotations

import logging
import math

from flask import current_app, render_template, request, session

from infra import waiting_room
from relying_party import metrics
from relying_party.store import get_store
from templates.durations import format_duration

logger = logging.getLogger(__name__)

#: The session's admission: the ticket of its slot (kept after the slot is given back: never sent back).
ADMITTED_KEY = "admitted"
#: The session's place in the queue while it waits.
WAITING_KEY = "waiting_ticket"
_EXTENSION = "portal.waiting_room"
#: Seconds between two refreshes of the page: from a fraction of the estimated wait, within these bounds.
MIN_REFRESH, MAX_REFRESH = 2, 20
#: « Actualiser moins souvent » (RGAA 13.1: the voter can make the interval ten times longer).
SLOW_FACTOR = 10


def room() -> waiting_room.WaitingRoom:
    found = current_app.extensions.get(_EXTENSION)
    if found is None:
        found = current_app.extensions[_EXTENSION] = waiting_room.for_store(get_store())
    return found


def _capacity() -> int:
    return int(current_app.config["WAITING_ROOM_CAPACITY"])


def _lease() -> float:
    return float(current_app.config["WAITING_ROOM_LEASE"])


def admitted_ticket() -> str | None:
    value = session.get(ADMITTED_KEY)
    return str(value) if value else None


def keep(ticket: str | None) -> None:
    """Carry an admission over a new session (the sign-in clears the session's data)."""
    if ticket:
        session[ADMITTED_KEY] = ticket


#: The waiting room's answer: the page, its status, its headers.
WaitingPage = tuple[str, int, dict[str, str]]


def gate() -> WaitingPage | None:
    """None when the voter may go on; otherwise the waiting room's page (this request's answer)."""
    if _capacity() <= 0 or admitted_ticket() is not None:
        return None
    slow = request.args.get("lent") == "1"
    # The refresh interval (and so how long the place is kept) depends on the wait, known only after the visit:
    # the place is kept long enough for the slowest refresh the page may ask for.
    place_timeout = 3 * MAX_REFRESH * (SLOW_FACTOR if slow else 1) + 10
    visit = room().visit(session.get(WAITING_KEY), capacity=_capacity(), place_timeout=place_timeout, lease=_lease())
    metrics.WAITING_ROOM_QUEUE.set(visit.waiting)
    metrics.WAITING_ROOM_IN_PROGRESS.set(visit.in_progress)
    if visit.admitted:
        metrics.WAITING_ROOM_ADMITTED.inc()
        session.pop(WAITING_KEY, None)
        session[ADMITTED_KEY] = visit.ticket
        return None
    metrics.WAITING_ROOM_HELD.inc()
    if session.get(WAITING_KEY) != visit.ticket:
        session[WAITING_KEY] = visit.ticket
    rate = max(visit.rate, _capacity() / _lease())
    wait = visit.place / rate
    # A slot freed for a voter stays unused until that voter asks again: the voters whose turn may come with the
    # next freed slots (places up to the capacity) ask at the shortest interval, whatever the estimate says (at the
    # opening no rate is known yet and the estimate is the longest). Measured: python -m benchmarks.waiting_room_rush.
    estimated = min(MAX_REFRESH, max(MIN_REFRESH, math.ceil(wait / 4)))
    interval = MIN_REFRESH if visit.place <= _capacity() else estimated
    refresh = interval * (SLOW_FACTOR if slow else 1)
    page = render_template(
        "portal/waiting_room.html",
        place=visit.place,
        waiting=visit.waiting,
        wait_text=_wait_text(wait),
        refresh=refresh,
        slow=slow,
    )
    return page, 200, {"Cache-Control": "no-store"}


def _wait_text(seconds: float) -> str:
    if seconds < 60:
        return "moins d'une minute"
    return "environ " + format_duration(60 * math.ceil(seconds / 60), largest="hour")


def extend() -> None:
    """The journey goes on (sign-in or vote-code step done): its slot's lease starts again."""
    ticket = admitted_ticket()
    if ticket and _capacity() > 0:
        room().extend(ticket, _lease())


def release() -> None:
    """The journey ended (ballot cast, sign-out): its slot goes to the queue; the voter stays admitted."""
    ticket = admitted_ticket()
    if ticket and _capacity() > 0:
        room().release(ticket)
