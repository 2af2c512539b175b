"""Normalisation of free text that voters must type again later (secret answers)."""

from __future__ import annotations

import unicodedata


def normalise_answer(answer: str) -> str:
    """Fold case, accents and spacing so that "  Olympique  de Marseille" matches "olympique de marseille".

    NFKD splits accented letters into base letter + combining mark; the marks are dropped. Apostrophes and
    hyphens become spaces, then runs of white space collapse to one.
    """
    decomposed = unicodedata.normalize("NFKD", answer)
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = without_marks.casefold()
    for sep in ("'", "’", "-", "‐", "–"):
        folded = folded.replace(sep, " ")
    return " ".join(folded.split())
