"""The election password policy: length, no truncation, not common, not the identifier."""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources

MIN_LENGTH = 12
MAX_LENGTH = 128


@functools.cache
def _common_passwords() -> frozenset[str]:
    """Common passwords: zxcvbn's frequency list (30,000 passwords) plus a shipped French list."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = {w.casefold() for w in FREQUENCY_LISTS["passwords"]}
    french = resources.files("idp.security").joinpath("common_passwords_fr.txt").read_text(encoding="utf-8")
    words.update(line.strip().casefold() for line in french.splitlines() if line.strip())
    return frozenset(words)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def password_problems(password: str, identifier: str) -> list[str]:
    """French messages for each rule the password breaks (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Le mot de passe doit contenir au moins {MIN_LENGTH} caractères.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Le mot de passe ne doit pas dépasser {MAX_LENGTH} caractères.")
    folded = _fold(password)
    if folded in _common_passwords() or folded.strip() in _common_passwords():
        problems.append("Ce mot de passe est trop courant : choisissez-en un autre.")
    local_part = _fold(identifier.split("@", 1)[0])
    parts = [local_part, *local_part.replace("-", ".").split(".")]
    if any(len(part) >= 3 and part in folded for part in parts) or _fold(identifier) in folded:
        problems.append("Le mot de passe ne doit pas contenir votre identifiant ni votre nom.")
    if len(set(password)) < 4:
        problems.append("Le mot de passe doit comporter des caractères variés.")
    return problems
