"""What an election import file says, once checked: plain values, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CandidateSpec:
    civility: str
    family_name: str
    given_name: str


@dataclass(frozen=True)
class ListSpec:
    position: int
    organisation: str
    title: str | None
    pdf: bytes | None
    pdf_sha256: str | None
    candidates: tuple[CandidateSpec, ...]


@dataclass
class ScrutinSpec:
    code: str
    label: str
    kind: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    lists: list[ListSpec] = field(default_factory=list)
    #: identifier (lower case) -> display name, the complete roll of the scrutin.
    roll: dict[str, str] = field(default_factory=dict)
