"""Vote codes: issuing them (print-shop notices, réassort) and the vote-code step that raises a session to
:data:`idp.auth.state.ACR_VOTE_CODE`."""

from __future__ import annotations

# idp.models imports idp.votecode.models; importing it first keeps that cycle in one order.
import idp.models  # noqa: F401
