"""Durations shown to voters, in French, with Babel: « 24 heures », « 1 minute », « 1 heure et 30 minutes ».

Hand-written « heure(s) » reads as a form letter; Babel knows French plurals (« 1 minute », « 2 minutes ») and how
French joins a list. A no-break space separates each number from its unit, as French typography wants. A duration
is written exactly, in whole units from ``largest`` down to ``smallest``, and rounded *up* to ``smallest``: a voter
told « Réessayez dans 2 minutes » must not be refused at the second one. Shared by every app (the IdP, its plugins,
the portal), which may not import each other.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Literal

from babel.lists import format_list
from babel.units import format_unit

Unit = Literal["day", "hour", "minute", "second"]
Length = Literal["long", "short"]

#: Seconds in each unit, largest first.
_SECONDS: dict[Unit, int] = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
LOCALE = "fr_FR"


def format_duration(
    duration: float | dt.timedelta,
    *,
    largest: Unit = "day",
    smallest: Unit = "minute",
    length: Length = "long",
) -> str:
    """``duration`` (seconds or a timedelta) in French words: « 24 heures » with ``largest="hour"``, « 1 jour »
    otherwise; ``length="short"`` for an SMS (« 30 min »). Never less than one ``smallest`` unit."""
    seconds = duration.total_seconds() if isinstance(duration, dt.timedelta) else float(duration)
    units = list(_SECONDS)[list(_SECONDS).index(largest) : list(_SECONDS).index(smallest) + 1]
    step = _SECONDS[smallest]
    remaining = max(1, math.ceil(seconds / step)) * step
    parts = []
    for unit in units:
        count, remaining = divmod(remaining, _SECONDS[unit])
        if count:
            words = format_unit(count, f"duration-{unit}", length=length, locale=LOCALE)
            # CLDR's French patterns mix plain and no-break spaces; always a no-break one after the number.
            parts.append(re.sub(r"(\d)\s", "\\1\u00a0", words, count=1))
    return format_list(parts, style="standard" if length == "long" else "unit-short", locale=LOCALE)


def unit_word(count: int, unit: Unit) -> str:
    """The word for ``count`` ``unit`` in French, without the number: « jour » for 0 and 1, « jours » above (CLDR)."""
    return format_unit(count, f"duration-{unit}", length="long", locale=LOCALE).split(None, 1)[1]
