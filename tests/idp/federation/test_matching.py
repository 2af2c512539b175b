"""The matching rules: unit cases on the normalisation, then the rules against the voters table (both back ends),
then the development provider's fictitious citizens end to end (several first names, born abroad, Corsica,
presumed birth date, look-alikes, duplicates), with the refusals' pages and audit events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from idp.db import get_db
from idp.federation.errors import FAULTS, FederationError
from idp.federation.identity import BirthDate, PivotIdentity, pivot_identity
from idp.federation.matching import birthplace_codes, match_voter, name_key
from tests.helpers import VoterFactory
from tests.idp.federation.helpers import FederationActions, claire, events

PIVOT = {
    "sub": "s",
    "given_name": "Claire",
    "family_name": "JULLIEN",
    "birthdate": "1985-07-21",
    "gender": "female",
    "birthplace": "21231",
    "birthcountry": "99100",
}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("LEFÈVRE-DUPUIS", "Lefevre Dupuis"),
        ("Jean-Baptiste Louis Marie", "JEAN BAPTISTE  LOUIS   MARIE"),
        ("D'ARTAGNAN", "d’Artagnan"),
        ("Élodie", "ELODIE"),
        ("Cœur", "COEUR"),
        ("  Inès ", "ines"),
    ],
)
def test_same_name(left: str, right: str) -> None:
    assert name_key(left) == name_key(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Sophie Marie", "Marie Sophie"),  # order matters
        ("Jean-Baptiste Louis Marie", "Jean-Baptiste"),  # all first names
        ("Martin", "Martins"),
    ],
)
def test_different_name(left: str, right: str) -> None:
    assert name_key(left) != name_key(right)


def test_corsican_codes() -> None:
    assert set(birthplace_codes("2A004")) == {"2A004", "20004"}
    assert set(birthplace_codes("20004")) == {"20004", "2A004", "2B004"}
    assert birthplace_codes("21231") == ("21231",)


@pytest.mark.parametrize(
    ("value", "bounds", "precision"),
    [
        ("1985-07-21", (dt.date(1985, 7, 21), dt.date(1985, 7, 21)), "day"),
        ("1980-01-01", (dt.date(1980, 1, 1), dt.date(1980, 1, 1)), "day"),  # INSEE convention: an exact date
        ("1980-00-00", (dt.date(1980, 1, 1), dt.date(1980, 12, 31)), "year"),
        ("1980-02-00", (dt.date(1980, 2, 1), dt.date(1980, 2, 29)), "month"),
        ("1980-12-00", (dt.date(1980, 12, 1), dt.date(1980, 12, 31)), "month"),
    ],
)
def test_birth_dates(value: str, bounds: tuple[dt.date, dt.date], precision: str) -> None:
    date = BirthDate.parse(value)
    assert date.bounds() == bounds
    assert date.precision == precision


@pytest.mark.parametrize("value", ["1985-02-30", "1985-13-01", "1985-00-12", "21/07/1985", "1985-7-21", ""])
def test_malformed_birth_dates(value: str) -> None:
    with pytest.raises(ValueError):
        BirthDate.parse(value)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"given_name": None}, "missing:given_name"),
        ({"family_name": " "}, "missing:family_name"),
        ({"birthdate": "1985-02-30"}, "malformed:birthdate"),
        ({"birthcountry": "France"}, "malformed:birthcountry"),
        ({"birthplace": ""}, "missing:birthplace"),
        ({"birthplace": "Dijon"}, "malformed:birthplace"),
    ],
)
def test_incomplete_pivot(change: dict[str, Any], detail: str) -> None:
    claims = {**PIVOT, **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    with pytest.raises(FederationError) as raised:
        pivot_identity(claims)
    assert (raised.value.reason, raised.value.detail) == ("incomplete_identity", detail)


def test_born_abroad_needs_no_birthplace() -> None:
    identity = pivot_identity({**PIVOT, "birthplace": "", "birthcountry": "99134"})
    assert identity.birthplace is None and not identity.born_in_france


def _match(app: Flask, **claims: Any) -> tuple[int | None, int]:
    identity: PivotIdentity = pivot_identity({**PIVOT, **claims})
    with app.app_context(), get_db(app).transaction() as session:
        result = match_voter(session, identity)
        return (result.voter.id if result.voter else None), result.candidates


def test_rules_against_the_voters_table(app: Flask, voters: VoterFactory) -> None:
    voter = claire(voters, first_names="Claire Anne", family_name="JULLIEN-MOREAU")
    claims = {"given_name": "CLAIRE  ANNE", "family_name": "Jullien Moreau"}
    assert _match(app, **claims) == (voter.id, 1)
    assert _match(app, **{**claims, "given_name": "Anne Claire"}) == (None, 0)
    assert _match(app, **{**claims, "given_name": "Claire"}) == (None, 0)
    assert _match(app, **{**claims, "birthdate": "1985-07-22"}) == (None, 0)
    assert _match(app, **{**claims, "birthplace": "21054"}) == (None, 0)
    # A date the provider says is known to the year only matches on the year (and everything else).
    assert _match(app, **{**claims, "birthdate": "1985-00-00"}) == (voter.id, 1)
    assert _match(app, **{**claims, "birthdate": "1985-07-00"}) == (voter.id, 1)
    assert _match(app, **{**claims, "birthdate": "1984-00-00"}) == (None, 0)


def test_born_abroad_compares_the_country(app: Flask, voters: VoterFactory) -> None:
    voter = voters.create(family_name="DIOP", first_names="Awa", birth_date=dt.date(1980, 1, 1), birthplace="99341")
    abroad = {
        "given_name": "Awa",
        "family_name": "DIOP",
        "birthdate": "1980-01-01",
        "birthplace": "",
        "birthcountry": "99341",
    }
    assert _match(app, **abroad) == (voter.id, 1)
    assert _match(app, **{**abroad, "birthcountry": "99350"}) == (None, 0)


def test_two_voters_with_one_identity_are_refused(app: Flask, voters: VoterFactory) -> None:
    claire(voters)
    claire(voters, identifier="claire.jullien2@ac-dijon.fr", first_names="CLAIRE")
    assert _match(app) == (None, 2)


# --- end to end with the development provider's citizens ----------------------------------------------------------


def _voter_of(voters: VoterFactory, identifier: str, family: str, first: str, born: dt.date, place: str) -> Any:
    return voters.create(identifier, family_name=family, first_names=first, birth_date=born, birthplace=place)


@pytest.mark.parametrize(
    ("citizen", "family", "first", "born", "place"),
    [
        ("jean-baptiste-lefevre", "LEFEVRE DUPUIS", "JEAN BAPTISTE LOUIS MARIE", dt.date(1968, 12, 30), "69383"),
        ("ines-garcia-martin", "Garcia-Martin", "Ines", dt.date(1990, 11, 5), "99134"),
        ("awa-diop", "DIOP", "Awa", dt.date(1980, 1, 1), "99341"),
        ("paul-orsini", "ORSINI", "Paul", dt.date(1975, 6, 18), "20004"),
        ("elodie-nguyen", "NGUYEN", "ÉLODIE", dt.date(1995, 8, 25), "13208"),
    ],
)
def test_citizens_match(
    citizen: str,
    family: str,
    first: str,
    born: dt.date,
    place: str,
    app: Flask,
    fc: FederationActions,
    voters: VoterFactory,
) -> None:
    voter = _voter_of(voters, "electeur.essai@ac-exemple.fr", family, first, born, place)
    answer = fc.identify(citizen)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    assert answer.headers["Location"].endswith("/login/password")
    matched = [e for e in events(app) if e["type"] == "federation.matched"]
    assert [e["subject"] for e in matched] == [voter.subject]


def _assert_not_matched(app: Flask, answer: Any, reason: str, candidates: int) -> None:
    fault = FAULTS[reason]
    body = answer.get_data(as_text=True)
    assert answer.status_code == fault.status
    assert fault.title in body and fault.code in body
    refused = [e for e in events(app) if e["type"] == "federation.not_matched"]
    assert len(refused) == 1
    assert refused[0]["reason"] == reason
    assert refused[0]["candidates"] == candidates
    assert refused[0]["subject"] is None
    assert not [e for e in events(app) if e["type"] == "federation.matched"]


def test_look_alike_is_not_matched(app: Flask, fc: FederationActions, voters: VoterFactory) -> None:
    """Two fictitious Sophie Marie MARTIN differ by birth date and place: the other one is not this voter."""
    _voter_of(voters, "sophie.martin@ac-paris.fr", "MARTIN", "Sophie Marie", dt.date(1982, 4, 15), "75115")
    _assert_not_matched(app, fc.identify("sophie-martin-1984"), "no_match", 0)


def test_look_alike_matches_her_own_account(app: Flask, fc: FederationActions, voters: VoterFactory) -> None:
    mine = _voter_of(voters, "sophie.martin@ac-paris.fr", "MARTIN", "Sophie Marie", dt.date(1982, 4, 15), "75115")
    _voter_of(voters, "s.martin@ac-paris.fr", "MARTIN", "Sophie Marie", dt.date(1984, 9, 3), "75112")
    assert fc.identify("sophie-martin-1982").status_code == 302
    assert [e["subject"] for e in events(app) if e["type"] == "federation.matched"] == [mine.subject]


def test_duplicate_accounts_are_refused(app: Flask, fc: FederationActions, voters: VoterFactory) -> None:
    claire(voters)
    claire(voters, identifier="c.jullien@ac-dijon.fr")
    answer = fc.identify("claire-jullien")
    _assert_not_matched(app, answer, "ambiguous_match", 2)


def test_only_the_first_first_name_in_the_file_is_refused(
    app: Flask, fc: FederationActions, voters: VoterFactory
) -> None:
    _voter_of(voters, "jb.lefevre@ac-lyon.fr", "LEFÈVRE-DUPUIS", "Jean-Baptiste", dt.date(1968, 12, 30), "69383")
    _assert_not_matched(app, fc.identify("jean-baptiste-lefevre"), "no_match", 0)


def test_never_on_email(make_app: Any, voters: VoterFactory, browser: Any) -> None:
    """Even with the e-mail scope granted, an account whose identifier is the citizen's e-mail is not matched."""
    app = make_app(FC_SCOPES="openid given_name family_name birthdate gender birthplace birthcountry email")
    client = app.test_client()
    voters.create(
        "claire.jullien@courriel.example",
        family_name="DUPONT",
        first_names="Claire",
        birth_date=dt.date(1985, 7, 21),
        birthplace="21231",
    )
    answer = FederationActions(client, browser).identify("claire-jullien")
    _assert_not_matched(app, answer, "no_match", 0)
