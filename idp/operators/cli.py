"""``idp operators``: operator accounts, and the registration of the operators' console as a client of the IdP (the
commands of every staff role: :mod:`idp.staff.cli`)."""

from __future__ import annotations

import click

from idp.staff.accounts import OPERATORS
from idp.staff.cli import StaffGroup, build_group

operators = build_group(
    StaffGroup(
        accounts=OPERATORS,
        name="operators",
        help="Operator accounts (read the operators' console: turnout, sign-ins, delivery).",
        the_person="l'opérateur",
        env_prefix="OPERATOR_CONSOLE_",
        client_name="Console des opérateurs",
        client_id="operator-console",
        example_url="https://pilotage.example.fr",
    )
)


def register(main: click.Group) -> None:
    main.add_command(operators)
