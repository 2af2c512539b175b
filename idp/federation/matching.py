"""Finding the voter an identité pivot designates — or refusing to guess.

Rules (a doubtful match is refused):

* **Birth name** (``Voter.family_name``) and **all first names** (``Voter.first_names``), compared after
  normalisation: Unicode compatibility decomposition with the accents dropped, case folded, ``œ``/``æ`` spelled
  out, and every character that is not a letter or a digit (spaces, hyphens, apostrophes) ignored. So ``LEFÈVRE-
  DUPUIS`` = ``Lefevre Dupuis`` and ``Jean-Baptiste Louis Marie`` = ``JEAN BAPTISTE LOUIS MARIE``. First names
  are compared **in order and all of them**: the civil status lists them in order, FranceConnect returns them in
  that order, and ``Marie Sophie`` / ``Sophie Marie`` may be two sisters; a voters file that holds only the first
  of them does not match (the voter uses the other routes, and the file should be corrected).
* **Birth date**, exactly; a presumed date given with ``00`` is compared on its known part (see
  :mod:`idp.federation.identity`).
* **Birthplace**: born in France (``birthcountry`` 99100), the INSEE code of the commune equals
  ``Voter.birthplace``; a commune of Corsica coded before 1976 (``20xxx``) and after (``2Axxx``/``2Bxxx``) is the
  same commune. Born abroad, ``Voter.birthplace`` holds the country code (``99xxx``) and must equal
  ``birthcountry``.
* Never the e-mail address (not even requested by default), nor the gender (optional in the voters file).
* Exactly one voter must match: none or several is a refusal, audited.

The database narrows the candidates on the birth date and birthplace (indexable equality); names are compared in
Python, since their normalisation is not the database's.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.federation.identity import PivotIdentity
from idp.models import Voter

_SPELLED_OUT = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "đ": "d", "ł": "l"})


def name_key(value: str) -> str:
    """The comparison form of a name: letters and digits only, without accents, case folded."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_SPELLED_OUT))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def birthplace_codes(code: str) -> tuple[str, ...]:
    """The codes one commune may have: Corsica's communes kept their number when département 20 became 2A/2B."""
    code = code.upper()
    if code.startswith("20"):
        return code, "2A" + code[2:], "2B" + code[2:]
    if code[:2] in ("2A", "2B"):
        return code, "20" + code[2:]
    return (code,)


@dataclass(frozen=True)
class MatchResult:
    """``voter`` when exactly one voter matches; ``candidates`` is how many did (0, 1 or more)."""

    voter: Voter | None
    candidates: int


def match_voter(session: Session, identity: PivotIdentity) -> MatchResult:
    first, last = identity.birthdate.bounds()
    query = select(Voter).where(Voter.birth_date >= first, Voter.birth_date <= last)
    if identity.born_in_france:
        assert identity.birthplace is not None
        query = query.where(Voter.birthplace.in_(birthplace_codes(identity.birthplace)))
    else:
        query = query.where(Voter.birthplace == identity.birthcountry)
    family, given = name_key(identity.family_name), name_key(identity.given_names)
    if not family or not given:  # punctuation only: nothing to compare
        return MatchResult(None, 0)
    found = [
        voter
        for voter in session.execute(query).scalars()
        if name_key(voter.family_name) == family and name_key(voter.first_names) == given
    ]
    return MatchResult(found[0] if len(found) == 1 else None, len(found))
