"""Who may read the console: an account the IdP says is an operator, and that the IdP's database still holds as one.

At sign-in the console asks the IdP for the ``audit`` scope, whose ``roles`` claim (userinfo) names the account's
role; only "operator" is let in (an auditor, a voter: the French 403 page). On every request the account is looked
up again in the IdP's database (read only, by its subject): a removed operator, or a reset (``idp operators reset``
moves the account's session epoch on) ends the console session at once. The sign-in and these checks are every staff
console's (:mod:`infra.staff_console`); this module names the role.
"""

from __future__ import annotations

from idp.models import Voter
from idp.models.voter import ROLE_OPERATOR
from infra.staff_console import StaffConsole, StaffMember

CONSOLE = StaffConsole(
    role=ROLE_OPERATOR,
    accounts=Voter.__table__,
    folder="operator_console",
    landing_endpoint="operations.turnout",
    home_endpoint="operations.home",
    home_link="Revenir à l'accueil de la console",
    signed_out_text="Vous êtes déconnecté de la console des opérateurs et du portail Élections.",
    assets_name="operator_assets",
    assets_url_path="/static/operations",
)

Operator = StaffMember
current_operator = CONSOLE.current
operator_required = CONSOLE.required
