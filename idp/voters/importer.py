"""The voters import: all or nothing, streaming, idempotent.

Two passes over the file, so that the rows are never all in memory:

1. **Validate** every row and collect every problem with its line number. Nothing is written if there is one:
   a half-imported list of electors is worse than none, and the operator fixes the file in one go.
2. **Write** in batches inside one transaction: each batch looks its identifiers up, inserts the new voters,
   updates those whose imported data changed and does not write the others at all (no ``updated_at`` churn,
   so re-importing a file is visibly a no-op, and unchanged rows are not even locked). Activation state,
   password, question défi and ``subject`` are never touched: they belong to the voter, not to the file.
   Voters absent from the file are kept.

On PostgreSQL the write pass sets ``plan_cache_mode = force_custom_plan`` for its transaction. psycopg prepares
a statement run five times, and the server may then reuse a generic plan of the batch lookup made while the
table was still small (a sequential scan comparing each row with the 1,000 identifiers one by one) and keep it
as the table grows, which makes a first import quadratic: measured on 100,000 voters, 19 to 111 s instead of
11 to 13 s with custom plans, which switch to the unique index when the table grows.

What pass 1 keeps for the whole file is a map from a 64-bit digest of each identifier to its line (duplicate
detection with the line of the first occurrence): about 140 bytes a voter, 190 MiB for 1.4 million. The
SHA-256 of the bytes parsed in pass 1 must equal that of pass 2, or the write is rolled back: the file changed
in between and what was validated is not what would be written.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import record
from idp.models import Base, Voter, utcnow
from idp.models.voter import new_subject
from idp.security.keyed import KeyedHasher
from idp.voters.records import RowParser, VoterRow
from idp.voters.source import CsvSource, HeaderError

DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_ERRORS = 1000

#: Columns the import owns, compared to decide whether a voter changed.
_IMPORTED = ("family_name", "first_names", "birth_date", "birthplace", "gender", "academie", "numen_hash", "nir_hash")

_VOTER_TABLE = Base.metadata.tables[Voter.__tablename__]
#: A new voter is not activated: no password, no question défi.
_NEW_VOTER: dict[str, Any] = {
    "gender": None,
    "password_hash": None,
    "challenge_question": None,
    "challenge_answer_hash": None,
    "activated_at": None,
    "session_epoch": 0,
}


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or why it did nothing (``errors`` not empty)."""

    path: Path
    sha256: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: The problems found, in line order; at most ``max_errors`` of them (see ``bad_lines`` for the count).
    errors: list[LineError] = field(default_factory=list)
    #: Number of lines with at least one problem, all of them counted even beyond ``max_errors``.
    bad_lines: int = 0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.bad_lines == 0


class FileChangedError(RuntimeError):
    """The file differs between the validation pass and the writing pass; the transaction was rolled back."""


def _identifier_key(identifier: str) -> int:
    # 64 bits: a false duplicate among 1.4 million voters has a probability of about 1e-7, and would only
    # refuse the file (never merge two voters).
    return int.from_bytes(hashlib.blake2b(identifier.encode(), digest_size=8).digest(), "big")


