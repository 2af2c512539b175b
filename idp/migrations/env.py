"""Alembic environment: the engine comes from the caller (``idp.migrate``), never from a file."""

from __future__ import annotations

from idp.schema import metadata
from infra.migrations import run_environment

run_environment(metadata)
