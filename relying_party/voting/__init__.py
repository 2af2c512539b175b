"""Casting a ballot (after the vote-code step), the mixing of the ballot box, and the tally."""
