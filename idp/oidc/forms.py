"""Forms of the provider's own screens: no field but the CSRF token (the decision is the button pressed)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ConsentForm(FlaskForm):
    """Consent screen: "Autoriser" or "Refuser"."""


class LogoutForm(FlaskForm):
    """Logout confirmation."""
