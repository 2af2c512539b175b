"""Random tokens for one-time links: 256 bits from :mod:`secrets`, URL-safe."""

from __future__ import annotations

import secrets


def new_link_token() -> str:
    return secrets.token_urlsafe(32)
