"""The claims about a voter that a client may read, by scope (userinfo; the ID token of a client registered for it)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from idp.oidc.provider import RESTRICTED_SCOPE_CLAIMS, SCOPE_CLAIMS

_GENDERS = {"F": "female", "M": "male"}


class VoterFacts(Protocol):
    """What the claims are made of: a :class:`idp.models.Voter`, or the same columns read alone
    (:mod:`idp.oidc.lean`)."""

    @property
    def first_names(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def identifier(self) -> str: ...
    @property
    def is_activated(self) -> bool: ...
    @property
    def role(self) -> str: ...
    @property
    def birth_date(self) -> dt.date | None: ...
    @property
    def academie(self) -> str | None: ...
    @property
    def gender(self) -> str | None: ...


def voter_claims(voter: VoterFacts, sub: str) -> dict[str, Any]:
    """Every claim the IdP can state about ``voter`` (filtered by scope in :func:`claims_for_scope`)."""
    claims: dict[str, Any] = {
        "sub": sub,
        "given_name": voter.first_names,
        "family_name": voter.family_name,
        "name": f"{voter.first_names} {voter.family_name}",
        # The academic address comes from the ministry's directory and activation proved the mailbox works.
        "email": voter.identifier,
        "email_verified": voter.is_activated,
        "roles": [voter.role],
    }
    # An auditor account has no birth date and no académie (idp.models.voter): those claims are left out.
    if voter.birth_date is not None:
        claims["birthdate"] = voter.birth_date.isoformat()
    if voter.academie is not None:
        claims["academie"] = voter.academie
    if voter.gender in _GENDERS:
        claims["gender"] = _GENDERS[voter.gender]
    return claims


def claims_for_scope(voter: VoterFacts, sub: str, scope: str) -> dict[str, Any]:
    every = voter_claims(voter, sub)
    released: dict[str, Any] = {"sub": sub}
    for item in scope.split():
        for name in SCOPE_CLAIMS.get(item) or RESTRICTED_SCOPE_CLAIMS.get(item, ()):
            if name in every:
                released[name] = every[name]
    return released


def id_token_claims(voter: VoterFacts, sub: str, scope: str) -> dict[str, Any]:
    """The claims a client registered with ``id_token_claims`` finds in its code grant's ID token: what userinfo
    answers for the same scope, but ``sub`` (the ID token states it already)."""
    released = claims_for_scope(voter, sub, scope)
    del released["sub"]
    return released
