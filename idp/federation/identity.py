"""The identité pivot the provider returns, read from the userinfo claims and checked.

FranceConnect's pivot: ``given_name`` (every first name, in civil-status order, separated by spaces),
``family_name`` (the birth name), ``birthdate``, ``gender``, ``birthplace`` (INSEE code of the commune when born in
France, empty otherwise) and ``birthcountry`` (INSEE code of the country, ``99100`` for France).

A *presumed* birth date (the civil status knows only the year, or the year and month) reaches relying parties
under two conventions: the INSEE one, where the unknown day and month are written ``01`` (``1980-01-01``), and the
one of identity providers that write them ``00`` (``1980-00-00``). The first cannot be told from a real 1 January
and is compared as an exact date (the voters file, built from the same civil status, holds the same date). The
second is kept as what it is, a date known to the year (or month), and compared on what is known only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp.federation.errors import FederationError

FRANCE = "99100"
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_COUNTRY = re.compile(r"^99\d{3}$", re.ASCII)
_COMMUNE = re.compile(r"^(\d{5}|2[AB]\d{3})$", re.ASCII)


@dataclass(frozen=True)
class BirthDate:
    """A birth date, possibly presumed: ``month`` and ``day`` are None when the provider said ``00``."""

    year: int
    month: int | None
    day: int | None

    @classmethod
    def parse(cls, value: str) -> BirthDate:
        match = _DATE.fullmatch(value)
        if match is None:
            raise ValueError("not YYYY-MM-DD")
        year, month, day = (int(part) for part in match.groups())
        if month == 0 and day != 0:
            raise ValueError("a day without a month")
        if month and day:
            dt.date(year, month, day)  # raises ValueError for a day that does not exist
        elif month and not 1 <= month <= 12:
            raise ValueError("no such month")
        if not 1900 <= year <= 9999:
            raise ValueError("no such year")
        return cls(year, month or None, day or None)

    @property
    def precision(self) -> str:
        return "day" if self.day else "month" if self.month else "year"

    def bounds(self) -> tuple[dt.date, dt.date]:
        """The first and last days the date may be: one day when complete, a month or a year when presumed."""
        if self.month and self.day:
            day = dt.date(self.year, self.month, self.day)
            return day, day
        if self.month:
            following = dt.date(self.year + (self.month == 12), self.month % 12 + 1, 1)
            return dt.date(self.year, self.month, 1), following - dt.timedelta(days=1)
        return dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)


@dataclass(frozen=True)
class PivotIdentity:
    given_names: str
    family_name: str
    birthdate: BirthDate
    birthcountry: str
    #: INSEE code of the commune, upper-cased; None when born abroad.
    birthplace: str | None

    @property
    def born_in_france(self) -> bool:
        return self.birthcountry == FRANCE


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        raise FederationError("incomplete_identity", "identity", f"missing:{name}")
    return value.strip()


def pivot_identity(claims: Mapping[str, Any]) -> PivotIdentity:
    """The pivot identity of verified userinfo claims; ``incomplete_identity`` when a claim the matching needs
    is missing or malformed (the claim's name goes to the audit log, never its value)."""
    given_names = _text(claims, "given_name")
    family_name = _text(claims, "family_name")
    try:
        birthdate = BirthDate.parse(_text(claims, "birthdate"))
    except ValueError:
        raise FederationError("incomplete_identity", "identity", "malformed:birthdate") from None
    country = _text(claims, "birthcountry")
    if not _COUNTRY.fullmatch(country):
        raise FederationError("incomplete_identity", "identity", "malformed:birthcountry")
    birthplace = None
    if country == FRANCE:
        birthplace = _text(claims, "birthplace").upper()
        if not _COMMUNE.fullmatch(birthplace):
            raise FederationError("incomplete_identity", "identity", "malformed:birthplace")
    return PivotIdentity(given_names, family_name, birthdate, country, birthplace)
