"""Dates and the countdown as the voter reads them: French, Europe/Paris, computed from a given ``now``.

Every function takes the instant to compare with as a parameter, so that the pages, the tests (fixed instants
around a daylight-saving change, before the opening, after the closing) and the live script agree. Durations are
differences of absolute instants (UTC): across a change of time the countdown shows the time really left, while
the opening and closing instants are shown in Paris local time.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from templates.durations import Unit, unit_word

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"
#: "jeudi 01 décembre 2022 à 08h00": CLDR pattern (EEEE weekday, dd two-digit day, MMMM month name).
INSTANT_PATTERN = "EEEE dd MMMM yyyy 'à' HH'h'mm"

Phase = Literal["before", "open", "closed"]


@functools.lru_cache(maxsize=1024)
def format_instant(instant: dt.datetime) -> str:
    """An instant in Paris local time, in French: "jeudi 01 décembre 2022 à 08h00".

    Kept per process (a pure function; the pages show the same few opening and closing instants at every request,
    and Babel takes about 0.1 ms for each)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are refused: pass an aware datetime")
    return format_datetime(instant, INSTANT_PATTERN, tzinfo=PARIS, locale=LOCALE)


def opening_sentence(opens_at: dt.datetime, closes_at: dt.datetime) -> str:
    """ "Ouvert du jeudi 01 décembre 2022 à 08h00 au jeudi 08 décembre 2022 à 17h00 (Heure de Paris)"."""
    return f"Ouvert du {format_instant(opens_at)} au {format_instant(closes_at)} (Heure de Paris)"


@dataclass(frozen=True)
class Countdown:
    """Time left until the next event of a scrutin: its opening (``before``) or its closing (``open``)."""

    phase: Phase
    #: The instant counted down to (None once closed).
    target: dt.datetime | None
    days: int = 0
    hours: int = 0
    minutes: int = 0

    @property
    def heading(self) -> str:
        if self.phase == "before":
            return "Ouverture du vote dans"
        if self.phase == "open":
            return "Fermeture du vote dans"
        return "Le vote est clos"

    @property
    def text(self) -> str:
        """The whole sentence, e.g. "Fermeture du vote dans 07 jours 06 heures 01 minute" (French plurals)."""
        if self.phase == "closed":
            return self.heading
        figures: list[tuple[int, Unit]] = [(self.days, "day"), (self.hours, "hour"), (self.minutes, "minute")]
        return " ".join([self.heading, *(f"{count:02d} {unit_word(count, unit)}" for count, unit in figures)])


def countdown(opens_at: dt.datetime, closes_at: dt.datetime, now: dt.datetime) -> Countdown:
    """The countdown at ``now``.

    Minutes are rounded up: with 30 seconds left the vote is still open, so the page says "00 … 01 Minute(s)",
    never "00 … 00" while a ballot can still be cast. The static script uses the same rule.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetimes are refused: pass an aware datetime")
    if now >= closes_at:
        return Countdown("closed", None)
    phase: Phase = "before" if now < opens_at else "open"
    target = opens_at if phase == "before" else closes_at
    seconds = (target - now).total_seconds()
    total_minutes = int(-(-seconds // 60))  # ceiling
    days, rest = divmod(total_minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return Countdown(phase, target, days, hours, minutes)
