"""Federation: the IdP as a relying party of a FranceConnect-style provider (docs/operators/franceconnect.md).

The voter authenticates at the provider; the identité pivot it returns designates exactly one voter (see
:mod:`idp.federation.matching`) or the route is refused. The IdP's identifier page uses it as an alternate sign-in
(:mod:`idp.federation.signin`); other parts of the IdP — the réassort plugin, through :mod:`idp.plugin_api` — use
it through the two functions below.

Public API (everything else in this package is internal)::

    from idp import federation

    # In a view: send the browser to the provider. The answer is a redirect, or a French error page when the
    # federation is disabled or the provider cannot be reached (already audited).
    return federation.start(url_for("reassort.after_franceconnect"), "reassort",
                            back_url=url_for("reassort.choice"))

    # In the view at next_url: the voter the provider designated, once (None if nothing, or already taken).
    match = federation.take_match("reassort")
    if match is None:
        ...  # the voter came here without a fresh match: show the choice again
    match.voter_id, match.subject

* ``purpose`` names the caller (1 to 32 of ``a-z 0-9 _``; ``"login"`` is the IdP's sign-in): a match is only
  handed to the purpose that started the route, in the browser that started it, once, within
  :data:`~idp.federation.transactions.MATCH_TTL` seconds.
* ``next_url`` and ``back_url`` are paths of this site (``ValueError`` otherwise). After a match the browser goes
  to ``next_url``; after any failure it sees the federation's page (with its stable ``FC-xx`` code), whose button
  leads to ``back_url`` (default ``next_url``, where ``take_match`` then returns None).
* The match says *who*, not *what is allowed*: the caller applies its own rules (for instance, a signed-in voter
  asking for a vote-code réassort must be the matched voter).
* Every step is audited by the federation (``federation.*`` events); callers audit what they do with a match.
"""

from __future__ import annotations

from idp.federation.extension import is_enabled
from idp.federation.flow import LOGIN
from idp.federation.flow import start as start
from idp.federation.signin import ACR_FRANCECONNECT
from idp.federation.transactions import MatchedVoter
from idp.federation.transactions import take_match as _take_match

__all__ = ["ACR_FRANCECONNECT", "LOGIN", "MatchedVoter", "is_enabled", "start", "take_match"]


def take_match(purpose: str) -> MatchedVoter | None:
    """The voter the provider designated for ``purpose`` in this browser, once; None otherwise."""
    return _take_match(purpose)
