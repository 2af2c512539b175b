"""Formats of the voter data: pure functions that normalise a value or refuse it with a precise French message.

The same functions serve the voter import (an operator's file) and, later, the réassort plugin (a voter typing
their NUMEN or NIR prefix): a value accepted by one must be accepted by the other, or a voter could be imported
with a credential they can never use. Each function returns the normalised value (the one to store or to hash)
or raises :class:`InvalidValue`.

Messages never repeat the value: NUMEN and NIR are secrets, the others personal data, and the import's output
may end up in an operator's terminal log. They name the position that is wrong instead.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

#: Same rule as the sign-in form (``idp.auth.service.IDENTIFIER_RE``), so that every imported identifier can sign
#: in: lower-case ASCII local part and domain, a dot in the domain.
IDENTIFIER_RE = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$")
IDENTIFIER_MAX_LENGTH = 254  # RFC 5321 path limit
_ACADEMIC_RE = re.compile(r"^[a-z0-9._%+\-]+@ac-([a-z0-9\-]+)\.fr$")

NUMEN_RE = re.compile(r"^\d{2}[A-Z]\d{7}[A-Z]{3}$", re.ASCII)
#: What each of the 13 NUMEN positions must be: "d" a digit, "L" a letter.
_NUMEN_SHAPE = "ddLdddddddLLL"

#: First character of a NIR: 1 and 2 (definitive numbers); 3 and 4 (people born abroad whose registration is in
#: progress); 7 and 8 (provisional numbers, NIA, of people not yet registered). Staff recruited recently may only
#: know a provisional number, and it is the one their employer's file holds.
NIR_SEX_DIGITS = frozenset("123478")
#: Months 01-12; 20-42 and 50-99 are the pseudo-months INSEE assigns when the civil-status record gives no month.
NIR_MONTHS = frozenset(
    [f"{m:02d}" for m in range(1, 13)] + [f"{m:02d}" for m in range(20, 43)] + [f"{m:02d}" for m in range(50, 100)]
)

BIRTH_DATE_EARLIEST = dt.date(1900, 1, 1)
#: The youngest staff (apprentices) are 15: a later birth date is a data error.
MINIMUM_AGE_YEARS = 15

_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_FRENCH_DATE_RE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$", re.ASCII)
#: INSEE birthplace codes (COG): a commune in a metropolitan département (01-95; 20 for Corsica before 1976,
#: 2A/2B since), an overseas commune (971-978, 984-989), or 99 + a country code for a birth abroad.
_BIRTHPLACE_RE = re.compile(
    r"^(?:(?:0[1-9]|[1-8]\d|9[0-5]|2A|2B)\d{3}|97[1-8]\d{2}|98[4-9]\d{2}|99[1-9]\d{2})$", re.ASCII
)
#: The country code of France itself: meaningless as a birth "abroad".
FRANCE_COUNTRY_CODE = "99100"
_NAME_PUNCTUATION = frozenset(" -'")
#: Latin-1 letters (without × and ÷), space, hyphen, apostrophe: a subset of what :func:`normalise_name` accepts.
_LATIN_NAME_RE = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ '\-]+")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'"})
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class InvalidValue(ValueError):
    """A value that does not have its expected format; ``str(exc)`` is the French message to show."""


def _compact(raw: str) -> str:
    """Remove every white space (people type ``12 A 345…``, spreadsheets add non-breaking spaces)."""
    return "".join(raw.split())


def normalise_identifier(raw: str) -> str:
    """The academic e-mail address used as identifier, trimmed and lower-cased.

    Any well-formed address is accepted (some staff are not in an académie, for example the central
    administration); :func:`academie_of` tells whether it has the ``prenom.nom@ac-<academie>.fr`` form.
    """
    identifier = raw.strip().lower()
    if not identifier:
        raise InvalidValue("identifiant manquant")
    if len(identifier) > IDENTIFIER_MAX_LENGTH:
        raise InvalidValue(f"identifiant trop long ({IDENTIFIER_MAX_LENGTH} caractères au plus)")
    if identifier.count("@") != 1:
        raise InvalidValue("identifiant invalide : une adresse électronique avec un seul « @ » est attendue")
    local, domain = identifier.split("@")
    if not local or not IDENTIFIER_RE.fullmatch(identifier) or ".." in identifier or local.startswith("."):
        if any(not ch.isascii() for ch in identifier):
            raise InvalidValue("identifiant invalide : les caractères accentués ne sont pas admis")
        if "." not in domain or domain.startswith((".", "-")) or domain.endswith((".", "-")):
            raise InvalidValue("identifiant invalide : le domaine de l'adresse électronique est incorrect")
        raise InvalidValue(
            "identifiant invalide : adresse électronique attendue (lettres, chiffres et . _ % + - seulement), "
            "par exemple prenom.nom@ac-dijon.fr"
        )
    return identifier


def academie_of(identifier: str) -> str | None:
    """The académie of an academic address (``dijon`` for ``prenom.nom@ac-dijon.fr``), None for any other.

    The réassort plugin uses it to refuse an academic address as the "personal" e-mail of a réassort.
    """
    match = _ACADEMIC_RE.fullmatch(identifier.strip().lower())
    return match.group(1) if match else None


def normalise_numen(raw: str) -> str:
    """The NUMEN (13 characters: 2 digits, 1 letter, 7 digits, 3 letters), spaces removed, upper-cased."""
    numen = _compact(raw).upper()
    if not numen:
        raise InvalidValue("NUMEN manquant")
    if len(numen) != len(_NUMEN_SHAPE):
        raise InvalidValue(
            f"NUMEN invalide : 13 caractères attendus (2 chiffres, 1 lettre, 7 chiffres, 3 lettres), {len(numen)} reçus"
        )
    if NUMEN_RE.fullmatch(numen):
        return numen
    for position, (char, kind) in enumerate(zip(numen, _NUMEN_SHAPE, strict=True), start=1):
        if kind == "d" and char not in _DIGITS:
            raise InvalidValue(f"NUMEN invalide : le caractère {position} doit être un chiffre")
        if kind == "L" and char not in _LETTERS:
            raise InvalidValue(f"NUMEN invalide : le caractère {position} doit être une lettre (A à Z)")
    raise AssertionError("NUMEN_RE and _NUMEN_SHAPE disagree")  # pragma: no cover


def normalise_nir_prefix(raw: str) -> str:
    """The first 10 characters of the NIR (sex, year, month, département, commune), spaces removed.

    Upper-cased so that ``2a`` and ``2A`` (Corsica) hash alike. The check is structural: it refuses what no
    INSEE rule produces (a typo, a shifted column) and accepts every rule that does, provisional numbers
    included, since refusing a real number would lock its holder out of the réassort.
    """
    nir = _compact(raw).upper()
    if not nir:
        raise InvalidValue("NIR manquant (10 premiers caractères du numéro de sécurité sociale)")
    if len(nir) != 10:
        hint = " : ne donnez que les 10 premiers" if len(nir) in (13, 15) else ""
        raise InvalidValue(f"NIR invalide : 10 caractères attendus (les 10 premiers du NIR), {len(nir)} reçus{hint}")
    problems: list[str] = []
    if nir[0] not in NIR_SEX_DIGITS:
        problems.append("le caractère 1 (sexe) doit être 1 ou 2 (3, 4, 7 ou 8 pour un numéro provisoire)")
    if not set(nir[1:3]) <= _DIGITS:
        problems.append("les caractères 2 et 3 (année de naissance) doivent être des chiffres")
    if nir[3:5] not in NIR_MONTHS:
        problems.append("les caractères 4 et 5 (mois de naissance) doivent valoir 01 à 12, 20 à 42 ou 50 à 99")
    department = nir[5:7]
    if department not in {"2A", "2B"} and (not set(department) <= _DIGITS or department == "00"):
        problems.append("les caractères 6 et 7 (département de naissance) doivent valoir 01 à 99, 2A ou 2B")
    if not set(nir[7:10]) <= _DIGITS:
        problems.append("les caractères 8 à 10 (commune ou pays de naissance) doivent être des chiffres")
    if problems:
        raise InvalidValue("NIR invalide : " + " ; ".join(problems))
    return nir


def _latest_birth_date(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - MINIMUM_AGE_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - MINIMUM_AGE_YEARS, day=28)


def parse_birth_date(raw: str, *, today: dt.date | None = None) -> dt.date:
    """An ISO 8601 calendar date (``AAAA-MM-JJ``) between 1900-01-01 and the day the voter turned 15."""
    text = raw.strip()
    if not text:
        raise InvalidValue("date de naissance manquante")
    if not _ISO_DATE_RE.fullmatch(text):
        hint = " ; les dates JJ/MM/AAAA doivent être converties" if _FRENCH_DATE_RE.fullmatch(text) else ""
        raise InvalidValue(f"date de naissance invalide : format AAAA-MM-JJ attendu (par exemple 1985-07-21){hint}")
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidValue("date de naissance invalide : ce jour n'existe pas dans le calendrier") from None
    latest = _latest_birth_date(today or dt.date.today())
    if not BIRTH_DATE_EARLIEST <= value <= latest:
        raise InvalidValue(
            f"date de naissance invalide : elle doit être comprise entre {BIRTH_DATE_EARLIEST.isoformat()} "
            f"et {latest.isoformat()}"
        )
    return value


def normalise_birthplace(raw: str) -> str:
    """The INSEE code of the birthplace: a commune in France or ``99`` + the country code for a birth abroad."""
    code = raw.strip().upper()
    if not code:
        raise InvalidValue("lieu de naissance manquant (code INSEE)")
    if code == FRANCE_COUNTRY_CODE:
        raise InvalidValue("lieu de naissance invalide : 99100 désigne la France, donnez le code de la commune")
    if not _BIRTHPLACE_RE.fullmatch(code) or code.endswith("000"):
        raise InvalidValue(
            "lieu de naissance invalide : code INSEE à 5 caractères attendu (commune en France, par exemple "
            "21231 ou 2A004 ; à l'étranger, 99 suivi du code du pays, par exemple 99350)"
        )
    return code


def normalise_gender(raw: str) -> str | None:
    """``F``, ``M`` or None (the column is optional and the cell may be empty)."""
    value = raw.strip().upper()
    if not value:
        return None
    if value not in {"F", "M"}:
        raise InvalidValue("genre invalide : F, M ou vide attendu")
    return value


def normalise_name(raw: str, label: str, max_length: int) -> str:
    """A family name, first names or académie name: NFC, single spaces, typographic apostrophes folded.

    Letters of any alphabet with their accents, spaces, hyphens and apostrophes only: a digit or a comma is a
    shifted column or a list separator, and first names are separated by spaces as in FranceConnect's
    ``given_name`` (the identité pivot is compared with it later). ``label`` names the field in the message.
    """
    value = " ".join(unicodedata.normalize("NFC", raw).translate(_APOSTROPHES).split())
    if not value:
        raise InvalidValue(f"{label} : valeur manquante")
    if len(value) > max_length:
        raise InvalidValue(f"{label} : {max_length} caractères au plus")
    if _LATIN_NAME_RE.fullmatch(value):  # fast path for nearly every name; the loop below decides the rest
        return value
    for position, char in enumerate(value, start=1):
        if char in _NAME_PUNCTUATION:
            continue
        if not unicodedata.category(char).startswith(("L", "M")):
            raise InvalidValue(
                f"{label} : caractère {position} non admis (lettres, espaces, tirets et apostrophes seulement)"
            )
    return value
