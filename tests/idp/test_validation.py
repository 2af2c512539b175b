"""Formats of voter data (pure functions, shared by the import and the réassort plugin): no database needed."""

from __future__ import annotations

import datetime as dt

import pytest

from idp import validation
from idp.validation import InvalidValue

TODAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Camille.Testeur@AC-Exemple.FR ", "camille.testeur@ac-exemple.fr"),
        ("Jean-Marie.Testeur+elections@ac-dijon.fr", "jean-marie.testeur+elections@ac-dijon.fr"),
        ("agent.fictif2@education.gouv.fr", "agent.fictif2@education.gouv.fr"),
    ],
)
def test_identifier_is_trimmed_and_lower_cased(raw, expected):
    assert validation.normalise_identifier(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "identifiant manquant"),
        ("camille.testeur", "un seul « @ »"),
        ("a@b@ac-exemple.fr", "un seul « @ »"),
        ("amélie.testeur@ac-exemple.fr", "caractères accentués"),
        ("camille.testeur@exemple", "domaine"),
        ("camille..testeur@ac-exemple.fr", "adresse électronique attendue"),
        ("x" * 250 + "@ac-exemple.fr", "trop long"),
    ],
)
def test_bad_identifiers_are_refused_with_a_reason(raw, message):
    with pytest.raises(InvalidValue, match=message):
        validation.normalise_identifier(raw)


def test_the_academie_is_read_from_academic_addresses_only():
    assert validation.academie_of("camille.testeur@ac-dijon.fr") == "dijon"
    assert validation.academie_of("Camille.Testeur@AC-AIX-MARSEILLE.FR") == "aix-marseille"
    assert validation.academie_of("agent.fictif@education.gouv.fr") is None


def test_numen_is_compacted_and_upper_cased():
    assert validation.normalise_numen(" 12 a 3456789 abc ") == "12A3456789ABC"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "NUMEN manquant"),
        ("12A3456789AB", "13 caractères attendus .* 12 reçus"),
        ("1BA3456789ABC", "le caractère 2 doit être un chiffre"),
        ("123345678 9ABC", "le caractère 3 doit être une lettre"),
        ("12A3456789AB1", "le caractère 13 doit être une lettre"),
        ("12É3456789ABC", "le caractère 3 doit être une lettre"),
    ],
)
def test_bad_numen_names_the_wrong_position(raw, message):
    with pytest.raises(InvalidValue, match=message) as excinfo:
        validation.normalise_numen(raw)
    assert raw.strip() == "" or raw.replace(" ", "") not in str(excinfo.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2 85 07 21 231", "2850721231"),  # definitive number, born in Côte-d'Or
        (" 1 80 12 2a 004\t", "180122A004"),  # Corsica since 1976, typed in lower case
    ],
)
def test_nir_prefix_is_compacted_and_upper_cased(raw, expected):
    assert validation.normalise_nir_prefix(raw) == expected


@pytest.mark.parametrize(
    "nir",
    [
        "1701220004",  # Corsica before 1976 (20)
        "290012A004",
        "290012B033",  # Corsica since 1976
        "1852099352",  # pseudo-month 20, born abroad (99 + country)
        "2854297411",  # pseudo-month 42, born in La Réunion (97 + 411)
        "1855096001",  # pseudo-month 50, Tunisia before independence (96)
        "7990575056",
        "8000175056",  # provisional numbers (NIA)
        "3851099213",
        "4851099213",  # registration in progress
    ],
)
def test_every_insee_rule_is_accepted(nir):
    assert validation.normalise_nir_prefix(nir) == nir


