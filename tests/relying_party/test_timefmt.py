"""Dates and countdown as the voter reads them (French, Europe/Paris), at fixed instants."""

from __future__ import annotations

import datetime as dt

import pytest

from relying_party.elections.timefmt import countdown, format_instant, opening_sentence
from tests.relying_party.helpers import utc

# The seed's election: jeudi 1er décembre 2022 08h00 → jeudi 8 décembre 2022 17h00, Paris (UTC+1 in winter).
SEED_OPENS = utc(2022, 12, 1, 7, 0)
SEED_CLOSES = utc(2022, 12, 8, 16, 0)


def test_seed_sentence_exactly() -> None:
    assert opening_sentence(SEED_OPENS, SEED_CLOSES) == (
        "Ouvert du jeudi 01 décembre 2022 à 08h00 au jeudi 08 décembre 2022 à 17h00 (Heure de Paris)"
    )


def test_units_follow_french_plurals() -> None:
    """« 01 jour », « 02 jours », « 00 minute »: 0 and 1 take the singular in French (CLDR), no « Jour(s) »."""
    now = SEED_CLOSES - dt.timedelta(days=1, hours=2)
    assert countdown(SEED_OPENS, SEED_CLOSES, now).text == "Fermeture du vote dans 01 jour 02 heures 00 minute"


def test_seed_countdown_exactly() -> None:
    # 07 days 06 hours 52 minutes before the closing, as on the seed's screenshot.
    now = SEED_CLOSES - dt.timedelta(days=7, hours=6, minutes=52)
    result = countdown(SEED_OPENS, SEED_CLOSES, now)
    assert result.phase == "open"
    assert result.text == "Fermeture du vote dans 07 jours 06 heures 52 minutes"


def test_summer_instants_are_shown_in_summer_time() -> None:
    # 06:00 UTC in June is 08h00 in Paris (UTC+2).
    assert format_instant(utc(2023, 6, 15, 6, 0)) == "jeudi 15 juin 2023 à 08h00"


def test_autumn_change_of_time_local_display_and_true_duration() -> None:
    # Opens Saturday 29 October 2022 12h00 (CEST, UTC+2), closes Monday 31 October 12h00 (CET, UTC+1): the clocks
    # went back one hour on Sunday 30 at 03h00, so the window lasts 49 hours, not 48.
    opens, closes = utc(2022, 10, 29, 10, 0), utc(2022, 10, 31, 11, 0)
    assert opening_sentence(opens, closes) == (
        "Ouvert du samedi 29 octobre 2022 à 12h00 au lundi 31 octobre 2022 à 12h00 (Heure de Paris)"
    )
    assert countdown(opens, closes, opens).text == "Fermeture du vote dans 02 jours 01 heure 00 minute"
    # Just before and after the change: 02h30 CEST = 00:30 UTC, then 02h30 CET = 01:30 UTC.
    assert countdown(opens, closes, utc(2022, 10, 30, 0, 30)).text == (
        "Fermeture du vote dans 01 jour 10 heures 30 minutes"
    )
    assert countdown(opens, closes, utc(2022, 10, 30, 1, 30)).text == (
        "Fermeture du vote dans 01 jour 09 heures 30 minutes"
    )


def test_spring_change_of_time() -> None:
    # Saturday 25 March 2023 08h00 CET (07:00 UTC) to Monday 27 March 08h00 CEST (06:00 UTC): 47 hours.
    opens, closes = utc(2023, 3, 25, 7, 0), utc(2023, 3, 27, 6, 0)
    assert opening_sentence(opens, closes) == (
        "Ouvert du samedi 25 mars 2023 à 08h00 au lundi 27 mars 2023 à 08h00 (Heure de Paris)"
    )
    assert countdown(opens, closes, opens).text == "Fermeture du vote dans 01 jour 23 heures 00 minute"


def test_before_opening_counts_down_to_the_opening() -> None:
    result = countdown(SEED_OPENS, SEED_CLOSES, SEED_OPENS - dt.timedelta(hours=2, minutes=5))
    assert result.phase == "before"
    assert result.text == "Ouverture du vote dans 00 jour 02 heures 05 minutes"


def test_at_and_after_closing() -> None:
    assert countdown(SEED_OPENS, SEED_CLOSES, SEED_CLOSES).text == "Le vote est clos"
    assert countdown(SEED_OPENS, SEED_CLOSES, SEED_CLOSES + dt.timedelta(days=3)).phase == "closed"


def test_minutes_round_up_while_a_ballot_can_still_be_cast() -> None:
    result = countdown(SEED_OPENS, SEED_CLOSES, SEED_CLOSES - dt.timedelta(seconds=30))
    assert result.text == "Fermeture du vote dans 00 jour 00 heure 01 minute"
    exact = countdown(SEED_OPENS, SEED_CLOSES, SEED_CLOSES - dt.timedelta(hours=1))
    assert (exact.days, exact.hours, exact.minutes) == (0, 1, 0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_instant(dt.datetime(2022, 12, 1, 8, 0))
    with pytest.raises(ValueError, match="naive"):
        countdown(SEED_OPENS, SEED_CLOSES, dt.datetime(2022, 12, 1, 8, 0))
