"""Scopes filter the claims; identite_pivot expands; pairwise subjects per sector."""

from __future__ import annotations

import pytest

from tests.fc_dev_provider.helpers import CLIENT_A, CLIENT_A2, CLIENT_B, FcActions

PROTOCOL_CLAIMS = {"iss", "aud", "iat"}


def _userinfo(fc: FcActions, citizen: str, scope: str) -> dict[str, object]:
    tokens = fc.tokens(citizen, scope=scope)
    assert tokens.token_response["scope"] == scope
    claims = fc.userinfo_claims(tokens.access_token)
    return {k: v for k, v in claims.items() if k not in PROTOCOL_CLAIMS}


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", {"sub"}),
        ("openid given_name", {"sub", "given_name"}),
        ("openid family_name birthdate email", {"sub", "family_name", "birthdate", "email"}),
        (
            "openid identite_pivot",
            {"sub", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry"},
        ),
        (
            "openid identite_pivot email given_name",
            {"sub", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email"},
        ),
    ],
)
def test_userinfo_releases_only_the_claims_of_the_granted_scopes(fc: FcActions, scope: str, expected: set[str]) -> None:
    assert set(_userinfo(fc, "jean-baptiste-lefevre", scope)) == expected


def test_citizen_with_several_first_names_and_a_usage_name(fc: FcActions) -> None:
    claims = _userinfo(fc, "jean-baptiste-lefevre", "openid identite_pivot preferred_username")
    assert claims["given_name"] == "Jean-Baptiste Louis Marie"
    assert claims["family_name"] == "LEFÈVRE-DUPUIS"
    assert claims["preferred_username"] == "DUPUIS"


def test_usage_name_left_out_when_the_citizen_has_none(fc: FcActions) -> None:
    claims = _userinfo(fc, "claire-jullien", "openid preferred_username given_name")
    assert "preferred_username" not in claims
    assert claims["given_name"] == "Claire"


def test_citizen_born_abroad_has_an_empty_birthplace(fc: FcActions) -> None:
    claims = _userinfo(fc, "ines-garcia-martin", "openid identite_pivot")
    assert claims["birthplace"] == ""
    assert claims["birthcountry"] == "99134"


def test_presumed_birth_date_is_sent_as_written(fc: FcActions) -> None:
    assert _userinfo(fc, "awa-diop", "openid birthdate")["birthdate"] == "1980-01-01"


def test_sub_is_stable_for_one_sector_and_differs_across_sectors(fc: FcActions) -> None:
    first = fc.tokens("claire-jullien", rp=CLIENT_A).id_token["sub"]
    again = fc.tokens("claire-jullien", rp=CLIENT_A).id_token["sub"]
    same_sector = fc.tokens("claire-jullien", rp=CLIENT_A2).id_token["sub"]
    other_sector = fc.tokens("claire-jullien", rp=CLIENT_B).id_token["sub"]
    someone_else = fc.tokens("marc-antoine-durand", rp=CLIENT_A).id_token["sub"]
    assert first == again == same_sector
    assert other_sector != first
    assert someone_else != first


def test_userinfo_sub_is_the_id_token_sub(fc: FcActions) -> None:
    tokens = fc.tokens("paul-orsini", rp=CLIENT_B)
    assert fc.userinfo_claims(tokens.access_token)["sub"] == tokens.id_token["sub"]
