"""Reading a voters CSV file as a stream of rows, one at a time, with their line numbers.

The file is read as bytes through a SHA-256 so that the digest is the one of exactly the bytes that were parsed
(recorded in the audit log, and compared between the validation pass and the writing pass). Bytes that are not
UTF-8 are kept as surrogate escapes, so that one badly encoded line is reported with its number instead of
stopping the whole read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

REQUIRED_COLUMNS = (
    "identifier",
    "family_name",
    "first_names",
    "birth_date",
    "birthplace",
    "numen",
    "nir10",
    "academie",
)
OPTIONAL_COLUMNS = ("gender",)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


class HeaderError(ValueError):
    """The first line cannot be used as the header; the message is French."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One CSV record: ``line`` is the physical line it starts on (the header is line 1)."""

    line: int
    values: dict[str, str]
    problem: str | None = None


class _HashingReader(io.RawIOBase):
    """Passes the bytes of ``raw`` through, feeding a SHA-256 on the way."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        count = self._raw.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
        return count or 0


#: errors="surrogateescape" maps every byte that is not UTF-8 to U+DC80..U+DCFF.
_UNDECODABLE_RE = re.compile("[\udc80-\udcff]")


def _has_undecodable(text: str) -> bool:
    return _UNDECODABLE_RE.search(text) is not None


class CsvSource:
    """A voters file opened for one pass: ``with CsvSource(path) as source: for row in source.rows(): ...``.

    The delimiter is whichever of ``,`` and ``;`` the header line uses (column names contain neither, so the
    header decides without guessing). A BOM is skipped. Blank lines, and lines whose every cell is empty (what
    spreadsheets leave at the end of an export), are skipped.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._binary: io.BufferedReader | None = None
        self._hashing: _HashingReader | None = None
        self._text: io.TextIOWrapper | None = None
        self.columns: tuple[str, ...] = ()
        self.delimiter = ","

    def __enter__(self) -> CsvSource:
        self._binary = self.path.open("rb")
        self._hashing = _HashingReader(self._binary)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._hashing), encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._text is not None:
            self._text.close()
        if self._binary is not None:
            self._binary.close()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes read so far (of the whole file once :meth:`rows` is exhausted)."""
        assert self._hashing is not None
        return self._hashing.sha256.hexdigest()

    def read_header(self) -> tuple[str, ...]:
        """Parse line 1; raises :class:`HeaderError` if a required column is missing or a column unknown."""
        assert self._text is not None
        first = self._text.readline()
        if not first.strip():
            raise HeaderError("en-tête manquant : la première ligne doit nommer les colonnes")
        if _has_undecodable(first):
            raise HeaderError("le fichier n'est pas encodé en UTF-8 (enregistrez-le au format « CSV UTF-8 »)")
        self.delimiter = ";" if first.count(";") > first.count(",") else ","
        names = tuple(name.strip().lower() for name in next(csv.reader([first], delimiter=self.delimiter)))
        problems = []
        unknown = [name for name in names if name not in KNOWN_COLUMNS]
        if unknown:
            problems.append("colonne(s) inconnue(s) : " + ", ".join(f"« {name} »" for name in unknown))
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            problems.append("colonne(s) en double : " + ", ".join(f"« {name} »" for name in repeated))
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            problems.append("colonne(s) manquante(s) : " + ", ".join(f"« {name} »" for name in missing))
        if problems:
            raise HeaderError("en-tête invalide : " + " ; ".join(problems))
        self.columns = names
        return names

    def rows(self) -> Iterator[RawRow]:
        """The records after the header, each with its line number or the reason it cannot be read.

        A CSV syntax error (an unbalanced quote, a field beyond the ``csv`` module's size limit, which also
        bounds memory on such files) ends the read: what follows cannot be split into records reliably.
        """
        assert self._text is not None and self.columns
        reader = csv.reader(self._text, delimiter=self.delimiter, strict=True)
        width = len(self.columns)
        while True:
            line = reader.line_num + 2  # the header was line 1, read before this reader started
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield RawRow(line, {}, f"fichier illisible à partir de cette ligne (CSV mal formé : {exc})")
                return
            if not any(cell.strip() for cell in cells):
                continue
            if any(map(_UNDECODABLE_RE.search, cells)):
                yield RawRow(line, {}, "caractères non UTF-8 (enregistrez le fichier au format « CSV UTF-8 »)")
                continue
            if len(cells) != width:
                yield RawRow(line, {}, f"{len(cells)} champs au lieu de {width} (séparateur « {self.delimiter} »)")
                continue
            yield RawRow(line, {name: cell.strip() for name, cell in zip(self.columns, cells, strict=True)})
        self._drain()

    def _drain(self) -> None:
        # The text layer has reached the end; make sure every byte went through the digest.
        assert self._hashing is not None
        buffer = bytearray(65536)
        while self._hashing.readinto(buffer):
            pass
