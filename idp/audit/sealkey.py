"""The key that signs the log's checkpoints (``idp audit seal``): Ed25519, apart from the IdP's token keys.

Its private key lives in a PEM file named by ``IDP_AUDIT_SEAL_KEY_FILE``, readable by the operators who seal and by
nobody else, outside the database (someone able to rewrite the log must not be able to sign a checkpoint of the
rewritten log). The auditors keep its public key (``idp audit seal-key``) with the checkpoints; its identifier is
the SHA-256 of the raw 32-byte public key, in hexadecimal, written in every checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "Ed25519"


class SealKeyError(ValueError):
    """A key file that is missing, unreadable, or not an Ed25519 key."""


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SealKeyError(f"cannot read the seal key file {path}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SealKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key file, or the public half of a private key file."""
    data = _read(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return load_private_key(path).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SealKeyError(f"{path} is not an Ed25519 public key")
    return key


def parse_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise SealKeyError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SealKeyError("not an Ed25519 public key")
    return key


def generate_private_key(path: Path) -> Ed25519PrivateKey:
    """Write a new private key to ``path`` (mode 0600), refusing to replace an existing file."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SealKeyError(f"{path} already exists: a seal key is never overwritten") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key
