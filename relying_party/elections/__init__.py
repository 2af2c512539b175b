"""Election data on the portal side: scrutins, rolls, candidate lists; their import, display and tally."""
