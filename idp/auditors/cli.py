"""``idp auditors``: auditor accounts, and the registration of the auditors' console as a client of the IdP (the
commands of every staff role: :mod:`idp.staff.cli`)."""

from __future__ import annotations

import click

from idp.staff.accounts import AUDITORS
from idp.staff.cli import StaffGroup, build_group

auditors = build_group(
    StaffGroup(
        accounts=AUDITORS,
        name="auditors",
        help="Auditor accounts (read the audit log through the auditors' console).",
        the_person="l'auditeur",
        env_prefix="AUDIT_CONSOLE_",
        client_name="Journal d'audit (console des auditeurs)",
        client_id="audit-console",
        example_url="https://audit.example.fr",
    )
)


def register(main: click.Group) -> None:
    main.add_command(auditors)
