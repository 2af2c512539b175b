"""access tokens of services (client_credentials): no voter, no subject, no authentication

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:10:00

A ministry service calling another obtains an access token for itself (the client_credentials grant): the token
row has no voter, no ``sub``, and no authentication event (``auth_time``, ``acr``). Every token obtained through a
voter's sign-in keeps all four (the grants that write them are unchanged).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NULLABLE: dict[str, sa.types.TypeEngine[Any]] = {
    "voter_id": sa.Integer(),
    "subject": sa.String(length=64),
    "auth_time": sa.Integer(),
    "acr": sa.String(length=100),
}


def upgrade() -> None:
    with op.batch_alter_table("oidc_token", schema=None) as batch_op:
        for name, type_ in _NULLABLE.items():
            batch_op.alter_column(name, existing_type=type_, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM oidc_token WHERE voter_id IS NULL")
    with op.batch_alter_table("oidc_token", schema=None) as batch_op:
        for name, type_ in _NULLABLE.items():
            batch_op.alter_column(name, existing_type=type_, nullable=False)
