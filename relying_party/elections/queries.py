"""What the pages read about the signed-in voter's scrutins (always through the roll: a voter sees only theirs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from relying_party.elections.catalogue import EXTENSION, get_catalogue
from relying_party.elections.timefmt import Countdown, countdown, opening_sentence
from relying_party.models import CandidateList, Emargement, RollEntry, Scrutin

ROLL_PAGE_SIZE = 50


#: The voter's roll entries with their émargements, the one query of every signed-in page: built once (building a
#: statement and its cache key at every page cost more than running it: about 0.6 ms on the loaded test machine).
#: The émargement's sealed receipt comes with it (a few dozen bytes, unreadable without the portal's receipt key): the
#: receipt page needs no second query.
_MINE = (
    select(RollEntry.scrutin_id, RollEntry.display_name, Emargement.scrutin_id, Emargement.receipt)
    .outerjoin(
        Emargement,
        (Emargement.scrutin_id == RollEntry.scrutin_id) & (Emargement.voter_identifier == bindparam("identifier")),
    )
    .where(RollEntry.voter_identifier == bindparam("identifier"))
)


@dataclass(frozen=True)
class MyScrutin:
    scrutin: Scrutin
    #: My name as the roll shows it.
    roll_name: str
    voted: bool
    countdown: Countdown
    window: str
    #: The émargement's receipt, sealed (:mod:`relying_party.voting.receipts`); None before the vote.
    sealed_receipt: bytes | None = None

    @property
    def is_open(self) -> bool:
        return self.countdown.phase == "open"


def my_scrutins(
    session: Session, identifier: str | None, now: dt.datetime, *, with_lists: bool = False
) -> list[MyScrutin]:
    """The scrutins whose roll has ``identifier``, in opening order, with whether they voted there.

    Inside a request, the scrutins come from the process's :mod:`~relying_party.elections.catalogue` (lists and
    candidates always loaded; ``with_lists`` then changes nothing) and the database is asked one query: the voter's
    roll entries and émargements. Outside one (commands, tests without an app), everything is read from ``session``.
    """
    if not identifier:
        return []
    # On the session's connection, through Core: the statement selects columns, no ORM entity to load.
    mine = session.connection().execute(_MINE, {"identifier": identifier}).all()
    scrutins = _scrutins(session, {row[0] for row in mine}, with_lists=with_lists)
    items = [
        MyScrutin(
            scrutin,
            name,
            voted is not None,
            countdown(scrutin.opens_at, scrutin.closes_at, now),
            opening_sentence(scrutin.opens_at, scrutin.closes_at),
            sealed,
        )
        for scrutin_id, name, voted, sealed in mine
        if (scrutin := scrutins.get(scrutin_id)) is not None
    ]
    return sorted(items, key=lambda item: (item.scrutin.opens_at, item.scrutin.code))


def _scrutins(session: Session, ids: set[int], *, with_lists: bool) -> dict[int, Scrutin]:
    if not ids:
        return {}
    if has_app_context() and EXTENSION in current_app.extensions:
        return {i: entry.scrutin for i, entry in get_catalogue().entries(ids).items()}
    query = select(Scrutin).where(Scrutin.id.in_(ids))
    if with_lists:
        query = query.options(selectinload(Scrutin.lists).selectinload(CandidateList.candidates))
    return {scrutin.id: scrutin for scrutin in session.execute(query).scalars()}


def find_mine(items: list[MyScrutin], code: str) -> MyScrutin | None:
    return next((item for item in items if item.scrutin.code == code), None)


def headline(items: list[MyScrutin]) -> MyScrutin | None:
    """The scrutin whose countdown the home page shows: the open one closing first, else the next to open."""
    open_ones = [item for item in items if item.countdown.phase == "open"]
    if open_ones:
        return min(open_ones, key=lambda item: item.scrutin.closes_at)
    coming = [item for item in items if item.countdown.phase == "before"]
    if coming:
        return min(coming, key=lambda item: item.scrutin.opens_at)
    return items[-1] if items else None


@dataclass(frozen=True)
class RollPage:
    names: list[str]
    page: int
    pages: int
    total: int


def roll_page(session: Session, scrutin_id: int, page: int) -> RollPage:
    total = int(
        session.execute(
            select(func.count()).select_from(RollEntry).where(RollEntry.scrutin_id == scrutin_id)
        ).scalar_one()
    )
    pages = max(1, -(-total // ROLL_PAGE_SIZE))
    page = min(max(1, page), pages)
    names = list(
        session.execute(
            select(RollEntry.display_name)
            .where(RollEntry.scrutin_id == scrutin_id)
            .order_by(RollEntry.display_name, RollEntry.id)
            .offset((page - 1) * ROLL_PAGE_SIZE)
            .limit(ROLL_PAGE_SIZE)
        ).scalars()
    )
    return RollPage(names, page, pages, total)
