"""``portal election import``: all or nothing, every problem reported, idempotent.

1. :mod:`.parsing` checks the whole file and collects every problem with its place.
2. If there is none, one transaction brings the database to what the file says, scrutin by scrutin (matched by
   ``code``): labels and dates updated, candidate lists and candidates matched by position, the roll made equal to
   the file's (voters added, renamed, removed). What the database already holds unchanged is left alone, so
   importing the same file twice reports everything as unchanged.
3. Some problems only show against the database: once a scrutin has ballots its lists are frozen, and a voter who
   has voted cannot leave the roll. They are collected too, and the transaction is rolled back if there is any.
Scrutins absent from the file are not touched. A successful import is audited (``election.imported``: the file's
name, the scrutin codes and the counts) in its own transaction; a refused one changes nothing and records nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from relying_party.audit import record
from relying_party.db import Database
from relying_party.elections.parsing import DocumentParser
from relying_party.elections.specs import ListSpec, ScrutinSpec
from relying_party.models import Ballot, Candidate, CandidateList, Emargement, RollEntry, Scrutin


@dataclass
class ImportReport:
    source: str
    errors: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        order = (
            "scrutins créés",
            "scrutins modifiés",
            "scrutins inchangés",
            "listes créées",
            "listes modifiées",
            "listes supprimées",
            "électeurs ajoutés",
            "électeurs modifiés",
            "électeurs retirés",
            "électeurs inchangés",
        )
        return ", ".join(f"{self.counts[name]} {name}" for name in order)


class _Rollback(Exception):
    """Raised inside the transaction to undo it once database-level problems are collected."""


def import_file(database: Database, path: Path, *, max_pdf_bytes: int) -> ImportReport:
    report = ImportReport(str(path))
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(f"{path} : fichier illisible ({type(exc).__name__})")
        return report
    except json.JSONDecodeError as exc:
        report.errors.append(f"{path} ligne {exc.lineno} colonne {exc.colno} : JSON invalide ({exc.msg})")
        return report
    return import_document(database, document, path.parent, max_pdf_bytes=max_pdf_bytes, source=str(path))


def import_document(
    database: Database, document: Any, base_dir: Path, *, max_pdf_bytes: int, source: str = "document"
) -> ImportReport:
    report = ImportReport(source)
    parser = DocumentParser(base_dir, max_pdf_bytes)
    specs = parser.parse(document)
    if parser.problems.items:
        report.errors = parser.problems.items
        return report
    try:
        with database.transaction() as session:
            for spec in specs:
                _apply_scrutin(session, spec, report)
            if report.errors:
                raise _Rollback
            record(
                session,
                "election.imported",
                source=Path(source).name,
                scrutins=[spec.code for spec in specs],
                counts=dict(sorted(report.counts.items())),
            )
    except _Rollback:
        report.counts.clear()
    return report


def _apply_scrutin(session: Session, spec: ScrutinSpec, report: ImportReport) -> None:
    scrutin = session.execute(select(Scrutin).where(Scrutin.code == spec.code)).scalar_one_or_none()
    if scrutin is None:
        scrutin = Scrutin(
            code=spec.code, label=spec.label, kind=spec.kind, opens_at=spec.opens_at, closes_at=spec.closes_at
        )
        session.add(scrutin)
        session.flush()
        report.counts["scrutins créés"] += 1
        has_ballots = False
    else:
        changed = (scrutin.label, scrutin.kind, scrutin.opens_at, scrutin.closes_at) != (
            spec.label,
            spec.kind,
            spec.opens_at,
            spec.closes_at,
        )
        if changed:
            scrutin.label, scrutin.kind = spec.label, spec.kind
            scrutin.opens_at, scrutin.closes_at = spec.opens_at, spec.closes_at
        report.counts["scrutins modifiés" if changed else "scrutins inchangés"] += 1
        has_ballots = bool(
            session.execute(
                select(func.count()).select_from(Ballot).where(Ballot.scrutin_id == scrutin.id)
            ).scalar_one()
        )
    _apply_lists(session, scrutin, spec, has_ballots, report)
    _apply_roll(session, scrutin, spec, report)


def _list_state(candidate_list: CandidateList) -> tuple[Any, ...]:
    return (
        candidate_list.organisation,
        candidate_list.title,
        candidate_list.profession_de_foi_sha256,
        tuple((c.civility, c.family_name, c.given_name) for c in candidate_list.candidates),
    )


def _spec_state(spec: ListSpec) -> tuple[Any, ...]:
    return (
        spec.organisation,
        spec.title,
        spec.pdf_sha256,
        tuple((c.civility, c.family_name, c.given_name) for c in spec.candidates),
    )


def _apply_lists(
    session: Session, scrutin: Scrutin, spec: ScrutinSpec, has_ballots: bool, report: ImportReport
) -> None:
    existing = {candidate_list.position: candidate_list for candidate_list in scrutin.lists}
    wanted = {list_spec.position: list_spec for list_spec in spec.lists}
    differs = set(existing) != set(wanted) or any(_list_state(existing[p]) != _spec_state(wanted[p]) for p in wanted)
    if not differs:
        return
    if has_ballots:
        report.errors.append(
            f"scrutin {spec.code} : des bulletins sont déjà dans l'urne, ses listes de candidats "
            "ne peuvent plus changer"
        )
        return
    for position, old in existing.items():
        if position not in wanted:
            scrutin.lists.remove(old)
            report.counts["listes supprimées"] += 1
    for position, list_spec in wanted.items():
        found = existing.get(position)
        if found is None:
            candidate_list = CandidateList(position=position, organisation=list_spec.organisation)
            scrutin.lists.append(candidate_list)
            report.counts["listes créées"] += 1
        elif _list_state(found) == _spec_state(list_spec):
            continue
        else:
            candidate_list = found
            report.counts["listes modifiées"] += 1
        candidate_list.organisation = list_spec.organisation
        candidate_list.title = list_spec.title
        candidate_list.profession_de_foi = list_spec.pdf
        candidate_list.profession_de_foi_sha256 = list_spec.pdf_sha256
        candidate_list.candidates.clear()
        session.flush()
        candidate_list.candidates.extend(
            Candidate(position=index, civility=c.civility, family_name=c.family_name, given_name=c.given_name)
            for index, c in enumerate(list_spec.candidates, start=1)
        )
    session.flush()


def _apply_roll(session: Session, scrutin: Scrutin, spec: ScrutinSpec, report: ImportReport) -> None:
    existing = dict(
        session.execute(
            select(RollEntry.voter_identifier, RollEntry.display_name).where(RollEntry.scrutin_id == scrutin.id)
        ).all()
    )
    removed = [identifier for identifier in existing if identifier not in spec.roll]
    if removed:
        voted = set(
            session.execute(
                select(Emargement.voter_identifier).where(
                    Emargement.scrutin_id == scrutin.id, Emargement.voter_identifier.in_(removed)
                )
            ).scalars()
        )
        for identifier in sorted(voted):
            report.errors.append(
                f"scrutin {spec.code} : {identifier} a déjà voté et ne peut pas être retiré de la liste électorale"
            )
        leaving = [identifier for identifier in removed if identifier not in voted]
        if leaving:
            session.execute(
                delete(RollEntry).where(RollEntry.scrutin_id == scrutin.id, RollEntry.voter_identifier.in_(leaving))
            )
        report.counts["électeurs retirés"] += len(leaving)
    new_rows = [
        {"scrutin_id": scrutin.id, "voter_identifier": identifier, "display_name": name}
        for identifier, name in spec.roll.items()
        if identifier not in existing
    ]
    if new_rows:
        session.execute(insert(RollEntry), new_rows)
        report.counts["électeurs ajoutés"] += len(new_rows)
    for identifier, name in spec.roll.items():
        if identifier in existing:
            if existing[identifier] != name:
                session.execute(
                    update(RollEntry)
                    .where(RollEntry.scrutin_id == scrutin.id, RollEntry.voter_identifier == identifier)
                    .values(display_name=name)
                )
                report.counts["électeurs modifiés"] += 1
            else:
                report.counts["électeurs inchangés"] += 1
