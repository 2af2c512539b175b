"""Pass 1 of the election import: check every entry of the file and say what is wrong with each, in French.

Nothing touches the database here. Problems are collected, not raised, so that the operator gets every one of them
in a single run ("scrutins[0] (CSA-MEN-2022).listes[1].organisation : obligatoire").
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

from relying_party.elections.specs import CandidateSpec, ListSpec, ScrutinSpec
from relying_party.models import SCRUTIN_KINDS

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: An academic address as the IdP's ``email`` claim gives it (the IdP checks the exact form at its own import).
IDENTIFIER_RE = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$")
CIVILITIES = ("Mme", "M.")
ROLL_COLUMNS = ("identifier", "display_name")


class Problems:
    """Collects problems with where they are."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where} : {what}")


def _text(value: Any, where: str, problems: Problems, *, max_length: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(where, "obligatoire")
        return None
    if not isinstance(value, str):
        problems.add(where, "doit être un texte")
        return None
    text = " ".join(value.split())
    if len(text) > max_length:
        problems.add(where, f"trop long ({len(text)} caractères, {max_length} au plus)")
        return None
    return text


def _instant(value: Any, where: str, problems: Problems) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        problems.add(where, "obligatoire (date et heure ISO 8601 avec fuseau, par exemple 2022-12-01T08:00:00+01:00)")
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        problems.add(where, f"date et heure illisibles ({value!r}) : attendu par exemple 2022-12-01T08:00:00+01:00")
        return None
    if parsed.tzinfo is None:
        problems.add(where, f"fuseau horaire manquant ({value!r}) : ajoutez +01:00, +02:00 ou Z")
        return None
    return parsed.astimezone(dt.UTC)


def _positive_int(value: Any, where: str, problems: Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.add(where, "doit être un entier positif")
        return None
    return value


def normalise_identifier(value: str) -> str:
    return value.strip().lower()


class DocumentParser:
    def __init__(self, base_dir: Path, max_pdf_bytes: int) -> None:
        self.base_dir = base_dir.resolve()
        self.max_pdf_bytes = max_pdf_bytes
        self.problems = Problems()

    def parse(self, document: Any) -> list[ScrutinSpec]:
        if not isinstance(document, dict) or not isinstance(document.get("scrutins"), list):
            self.problems.add("document", "un objet JSON avec une liste « scrutins » est attendu")
            return []
        if document.get("version", 1) != 1:
            self.problems.add("version", "seule la version 1 du format est connue")
        specs: list[ScrutinSpec] = []
        seen: dict[str, str] = {}
        for index, entry in enumerate(document["scrutins"]):
            spec = self._scrutin(entry, f"scrutins[{index}]")
            if spec is None:
                continue
            if spec.code.lower() in seen:
                first = seen[spec.code.lower()]
                self.problems.add(f"scrutins[{index}].code", f"« {spec.code} » figure déjà dans {first}")
                continue
            seen[spec.code.lower()] = f"scrutins[{index}]"
            specs.append(spec)
        return specs

    def _scrutin(self, entry: Any, where: str) -> ScrutinSpec | None:
        problems = self.problems
        if not isinstance(entry, dict):
            problems.add(where, "un objet est attendu")
            return None
        before = len(problems.items)
        code = entry.get("code")
        if not isinstance(code, str) or not CODE_RE.match(code):
            problems.add(f"{where}.code", "obligatoire : 1 à 64 lettres, chiffres, points, tirets ou soulignés")
            code = None
        else:
            where = f"{where} ({code})"
        label = _text(entry.get("label"), f"{where}.label", problems, max_length=300)
        kind = entry.get("kind")
        if kind not in SCRUTIN_KINDS:
            problems.add(f"{where}.kind", f"inconnu ({kind!r}) : un de {', '.join(SCRUTIN_KINDS)}")
        opens_at = _instant(entry.get("opens_at"), f"{where}.opens_at", problems)
        closes_at = _instant(entry.get("closes_at"), f"{where}.closes_at", problems)
        if opens_at and closes_at and closes_at <= opens_at:
            problems.add(f"{where}.closes_at", "doit être postérieure à l'ouverture")
        lists = self._lists(entry.get("lists"), f"{where}.lists")
        roll = self._roll(entry, where)
        if len(problems.items) > before or code is None or label is None or opens_at is None or closes_at is None:
            return None
        return ScrutinSpec(
            code=code, label=label, kind=str(kind), opens_at=opens_at, closes_at=closes_at, lists=lists, roll=roll
        )

    def _lists(self, value: Any, where: str) -> list[ListSpec]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.add(where, "une liste est attendue")
            return []
        specs: list[ListSpec] = []
        positions: set[int] = set()
        for index, entry in enumerate(value):
            spec = self._list(entry, f"{where}[{index}]")
            position = entry.get("position") if isinstance(entry, dict) else None
            if isinstance(position, int) and position in positions:
                self.problems.add(f"{where}[{index}].position", f"{position} est déjà utilisée par une autre liste")
                continue
            if isinstance(position, int):
                positions.add(position)
            if spec is not None:
                specs.append(spec)
        return sorted(specs, key=lambda s: s.position)

    def _list(self, entry: Any, where: str) -> ListSpec | None:
        problems = self.problems
        if not isinstance(entry, dict):
            problems.add(where, "un objet est attendu")
            return None
        before = len(problems.items)
        position = _positive_int(entry.get("position"), f"{where}.position", problems)
        organisation = _text(entry.get("organisation"), f"{where}.organisation", problems, max_length=300)
        title = _text(entry.get("title"), f"{where}.title", problems, max_length=300, required=False)
        pdf = self._pdf(entry.get("profession_de_foi"), f"{where}.profession_de_foi")
        candidates: list[CandidateSpec] = []
        raw_candidates = entry.get("candidates")
        if not isinstance(raw_candidates, list) or not raw_candidates:
            problems.add(f"{where}.candidates", "au moins un candidat est attendu")
        else:
            for index, candidate in enumerate(raw_candidates):
                spec = self._candidate(candidate, f"{where}.candidates[{index}]")
                if spec is not None:
                    candidates.append(spec)
        if len(problems.items) > before or position is None or organisation is None:
            return None
        return ListSpec(
            position=position,
            organisation=organisation,
            title=title,
            pdf=pdf,
            pdf_sha256=hashlib.sha256(pdf).hexdigest() if pdf else None,
            candidates=tuple(candidates),
        )

    def _candidate(self, entry: Any, where: str) -> CandidateSpec | None:
        problems = self.problems
        if not isinstance(entry, dict):
            problems.add(where, "un objet est attendu")
            return None
        civility = entry.get("civility")
        if civility not in CIVILITIES:
            problems.add(f"{where}.civility", "« Mme » ou « M. » attendu")
        family = _text(entry.get("family_name"), f"{where}.family_name", problems, max_length=200)
        given = _text(entry.get("given_name"), f"{where}.given_name", problems, max_length=200)
        if civility not in CIVILITIES or family is None or given is None:
            return None
        return CandidateSpec(str(civility), family, given)

    def _pdf(self, value: Any, where: str) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.problems.add(where, "chemin de fichier PDF attendu")
            return None
        path = (self.base_dir / value).resolve()
        if not path.is_relative_to(self.base_dir):
            self.problems.add(where, f"« {value} » sort du dossier du fichier d'import")
            return None
        try:
            size = path.stat().st_size
            if size > self.max_pdf_bytes:
                self.problems.add(where, f"« {value} » dépasse {self.max_pdf_bytes} octets")
                return None
            content = path.read_bytes()
        except OSError:
            self.problems.add(where, f"fichier « {value} » introuvable ou illisible")
            return None
        if not content.startswith(b"%PDF-"):
            self.problems.add(where, f"« {value} » n'est pas un fichier PDF")
            return None
        return content

    def _roll(self, entry: dict[str, Any], where: str) -> dict[str, str]:
        roll: dict[str, str] = {}
        origin: dict[str, str] = {}
        inline = entry.get("roll")
        if inline is not None:
            if not isinstance(inline, list):
                self.problems.add(f"{where}.roll", "une liste est attendue")
            else:
                for index, voter in enumerate(inline):
                    here = f"{where}.roll[{index}]"
                    if not isinstance(voter, dict):
                        self.problems.add(here, "un objet {identifier, display_name} est attendu")
                        continue
                    self._roll_line(roll, origin, voter.get("identifier"), voter.get("display_name"), here)
        roll_file = entry.get("roll_file")
        if roll_file is not None:
            self._roll_csv(roll, origin, roll_file, f"{where}.roll_file")
        return roll

    def _roll_line(
        self, roll: dict[str, str], origin: dict[str, str], identifier: Any, display_name: Any, where: str
    ) -> None:
        if not isinstance(identifier, str) or not IDENTIFIER_RE.match(normalise_identifier(identifier)):
            self.problems.add(f"{where}.identifier", f"adresse électronique invalide ({identifier!r})")
            identifier = None
        name = _text(display_name, f"{where}.display_name", self.problems, max_length=300)
        if identifier is None or name is None:
            return
        key = normalise_identifier(identifier)
        if key in roll:
            self.problems.add(where, f"« {key} » figure déjà sur la liste électorale ({origin[key]})")
            return
        roll[key] = name
        origin[key] = where

    def _roll_csv(self, roll: dict[str, str], origin: dict[str, str], value: Any, where: str) -> None:
        if not isinstance(value, str) or not value:
            self.problems.add(where, "chemin de fichier CSV attendu")
            return
        path = (self.base_dir / value).resolve()
        if not path.is_relative_to(self.base_dir):
            self.problems.add(where, f"« {value} » sort du dossier du fichier d'import")
            return
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle, delimiter=";")
                header = next(reader, None)
                if header is None or tuple(h.strip() for h in header) != ROLL_COLUMNS:
                    self.problems.add(f"{value} ligne 1", "en-tête attendu : identifier;display_name")
                    return
                for row in reader:
                    here = f"{value} ligne {reader.line_num}"
                    if not row or all(not cell.strip() for cell in row):
                        continue
                    if len(row) != 2:
                        self.problems.add(here, f"2 colonnes attendues, {len(row)} trouvées")
                        continue
                    self._roll_line(roll, origin, row[0], row[1], here)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            self.problems.add(where, f"fichier « {value} » illisible ({type(exc).__name__})")
