"""Scopes and the claims they release (FranceConnect v2).

Each identity scope releases the claim of the same name; ``identite_pivot`` is the group of the six claims of
the identité pivot. ``openid`` releases only ``sub``. Claims a citizen does not have (no usage name) are left
out, except ``birthplace``, which FranceConnect sends empty for a citizen born abroad.
"""

from __future__ import annotations

from typing import Any

from fc_dev_provider.citizens import Citizen

PIVOT_CLAIMS = ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry")
IDENTITY_CLAIMS = (*PIVOT_CLAIMS, "email", "preferred_username")
PIVOT_SCOPE = "identite_pivot"
SCOPES_SUPPORTED = ("openid", *IDENTITY_CLAIMS, PIVOT_SCOPE)
#: Claims a userinfo response may hold (what ``missing_claim`` may drop).
USERINFO_CLAIMS = ("sub", *IDENTITY_CLAIMS)


def claims_of_scope(scope: str) -> list[str]:
    """The identity claims a granted scope releases, in a stable order."""
    requested = set(scope.split())
    if PIVOT_SCOPE in requested:
        requested.update(PIVOT_CLAIMS)
    return [claim for claim in IDENTITY_CLAIMS if claim in requested]


def userinfo_claims(citizen: Citizen, scope: str, sub: str) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": sub}
    for name in claims_of_scope(scope):
        value = getattr(citizen, name)
        if value or name == "birthplace":
            claims[name] = value
    return claims
