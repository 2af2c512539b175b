"""Durations shown to voters are French words with correct plurals, exact, and rounded up (never « 0 minute »).

Babel separates the number from its unit with a no-break space (U+00A0), as French typography wants: « 24 » never
ends a line with « heures » on the next.
"""

from __future__ import annotations

import datetime as dt

import pytest

from templates.durations import format_duration


@pytest.mark.parametrize(
    ("seconds", "options", "expected"),
    [
        (86400, {"largest": "hour"}, "24\u00a0heures"),
        (86400, {}, "1\u00a0jour"),
        (3600, {"largest": "hour"}, "1\u00a0heure"),
        (1800, {}, "30\u00a0minutes"),
        (60, {}, "1\u00a0minute"),
        (1, {}, "1\u00a0minute"),  # rounded up: « Réessayez dans 0 minute » would be refused the next second
        (0, {}, "1\u00a0minute"),
        (61, {}, "2\u00a0minutes"),
        (5400, {"largest": "hour"}, "1\u00a0heure et 30\u00a0minutes"),
        (90061, {}, "1\u00a0jour, 1\u00a0heure et 2\u00a0minutes"),
        (1800, {"length": "short"}, "30\u00a0min"),
        (45, {"smallest": "second"}, "45\u00a0secondes"),
    ],
)
def test_format_duration(seconds: int, options: dict[str, str], expected: str) -> None:
    assert format_duration(seconds, **options) == expected  # type: ignore[arg-type]


def test_a_timedelta_is_accepted() -> None:
    assert format_duration(dt.timedelta(minutes=90), largest="hour") == "1\u00a0heure et 30\u00a0minutes"
