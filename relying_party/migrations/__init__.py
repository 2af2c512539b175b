"""Alembic migrations of the portal's database (driven by :mod:`relying_party.migrate`)."""
