"""What a match does at sign-in: the election password still, or a session of the federation's own level.

With ``IDP_FC_SIGN_IN_ENOUGH`` false (the default) the provider only replaces the identifier + CAPTCHA step: the
matched voter's identifier goes into the sign-in transaction and the voter is sent to the password page, where
every rule of that step applies (throttling, lockout, activation of an account without password).

With it true the voter is signed in at :data:`ACR_FRANCECONNECT`, a level of its own that is *not* one of the
IdP's ordered levels (:data:`idp.auth.state.ACR_LEVELS`): a client that asks for the password level gets
``unmet_authentication_requirements``, and one that asks for the vote-code level sends the voter to the
vote-code step, as after a password. A federated sign-in never reaches the vote-code level by itself.
"""

from __future__ import annotations

from flask import redirect, url_for
from werkzeug.wrappers import Response

from idp.auth import transaction
from idp.auth.state import sign_in
from idp.federation import journal, logout
from idp.federation.extension import get_federation
from idp.federation.protocol import IdToken
from idp.models import Voter

#: The ``acr`` of a session opened by the federation alone.
ACR_FRANCECONNECT = "urn:portail-elections:acr:franceconnect"
#: ``amr`` of such a session: federated authentication (the provider's own methods are its business).
AMR_FEDERATED = ("fed",)


def continue_sign_in(voter: Voter, id_token: IdToken, provider_origin: str) -> Response:
    settings = get_federation().settings
    if settings.sign_in_enough:
        nxt = transaction.next_path()  # read before sign_in, which starts a fresh session
        sign_in(
            voter_id=voter.id,
            subject=voter.subject,
            epoch=voter.session_epoch,
            acr=ACR_FRANCECONNECT,
            amr=AMR_FEDERATED,
        )
        logout.remember(id_token=id_token.raw, voter_id=voter.id, subject=voter.subject, origin=provider_origin)
        journal.log("federation.signed_in", subject=voter.subject, acr=ACR_FRANCECONNECT, amr=list(AMR_FEDERATED))
        return redirect(nxt or url_for("login.signed_in"))
    logout.remember(id_token=id_token.raw, voter_id=voter.id, subject=voter.subject, origin=provider_origin)
    # The identifier step, passed by the federation: the password page takes over from here.
    transaction.start(voter.identifier)
    return redirect(url_for("login.password"))
