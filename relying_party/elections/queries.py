"""What the pages read about the signed-in voter's scrutins (always through the roll: a voter sees only theirs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from relying_party.elections.timefmt import Countdown, countdown, opening_sentence
from relying_party.models import CandidateList, Emargement, RollEntry, Scrutin

ROLL_PAGE_SIZE = 50


@dataclass(frozen=True)
class MyScrutin:
    scrutin: Scrutin
    #: My name as the roll shows it.
    roll_name: str
    voted: bool
    countdown: Countdown
    window: str

    @property
    def is_open(self) -> bool:
        return self.countdown.phase == "open"


def my_scrutins(
    session: Session, identifier: str | None, now: dt.datetime, *, with_lists: bool = False
) -> list[MyScrutin]:
    if not identifier:
        return []
    query = (
        select(Scrutin, RollEntry.display_name)
        .join(RollEntry, RollEntry.scrutin_id == Scrutin.id)
        .where(RollEntry.voter_identifier == identifier)
        .order_by(Scrutin.opens_at, Scrutin.code)
    )
    if with_lists:
        query = query.options(selectinload(Scrutin.lists).selectinload(CandidateList.candidates))
    rows = session.execute(query).all()
    voted = set(
        session.execute(select(Emargement.scrutin_id).where(Emargement.voter_identifier == identifier)).scalars()
    )
    return [
        MyScrutin(
            scrutin,
            name,
            scrutin.id in voted,
            countdown(scrutin.opens_at, scrutin.closes_at, now),
            opening_sentence(scrutin.opens_at, scrutin.closes_at),
        )
        for scrutin, name in rows
    ]


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