class _Errors:
    """Collects problems up to a limit while counting every bad line, so a wholly wrong file stays cheap."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.items: list[LineError] = []
        self.bad_lines = 0
        self.truncated = False

    def add_line(self, line: int, reasons: Iterable[str]) -> None:
        self.bad_lines += 1
        for reason in reasons:
            if self.limit is not None and len(self.items) >= self.limit:
                self.truncated = True
                return
            self.items.append(LineError(line, reason))


def _validate(path: Path, parser: RowParser, report: ImportReport, max_errors: int | None) -> None:
    """Pass 1: fill ``report`` with the row count, the file digest and every problem."""
    errors = _Errors(max_errors)
    first_line: dict[int, int] = {}
    with CsvSource(path) as source:
        try:
            source.read_header()
        except HeaderError as exc:
            errors.add_line(1, [str(exc)])
        else:
            for raw in source.rows():
                report.rows += 1
                if raw.problem is not None:
                    errors.add_line(raw.line, [raw.problem])
                    continue
                parsed = parser.parse(raw.values)
                problems = list(parsed.problems)
                if parsed.identifier is not None:
                    key = _identifier_key(parsed.identifier)
                    seen_at = first_line.setdefault(key, raw.line)
                    if seen_at != raw.line:
                        problems.insert(0, f"identifiant en double (déjà présent ligne {seen_at})")
                if problems:
                    errors.add_line(raw.line, problems)
        report.sha256 = source.sha256
    report.errors = errors.items
    report.bad_lines = errors.bad_lines
    report.truncated = errors.truncated


def _valid_rows(source: CsvSource, parser: RowParser) -> Iterator[VoterRow]:
    try:
        source.read_header()
    except HeaderError as exc:
        raise FileChangedError(f"ligne 1 : {exc} (le fichier a changé depuis la validation)") from None
    for raw in source.rows():
        if raw.problem is not None:
            raise FileChangedError(f"ligne {raw.line} : {raw.problem} (le fichier a changé depuis la validation)")
        parsed = parser.parse(raw.values)
        if parsed.row is None:
            raise FileChangedError(f"ligne {raw.line} : le fichier a changé depuis la validation")
        yield parsed.row


def _batches(rows: Iterator[VoterRow], size: int) -> Iterator[list[VoterRow]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _write_batch(
    session: Session, batch: list[VoterRow], keyed: KeyedHasher, with_gender: bool, report: ImportReport
) -> None:
    compared = [name for name in _IMPORTED if with_gender or name != "gender"]
    columns = [Voter.id, Voter.identifier, *(getattr(Voter, name) for name in compared)]
    existing = {
        row.identifier: row
        for row in session.execute(select(*columns).where(Voter.identifier.in_([r.identifier for r in batch])))
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    now = utcnow()
    for voter_row in batch:
        values = voter_row.values(keyed, with_gender=with_gender)
        current = existing.get(voter_row.identifier)
        if current is None:
            # Every column given, defaults included: the batch goes as multi-row VALUES without Python-side
            # defaults evaluated row by row.
            inserts.append({**_NEW_VOTER, **values, "subject": new_subject(), "created_at": now, "updated_at": now})
        elif any(getattr(current, name) != values[name] for name in compared):
            updates.append({"id": current.id, **{name: values[name] for name in compared}, "updated_at": now})
        else:
            report.unchanged += 1
    if inserts:
        session.execute(insert(_VOTER_TABLE), inserts)
        report.created += len(inserts)
    if updates:
        session.execute(update(Voter), updates)
        report.updated += len(updates)


def _write(
    session: Session, path: Path, parser: RowParser, keyed: KeyedHasher, report: ImportReport, batch_size: int
) -> None:
    """Pass 2, inside the caller's transaction."""
    with CsvSource(path) as source:
        rows = _valid_rows(source, parser)
        first = next(rows, None)  # reads the header, so the columns are known
        with_gender = "gender" in source.columns
        if first is not None:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))  # see module docstring
            for batch in _batches(itertools.chain([first], rows), batch_size):
                _write_batch(session, batch, keyed, with_gender, report)
        if source.sha256 != report.sha256:
            raise FileChangedError("le fichier a changé depuis la validation : rien n'a été importé")
    record(
        session,
        "voters.imported",
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        sha256=report.sha256,
    )


def import_voters(
    target: Engine | sessionmaker[Session],
    path: Path | str,
    keyed: KeyedHasher,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_errors: int | None = DEFAULT_MAX_ERRORS,
) -> ImportReport:
    """Import the voters CSV at ``path``; see the module docstring and docs/operators/voters-import.md.

    Returns the report; if ``report.ok`` is false nothing was written and ``report.errors`` says why
    (``max_errors=None`` keeps every problem). Raises :class:`FileChangedError` if the file changed between
    the two passes (nothing written either).
    """
    session_factory = sessionmaker(target) if isinstance(target, Engine) else target
    report = ImportReport(Path(path))
    parser = RowParser()  # one "today" for both passes
    _validate(report.path, parser, report, max_errors)
    if not report.ok:
        return report
    with session_factory() as session, session.begin():
        _write(session, report.path, parser, keyed, report, batch_size)
    return report
