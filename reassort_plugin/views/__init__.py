"""The réassort screens: the vote-code réassort (``code``, and ``franceconnect`` for its FranceConnect route) and
the password réassort (``password``)."""

from __future__ import annotations

from reassort_plugin.views import code, franceconnect, password
from reassort_plugin.views.blueprint import bp

__all__ = ["bp", "code", "franceconnect", "password"]
