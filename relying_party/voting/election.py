"""What the ballot page and the ballot box need to know of a scrutin's election: its manifest, hash and key, and
the challenge (nonce) each voter's ballot must be bound to.

The nonce is derived, never stored: HMAC of the session id (which only the voter's cookie holds: the session store
keeps its SHA-256) and the scrutin, under the portal's secret key. The ballot page hands it to the browser, which
binds every proof to it; the submission recomputes it from the same cookie. A ballot built on another voter's page
carries that voter's nonce and is refused, and nothing in the database ties a nonce to a session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy.orm import Session

from relying_party.ceremony.service import manifest
from relying_party.models import Scrutin
from votecrypto.election import Manifest

NONCE_LABEL = b"portail-elections/ballot-nonce/v1|"


@dataclass(frozen=True)
class ElectionInfo:
    manifest: Manifest
    hash: bytes

    @property
    def key(self) -> bytes:
        return self.manifest.public_key

    @property
    def options(self) -> int:
        return self.manifest.options

    @property
    def proof_format(self) -> int:
        """The ballots' proof format: the manifest's version (:data:`votecrypto.ballot.FORMATS`)."""
        return self.manifest.version


def election_info(session: Session, scrutin: Scrutin) -> ElectionInfo | None:
    """None while the scrutin has no complete key ceremony: it cannot receive ballots then."""
    found = manifest(session, scrutin)
    return None if found is None else ElectionInfo(found, found.hash())


def ballot_nonce(secret_key: str, session_id: str, scrutin_code: str) -> bytes:
    message = NONCE_LABEL + session_id.encode() + b"|" + scrutin_code.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


def fingerprint(digest: bytes) -> str:
    """A digest as people compare it: 16 groups of 4 hex digits."""
    text = digest.hex()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
