"""One CSV row of the voters file turned into the values stored for a voter, or the list of what is wrong."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from idp import validation
from idp.security.keyed import KeyedHasher


@dataclass(frozen=True, slots=True)
class VoterRow:
    """The normalised values of one row. NUMEN and NIR prefix are in clear here, only until :meth:`values`."""

    identifier: str
    family_name: str
    first_names: str
    birth_date: dt.date
    birthplace: str
    gender: str | None
    academie: str
    numen: str
    nir10: str

    def values(self, keyed: KeyedHasher, *, with_gender: bool) -> dict[str, Any]:
        """The column values of the ``voter`` table; ``gender`` only when the file has that column."""
        values: dict[str, Any] = {
            "identifier": self.identifier,
            "family_name": self.family_name,
            "first_names": self.first_names,
            "birth_date": self.birth_date,
            "birthplace": self.birthplace,
            "academie": self.academie,
            "numen_hash": keyed.digest("numen", self.numen),
            "nir_hash": keyed.digest("nir", self.nir10),
        }
        if with_gender:
            values["gender"] = self.gender
        return values


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """``row`` if every cell is valid, else every problem found (not just the first). ``identifier`` is set
    whenever that cell alone is valid, so that duplicates are detected on rows with other problems too."""

    row: VoterRow | None
    identifier: str | None
    problems: list[str]


class RowParser:
    """Validates rows against one ``today`` (the birth-date range), computed once for the whole file."""

    def __init__(self, today: dt.date | None = None) -> None:
        # Column -> normaliser. Name lengths are those of the ``voter`` table.
        self._checks: tuple[tuple[str, Callable[[str], Any]], ...] = (
            ("identifier", validation.normalise_identifier),
            ("family_name", partial(validation.normalise_name, label="nom de famille", max_length=200)),
            ("first_names", partial(validation.normalise_name, label="prénoms", max_length=300)),
            ("birth_date", partial(validation.parse_birth_date, today=today or dt.date.today())),
            ("birthplace", validation.normalise_birthplace),
            ("gender", validation.normalise_gender),
            ("academie", partial(validation.normalise_name, label="académie", max_length=100)),
            ("numen", validation.normalise_numen),
            ("nir10", validation.normalise_nir_prefix),
        )

    def parse(self, values: dict[str, str]) -> ParsedRow:
        """Validate every cell of a row (a missing optional column reads as an empty cell)."""
        problems: list[str] = []
        parsed: dict[str, Any] = {}
        for column, normalise in self._checks:
            try:
                parsed[column] = normalise(values.get(column, ""))
            except validation.InvalidValue as exc:
                problems.append(str(exc))
        identifier = parsed.get("identifier")
        if problems:
            return ParsedRow(None, identifier, problems)
        return ParsedRow(VoterRow(**parsed), identifier, [])
