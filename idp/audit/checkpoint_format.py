"""The signed checkpoint document: what ``idp audit seal`` hands the auditors, and how it is read back.

A checkpoint is a JSON object (written indented, one key a line, for people to read)::

    {"format": "portail-elections/audit-checkpoint/1", "counter": 3, "sealed_at": "2026-12-01T09:00:00.000000Z",
     "issuer": "https://idp.example.gouv.fr", "chains": [{"chain": 0, "seq": 812, "hash": "9f…"}, …],
     "previous": "5a…" or null, "alg": "Ed25519", "key_id": "c4…", "signature": "…"}

``signature`` is Ed25519 over the UTF-8 bytes of the *signed text*: the same object without ``signature``,
serialised with its keys sorted, no white space, non-ASCII characters as ``\\uXXXX`` escapes (Python's
``json.dumps(obj, sort_keys=True, separators=(",", ":"))``), in unpadded base64url. Every value in it is an integer
or an ASCII string, so that text is easy to rebuild in any language. ``previous`` is the SHA-256 (hexadecimal) of
the previous checkpoint's signed text: the checkpoints form a chain of their own, and a counter that goes back or a
link that does not match shows that seals were lost or forged. ``tools/verify_audit_seal.py`` rebuilds and checks
all of this without the project's code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hashchain import ChainHead
from idp.audit.sealkey import ALG, key_id

FORMAT = "portail-elections/audit-checkpoint/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_KEYS = {"format", "counter", "sealed_at", "issuer", "chains", "previous", "alg", "key_id", "signature"}


class CheckpointError(ValueError):
    """A file that is not a well-formed checkpoint."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise CheckpointError("signature: not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CheckpointError("signature: not unpadded base64url") from None


def signed_text(unsigned: dict[str, Any]) -> bytes:
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Checkpoint:
    counter: int
    sealed_at: str
    issuer: str
    heads: tuple[ChainHead, ...]
    previous: str | None
    key_id: str
    signature: str

    def unsigned(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "counter": self.counter,
            "sealed_at": self.sealed_at,
            "issuer": self.issuer,
            "chains": [{"chain": h.chain, "seq": h.seq, "hash": h.hash} for h in self.heads],
            "previous": self.previous,
            "alg": ALG,
            "key_id": self.key_id,
        }

    @property
    def digest(self) -> str:
        """SHA-256 of the signed text: what the next checkpoint names as ``previous``."""
        return hashlib.sha256(signed_text(self.unsigned())).hexdigest()

    def document(self) -> str:
        """The file handed to the auditors (indented JSON, keys sorted, ending with a line feed)."""
        return json.dumps({**self.unsigned(), "signature": self.signature}, sort_keys=True, indent=2) + "\n"

    def signature_valid(self, public_key: Ed25519PublicKey) -> bool:
        if self.key_id != key_id(public_key):
            return False
        try:
            public_key.verify(_unb64(self.signature), signed_text(self.unsigned()))
        except (InvalidSignature, CheckpointError):
            return False
        return True


def sign(
    private_key: Ed25519PrivateKey,
    *,
    counter: int,
    sealed_at: str,
    issuer: str,
    heads: list[ChainHead],
    previous: str | None,
) -> Checkpoint:
    unsigned = Checkpoint(
        counter, sealed_at, issuer, tuple(sorted(heads)), previous, key_id(private_key.public_key()), signature=""
    )
    signature = _b64(private_key.sign(signed_text(unsigned.unsigned())))
    return Checkpoint(unsigned.counter, sealed_at, issuer, unsigned.heads, previous, unsigned.key_id, signature)


def _int(value: Any, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CheckpointError(f"{name}: an integer of at least {minimum} is expected")
    return value


def _ascii(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.isascii():
        raise CheckpointError(f"{name}: an ASCII string is expected")
    return value


def _head(value: Any, rank: int) -> ChainHead:
    if not isinstance(value, dict) or set(value) != {"chain", "seq", "hash"}:
        raise CheckpointError(f"chains[{rank}]: an object with chain, seq and hash is expected")
    digest = value["hash"]
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise CheckpointError(f"chains[{rank}].hash: 64 lowercase hexadecimal digits are expected")
    return ChainHead(
        _int(value["chain"], f"chains[{rank}].chain", 0), _int(value["seq"], f"chains[{rank}].seq", 1), digest
    )


def parse(text: str) -> Checkpoint:
    """Read a checkpoint file; raise :class:`CheckpointError` naming what is wrong (the signature is not checked
    here: see :meth:`Checkpoint.signature_valid`)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CheckpointError("not JSON") from None
    if not isinstance(data, dict) or set(data) != _KEYS:
        raise CheckpointError(f"an object with exactly the keys {', '.join(sorted(_KEYS))} is expected")
    if data["format"] != FORMAT:
        raise CheckpointError(f"format: {FORMAT!r} is expected")
    if data["alg"] != ALG:
        raise CheckpointError(f"alg: {ALG!r} is expected")
    sealed_at = _ascii(data["sealed_at"], "sealed_at")
    if not _INSTANT.fullmatch(sealed_at):
        raise CheckpointError("sealed_at: YYYY-MM-DDTHH:MM:SS.ffffffZ is expected")
    if not isinstance(data["chains"], list):
        raise CheckpointError("chains: a list is expected")
    heads = tuple(_head(value, rank) for rank, value in enumerate(data["chains"]))
    if list(heads) != sorted(heads) or len({h.chain for h in heads}) != len(heads):
        raise CheckpointError("chains: one entry per chain, in increasing chain order, is expected")
    previous = data["previous"]
    if previous is not None and (not isinstance(previous, str) or not _HEX64.fullmatch(previous)):
        raise CheckpointError("previous: null or 64 lowercase hexadecimal digits are expected")
    identifier = _ascii(data["key_id"], "key_id")
    if not _HEX64.fullmatch(identifier):
        raise CheckpointError("key_id: 64 lowercase hexadecimal digits are expected")
    return Checkpoint(
        counter=_int(data["counter"], "counter", 1),
        sealed_at=sealed_at,
        issuer=_ascii(data["issuer"], "issuer"),
        heads=heads,
        previous=previous,
        key_id=identifier,
        signature=_ascii(data["signature"], "signature"),
    )