@pytest.mark.parametrize(
    ("nir", "message"),
    [
        ("", "NIR manquant"),
        ("285072123", "10 caractères attendus .* 9 reçus"),
        ("285072123112345", "15 reçus : ne donnez que les 10 premiers"),
        ("5850721231", r"caractère 1 \(sexe\)"),
        ("2X50721231", "caractères 2 et 3"),
        ("2851321231", "caractères 4 et 5"),
        ("2850021231", "caractères 4 et 5"),
        ("2854521231", "caractères 4 et 5"),
        ("2850700231", "caractères 6 et 7"),
        ("2850721C31", "caractères 8 à 10"),
        ("28507 2C 231", "caractères 6 et 7"),
    ],
)
def test_bad_nir_prefix_names_the_wrong_part(nir, message):
    with pytest.raises(InvalidValue, match=message):
        validation.normalise_nir_prefix(nir)


def test_every_problem_of_a_nir_prefix_is_reported_at_once():
    with pytest.raises(InvalidValue) as excinfo:
        validation.normalise_nir_prefix("9851300X31")
    message = str(excinfo.value)
    for part in ("caractère 1", "caractères 4 et 5", "caractères 6 et 7", "caractères 8 à 10"):
        assert part in message


def test_birth_date_is_iso_within_a_plausible_range():
    assert validation.parse_birth_date(" 1985-07-21 ", today=TODAY) == dt.date(1985, 7, 21)
    assert validation.parse_birth_date("2011-11-29", today=TODAY) == dt.date(2011, 11, 29)
    assert validation.parse_birth_date("1900-01-01", today=TODAY) == dt.date(1900, 1, 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "manquante"),
        ("21/07/1985", "JJ/MM/AAAA doivent être converties"),
        ("1985-7-21", "format AAAA-MM-JJ"),
        ("1985-02-30", "n'existe pas"),
        ("2011-11-30", "entre 1900-01-01 et 2011-11-29"),
        ("1899-12-31", "entre 1900-01-01"),
    ],
)
def test_bad_birth_dates_are_refused(raw, message):
    with pytest.raises(InvalidValue, match=message):
        validation.parse_birth_date(raw, today=TODAY)


def test_the_latest_birth_date_exists_on_29_february():
    assert validation.parse_birth_date("2009-02-28", today=dt.date(2024, 2, 29)) == dt.date(2009, 2, 28)


@pytest.mark.parametrize(
    "code", ["21231", "75056", "2a004", "2B033", "20004", "97411", "97611", "98735", "99350", "99138"]
)
def test_birthplace_codes_are_accepted(code):
    assert validation.normalise_birthplace(code) == code.upper()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "manquant"),
        ("2123", "5 caractères"),
        ("00123", "code INSEE"),
        ("21000", "code INSEE"),
        ("96001", "code INSEE"),
        ("97911", "code INSEE"),
        ("99100", "désigne la France"),
        ("2C004", "code INSEE"),
    ],
)
def test_bad_birthplaces_are_refused(code, message):
    with pytest.raises(InvalidValue, match=message):
        validation.normalise_birthplace(code)


def test_gender_is_optional():
    assert validation.normalise_gender(" f ") == "F"
    assert validation.normalise_gender("M") == "M"
    assert validation.normalise_gender("") is None
    with pytest.raises(InvalidValue, match="F, M ou vide"):
        validation.normalise_gender("X")


def test_names_are_normalised_not_rewritten():
    decomposed = "Ame\u0301lie  Marie-Christine"
    assert validation.normalise_name(decomposed, "prénoms", 300) == "Amélie Marie-Christine"
    assert validation.normalise_name("D’Testeur", "nom de famille", 200) == "D'Testeur"
    assert validation.normalise_name("Łukasz Ørsted", "prénoms", 300) == "Łukasz Ørsted"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "nom de famille : valeur manquante"),
        ("TESTEUR2", "caractère 8 non admis"),
        ("TESTEUR, Camille", "caractère 8 non admis"),
        ("T" * 201, "200 caractères au plus"),
    ],
)
def test_bad_names_are_refused(raw, message):
    with pytest.raises(InvalidValue, match=message):
        validation.normalise_name(raw, "nom de famille", 200)
