"""Who may read the journal: an account the IdP says is an auditor, and that the IdP's database still holds as one.

At sign-in the console asks the IdP for the ``audit`` scope, whose ``roles`` claim (userinfo) names the account's
role; only "auditor" is let in. On every request the account is looked up again in the IdP's database (read only,
by its subject): a removed auditor, an account turned into something else, or a reset (``idp auditors reset``, which
moves the account's session epoch on) ends the console session at once. Everything else gets the French 403 page.
The sign-in and these checks are every staff console's (:mod:`infra.staff_console`); this module names the role.
"""

from __future__ import annotations

from idp.models import Voter
from idp.models.voter import ROLE_AUDITOR
from infra.staff_console import StaffConsole, StaffMember

CONSOLE = StaffConsole(
    role=ROLE_AUDITOR,
    accounts=Voter.__table__,
    folder="audit_console",
    landing_endpoint="journal.events",
    home_endpoint="journal.home",
    home_link="Revenir à l'accueil du journal d'audit",
    signed_out_text="Vous êtes déconnecté du journal d'audit et du portail Élections.",
    assets_name="console_assets",
    assets_url_path="/static/console",
)

Auditor = StaffMember
current_auditor = CONSOLE.current
auditor_required = CONSOLE.required
