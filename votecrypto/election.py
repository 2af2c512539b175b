"""The election manifest of one scrutin and its hash, which every ballot proof and partial decryption is bound to.

The manifest says what is being voted on and to which key: the scrutin, its options in ballot order (the lists,
then blank), the key ceremony (its id, threshold, and each trustee's name, commitments and proofs of knowledge) and
the election key. Its hash is SHA-256 over the domain and the manifest's canonical JSON (keys sorted, no spaces,
UTF-8): change a list's name, a trustee, the threshold or the key, and every proof made for the old manifest fails.

Its ``version`` is the format of the ballots' proofs (:data:`votecrypto.ballot.FORMATS`): 1 for the elections
created before format 2 existed (their ballots and records stay verifiable as they are), 2 for the others. Being
hashed, it cannot be changed without changing the election hash every proof is bound to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from votecrypto import group as g
from votecrypto.ballot import FORMATS
from votecrypto.proofs import Schnorr
from votecrypto.threshold import election_key, verify_coefficients

BLANK = "Vote blanc"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class TrusteePublic:
    index: int
    name: str
    commitments: tuple[bytes, ...]
    proofs: tuple[Schnorr, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "commitments": [c.hex() for c in self.commitments],
            "index": self.index,
            "name": self.name,
            "proofs": [{"c": p.challenge.hex(), "z": p.response.hex()} for p in self.proofs],
        }


@dataclass(frozen=True)
class Manifest:
    scrutin_code: str
    scrutin_label: str
    #: Names of the lists in ballot order (blank is added as the last option).
    lists: tuple[tuple[int, str], ...]
    ceremony_id: bytes
    ceremony_label: str
    threshold: int
    trustees: tuple[TrusteePublic, ...]
    public_key: bytes
    #: The format of the ballots' proofs (:data:`votecrypto.ballot.FORMATS`): what the scrutin was created with.
    version: int

    def __post_init__(self) -> None:
        if self.version not in FORMATS:
            raise ValueError(f"unknown manifest version {self.version}")

    @property
    def options(self) -> int:
        return len(self.lists) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "ceremony": {
                "id": self.ceremony_id.hex(),
                "label": self.ceremony_label,
                "threshold": self.threshold,
                "trustees": [t.to_json() for t in self.trustees],
            },
            "options": [{"name": name, "position": position} for position, name in self.lists]
            + [{"name": BLANK, "position": None}],
            "public_key": self.public_key.hex(),
            "scrutin": {"code": self.scrutin_code, "label": self.scrutin_label},
            "version": self.version,
        }

    def hash(self) -> bytes:
        return election_hash(self.to_json())

    def check(self) -> None:
        """The trustees' proofs hold and the key is the sum of their constant commitments."""
        for trustee in self.trustees:
            verify_coefficients(self.ceremony_id, trustee.index, trustee.commitments, trustee.proofs)
        if election_key([t.commitments for t in self.trustees]) != self.public_key:
            raise ValueError("the election key is not the sum of the trustees' commitments")


def election_hash(manifest: dict[str, Any]) -> bytes:
    return hashlib.sha256(g.DOMAIN + b"election\x00" + canonical_json(manifest)).digest()


def trustees_from_json(items: Sequence[Any]) -> tuple[TrusteePublic, ...]:
    return tuple(
        TrusteePublic(
            index=int(item["index"]),
            name=str(item["name"]),
            commitments=tuple(g.check_point(bytes.fromhex(c)) for c in item["commitments"]),
            proofs=tuple(
                Schnorr(g.check_scalar(bytes.fromhex(p["c"])), g.check_scalar(bytes.fromhex(p["z"])))
                for p in item["proofs"]
            ),
        )
        for item in items
    )
