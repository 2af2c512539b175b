"""Tests of the voter portal (relying_party)."""
