"""Fictitious citizens, read from a CSV file: the identities the login page offers.

Columns: ``id, given_name, family_name, preferred_username, birthdate, gender, birthplace, birthcountry,
email``. ``given_name`` holds every first name separated by spaces (FranceConnect's convention),
``family_name`` the birth name, ``preferred_username`` the usage name (optional). ``birthplace`` is the INSEE
code of the commune of birth (``2A``/``2B`` for Corsica) and is empty when ``birthcountry`` is not France
(``99100``). A presumed birth date follows the INSEE convention: unknown day and month are given as ``01``
(``1980-01-01``).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

COLUMNS = (
    "id",
    "given_name",
    "family_name",
    "preferred_username",
    "birthdate",
    "gender",
    "birthplace",
    "birthcountry",
    "email",
)
FRANCE = "99100"
GENDERS = ("female", "male")
_COMMUNE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_COUNTRY = re.compile(r"^99\d{3}$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class CitizensError(ValueError):
    """The citizens file is malformed; the message names the line and the column."""


@dataclass(frozen=True)
class Citizen:
    id: str
    given_name: str
    family_name: str
    preferred_username: str
    birthdate: str
    gender: str
    birthplace: str
    birthcountry: str
    email: str

    @property
    def born_abroad(self) -> bool:
        return self.birthcountry != FRANCE

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def _check(row: dict[str, str], line: int) -> Citizen:
    values = {column: (row.get(column) or "").strip() for column in COLUMNS}
    where = f"line {line}"
    if not _ID.match(values["id"]):
        raise CitizensError(f"{where}: id must be 1 to 64 letters, digits, '-' or '_'")
    for column in ("given_name", "family_name"):
        if not values[column]:
            raise CitizensError(f"{where}: {column} is required")
    values["given_name"] = " ".join(values["given_name"].split())
    try:
        dt.date.fromisoformat(values["birthdate"])
    except ValueError:
        birthdate = values["birthdate"]
        raise CitizensError(f"{where}: birthdate must be a date YYYY-MM-DD, not {birthdate!r}") from None
    if len(values["birthdate"]) != len("YYYY-MM-DD"):
        raise CitizensError(f"{where}: birthdate must be written YYYY-MM-DD")
    if values["gender"] not in GENDERS:
        raise CitizensError(f"{where}: gender must be female or male, got {values['gender']!r}")
    if not _COUNTRY.match(values["birthcountry"]):
        raise CitizensError(f"{where}: birthcountry must be an INSEE country code 99xxx")
    if values["birthcountry"] == FRANCE and not _COMMUNE.match(values["birthplace"]):
        raise CitizensError(f"{where}: birthplace must be the INSEE code of a commune when born in France")
    if values["birthcountry"] != FRANCE and values["birthplace"]:
        raise CitizensError(f"{where}: birthplace must be empty when born abroad")
    if values["email"] and "@" not in values["email"]:
        raise CitizensError(f"{where}: email is not an address")
    return Citizen(**values)


def load_citizens(path: str | Path) -> dict[str, Citizen]:
    """Citizens by id, in file order."""
    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
            if missing:
                raise CitizensError(f"{path}: missing columns {', '.join(missing)}")
            citizens: dict[str, Citizen] = {}
            for row in reader:
                citizen = _check(row, reader.line_num)
                if citizen.id in citizens:
                    raise CitizensError(f"line {reader.line_num}: id {citizen.id!r} appears twice")
                citizens[citizen.id] = citizen
    except OSError as exc:
        raise CitizensError(f"cannot read the citizens file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CitizensError(f"{path} is not UTF-8") from None
    if not citizens:
        raise CitizensError(f"{path} holds no citizen")
    return citizens
