"""The questions défi a voter chooses from at activation (their answer is hashed, never stored in clear)."""

from __future__ import annotations

QUESTIONS: dict[str, str] = {
    "football_team": "Quelle est votre équipe de football préférée ?",
    "first_pet": "Quel était le nom de votre premier animal de compagnie ?",
    "childhood_street": "Dans quelle rue avez-vous grandi ?",
    "first_school": "Quel était le nom de votre première école ?",
    "favourite_book": "Quel est le titre de votre livre préféré ?",
    "grandmother_name": "Quel est le prénom de votre grand-mère maternelle ?",
    "dream_city": "Dans quelle ville rêvez-vous de vivre ?",
    "first_concert": "Quel est le premier artiste que vous avez vu en concert ?",
}


def label(key: str | None) -> str | None:
    return QUESTIONS.get(key) if key else None
