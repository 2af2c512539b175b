"""clients may have the claims of their scopes in the code grant's ID token

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 20:00:00

``oidc_client.id_token_claims``: when true, the ID token of the authorization code grant also carries the claims its
scopes release (the same as userinfo answers), so that the client (the voter portal) needs no userinfo call at
sign-in. Existing clients start without: their ID tokens are unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oidc_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_token_claims", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("oidc_client", schema=None) as batch_op:
        batch_op.drop_column("id_token_claims")
