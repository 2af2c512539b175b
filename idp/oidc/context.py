"""Who the provider is acting for: the signed-in voter of the current browser session, when still valid."""

from __future__ import annotations

from dataclasses import dataclass

from idp.auth.state import ACR_LEVELS, Authentication, current_voter
from idp.models import Voter


@dataclass(frozen=True)
class SignedIn:
    """The end user Authlib's authorization endpoint is given (``grant_user``)."""

    voter: Voter
    auth: Authentication
    #: ``sid`` of this browser session at the client the code is for (set when the code is issued).
    sid: str | None = None

    @property
    def id(self) -> int:
        return self.voter.id


def current_sign_in() -> SignedIn | None:
    """The session's authentication, unless the voter is gone or all their sessions were ended (password change)."""
    found = current_voter()
    if found is None:
        return None
    auth, voter = found
    return SignedIn(voter=voter, auth=auth)


def acr_satisfies(current: str, requested: str) -> bool:
    """Whether a session at level ``current`` meets ``requested`` (the levels are ordered)."""
    if current not in ACR_LEVELS or requested not in ACR_LEVELS:
        return False
    return ACR_LEVELS.index(current) >= ACR_LEVELS.index(requested)
