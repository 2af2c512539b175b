"""Alembic environment: the engine comes from the caller (``idp.migrate``), never from a file."""

from __future__ import annotations

from idp.models import Base
from infra.migrations import run_environment

run_environment(Base.metadata)
