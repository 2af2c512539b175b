"""``idp codes issue``: a new vote code for every voter (or one académie's), and the notices for the print shop.

One pass over the voters, académie by académie, in batches by primary key (keyset pagination: each batch is one
indexed query, memory does not grow with the number of voters). For each batch: draw the codes, upsert their
keyed hashes in one statement, append the CSV rows and draw the PDF pages. Everything happens in **one
transaction**: the files are published (renamed from ``.part``) only after the commit, and removed if anything
fails, so the notices of a run are exactly the codes in the database. On SQLite that transaction holds the write
lock for the whole run: run it before the opening, not during the vote.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import record
from idp.models import Voter, utcnow
from idp.models.voter import ROLE_VOTER
from idp.security.keyed import KeyedHasher
from idp.votecode import codes
from idp.votecode.notice_pdf import NoticeVolume
from idp.votecode.output import SecretOutput
from idp.votecode.service import code_digest, upsert_statement

DEFAULT_BATCH_SIZE = 1000
DEFAULT_PAGES_PER_PDF = 2000
CSV_NAME = "notices.csv"
CSV_HEADER = ("identifier", "family_name", "first_names", "academie", "vote_code", "pdf_file", "pdf_page")


class NoVotersError(RuntimeError):
    pass


@dataclass
class IssueReport:
    voters: int = 0
    #: Voters per académie, in the order written.
    academies: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    #: Seconds spent drawing codes, hashing and writing them to the database; writing the CSV; drawing PDFs.
    seconds_codes: float = 0.0
    seconds_csv: float = 0.0
    seconds_pdf: float = 0.0


def file_slug(academie: str) -> str:
    """A file-name part for an académie: ``Aix-Marseille`` → ``aix-marseille``, ``La Réunion`` → ``la-reunion``."""
    ascii_text = unicodedata.normalize("NFKD", academie).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "academie"


@dataclass(frozen=True, slots=True)
class _VoterRow:
    id: int
    identifier: str
    family_name: str
    first_names: str


def _voter_batches(session: Session, academie: str, size: int) -> Iterator[list[_VoterRow]]:
    last_id = 0
    while True:
        rows = session.execute(
            select(Voter.id, Voter.identifier, Voter.family_name, Voter.first_names)
            .where(Voter.role == ROLE_VOTER, Voter.academie == academie, Voter.id > last_id)
            .order_by(Voter.id)
            .limit(size)
        ).all()
        if not rows:
            return
        yield [_VoterRow(r.id, r.identifier, r.family_name, r.first_names) for r in rows]
        last_id = rows[-1].id


class _PdfVolumes:
    """An académie's notices split into numbered volumes (``notices-dijon-001.pdf``…)."""

    def __init__(
        self, output: SecretOutput, slug: str, pages_per_file: int, portal_url: str, issued_on: dt.date
    ) -> None:
        self.output, self.slug, self.pages_per_file = output, slug, pages_per_file
        self.portal_url, self.issued_on = portal_url, issued_on
        self.number = 0
        self.name = ""
        self._stream: BinaryIO | None = None
        self._volume: NoticeVolume | None = None

    def add(self, **fields: str) -> tuple[str, int]:
        if self._volume is None or self._volume.pages >= self.pages_per_file:
            self.close()
            self.number += 1
            self.name = f"notices-{self.slug}-{self.number:03d}.pdf"
            self._stream = self.output.create(self.name)
            self._volume = NoticeVolume(self._stream, self.portal_url, self.issued_on)
        return self.name, self._volume.add(**fields)

    def close(self) -> None:
        if self._volume is not None and self._stream is not None:
            self._volume.close()
            self._stream.close()
        self._volume = self._stream = None


def _academies(session: Session, only: str | None) -> list[str]:
    # Voters only: an auditor account has no académie and must never be given a vote code.
    query = select(Voter.academie).where(Voter.role == ROLE_VOTER).group_by(Voter.academie).order_by(Voter.academie)
    if only is not None:
        query = query.where(Voter.academie == only)
    return [name for name in session.execute(query).scalars() if name is not None]


def issue_notices(
    factory: sessionmaker[Session],
    hasher: KeyedHasher,
    directory: Path,
    *,
    portal_url: str,
    academie: str | None = None,
    pdf: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pages_per_pdf: int = DEFAULT_PAGES_PER_PDF,
) -> IssueReport:
    """Issue the codes and write the notices into ``directory`` (new or empty); see the module docstring."""
    output = SecretOutput(directory)
    report = IssueReport()
    slugs: set[str] = set()
    try:
        with factory() as session, session.begin():
            academies = _academies(session, academie)
            if not academies:
                raise NoVotersError(
                    f"aucun électeur pour l'académie {academie!r}"
                    if academie
                    else "aucun électeur à qui émettre un code"
                )
            with output.create(CSV_NAME) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                writer = csv.writer(text)
                writer.writerow(CSV_HEADER)
                for name in academies:
                    slug = file_slug(name)
                    while slug in slugs:  # two académies whose names differ only by accents or punctuation
                        slug += "-bis"
                    slugs.add(slug)
                    volumes = _PdfVolumes(output, slug, pages_per_pdf, portal_url, utcnow().date()) if pdf else None
                    count = 0
                    for batch in _voter_batches(session, name, batch_size):
                        _write_batch(session, hasher, batch, name, writer, volumes, report)
                        count += len(batch)
                    if volumes is not None:
                        started = time.perf_counter()
                        volumes.close()
                        report.seconds_pdf += time.perf_counter() - started
                    report.academies[name] = count
                    report.voters += count
            record(
                session,
                "votecode.batch_issued",
                voters=report.voters,
                academies=len(report.academies),
                academie_filter=academie,
                pdf=pdf,
                files=len(output.names),
            )
    except BaseException:
        output.discard()
        raise
    report.files = output.publish()
    return report


def _write_batch(
    session: Session,
    hasher: KeyedHasher,
    batch: list[_VoterRow],
    academie: str,
    writer: Any,
    volumes: _PdfVolumes | None,
    report: IssueReport,
) -> None:
    started = time.perf_counter()
    now = utcnow()
    issued = [(voter, codes.new_code()) for voter in batch]
    session.execute(
        upsert_statement(session),
        [
            {
                "voter_id": voter.id,
                "code_hash": code_digest(hasher, voter.id, code),
                "issued_at": now,
                "issued_by": "notice",
            }
            for voter, code in issued
        ],
    )
    report.seconds_codes += time.perf_counter() - started
    for voter, code in issued:
        printed = codes.grouped(code)
        where: tuple[str, int | str] = ("", "")
        if volumes is not None:
            started = time.perf_counter()
            where = volumes.add(
                name=f"{voter.first_names} {voter.family_name}",
                academie=academie,
                identifier=voter.identifier,
                code=printed,
            )
            report.seconds_pdf += time.perf_counter() - started
        started = time.perf_counter()
        writer.writerow((voter.identifier, voter.family_name, voter.first_names, academie, printed, *where))
        report.seconds_csv += time.perf_counter() - started
