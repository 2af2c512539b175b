"""``portal election tally SCRUTIN``: the count per list and blank, only once the scrutin is closed.

The ballot box is mixed first (:mod:`relying_party.voting.mixing`), then counted. The number of ballots is compared
with the number of émargements: they are written in one transaction, so a difference means the database was
tampered with, and the tally says so. The count and its ``tally.run`` audit event (ballots, émargements, votes per
list and blank: the result itself) are read and written in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from relying_party.audit import record
from relying_party.db import Database
from relying_party.elections.timefmt import format_instant
from relying_party.models import Ballot, CandidateList, Emargement, Scrutin
from relying_party.voting.mixing import mix


class TallyRefused(Exception):
    pass


@dataclass(frozen=True)
class TallyLine:
    position: int
    name: str
    votes: int


@dataclass(frozen=True)
class Tally:
    code: str
    label: str
    closes_at: dt.datetime
    lines: list[TallyLine]
    blank: int
    ballots: int
    emargements: int

    @property
    def consistent(self) -> bool:
        return self.ballots == self.emargements

    def render(self) -> str:
        width = max([len(line.name) for line in self.lines] + [len("Votes blancs")])
        out = [
            f"Scrutin {self.code} — {self.label}",
            f"Clos le {format_instant(self.closes_at)} (Heure de Paris)",
            f"Émargements : {self.emargements}",
            f"Bulletins dans l'urne : {self.ballots}",
            "",
        ]
        for line in self.lines:
            out.append(f"  {line.position:>2}. {line.name:<{width}}  {line.votes:>8}")
        out.append(f"      {'Votes blancs':<{width}}  {self.blank:>8}")
        if not self.consistent:
            out += ["", "ATTENTION : le nombre de bulletins diffère du nombre d'émargements."]
        return "\n".join(out)


def tally(database: Database, code: str, now: dt.datetime) -> Tally:
    with database.reader() as session:
        scrutin = session.execute(select(Scrutin).where(Scrutin.code == code)).scalar_one_or_none()
        if scrutin is None:
            raise TallyRefused(f"Scrutin inconnu : {code}")
        if now < scrutin.closes_at:
            raise TallyRefused(
                f"Le scrutin {code} n'est pas clos : le dépouillement est possible après le "
                f"{format_instant(scrutin.closes_at)} (Heure de Paris)."
            )
        scrutin_id, label, closes_at = scrutin.id, scrutin.label, scrutin.closes_at
        session.rollback()
    mix(database, scrutin_id=scrutin_id)
    with database.transaction() as session:
        counts = dict(
            session.execute(
                select(Ballot.candidate_list_id, func.count())
                .where(Ballot.scrutin_id == scrutin_id)
                .group_by(Ballot.candidate_list_id)
            ).all()
        )
        lists = session.execute(
            select(CandidateList.id, CandidateList.position, CandidateList.organisation, CandidateList.title)
            .where(CandidateList.scrutin_id == scrutin_id)
            .order_by(CandidateList.position)
        ).all()
        emargements = session.execute(
            select(func.count()).select_from(Emargement).where(Emargement.scrutin_id == scrutin_id)
        ).scalar_one()
        lines = [
            TallyLine(position, title or organisation, counts.get(list_id, 0))
            for list_id, position, organisation, title in lists
        ]
        result = Tally(
            code=code,
            label=label,
            closes_at=closes_at,
            lines=lines,
            blank=counts.get(None, 0),
            ballots=sum(counts.values()),
            emargements=int(emargements),
        )
        record(
            session,
            "tally.run",
            scrutin=code,
            ballots=result.ballots,
            emargements=result.emargements,
            blank=result.blank,
            votes={str(line.position): line.votes for line in lines},
            consistent=result.consistent,
        )
    return result
