"""A trustee's private file: JSON, encrypted with a key derived from the trustee's passphrase.

argon2id (libsodium's ``crypto_pwhash``, 256 MiB and 3 passes by default: a few seconds on a laptop, once per command)
derives the key; XChaCha20-Poly1305 encrypts the secret part, with the clear header (format, ceremony, trustee index,
KDF parameters) as associated data, so a header edited by hand makes the file unreadable rather than misread. A new
salt and nonce are drawn at every write.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pysodium

FORMAT = "portail-elections/trustee-key/1"
MIN_PASSPHRASE = 12
DEFAULT_OPSLIMIT = 3
DEFAULT_MEMLIMIT = 256 * 1024 * 1024


class KeyFileError(ValueError):
    """A private file that cannot be read: wrong passphrase, altered, or not a trustee's file."""


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        pysodium.crypto_pwhash(
            pysodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
            passphrase.encode("utf-8"),
            salt,
            opslimit,
            memlimit,
            pysodium.crypto_pwhash_ALG_ARGON2ID13,
        )
    )


def write(
    path: Path,
    header: dict[str, Any],
    secret: dict[str, Any],
    passphrase: str,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> None:
    """Write (or replace, atomically) the file; readable by its owner only."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyFileError(f"la phrase de passe doit compter au moins {MIN_PASSPHRASE} caractères")
    salt = secrets.token_bytes(pysodium.crypto_pwhash_SALTBYTES)
    nonce = secrets.token_bytes(pysodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    clear = {
        **header,
        "format": FORMAT,
        "kdf": {"name": "argon2id", "salt": salt.hex(), "opslimit": opslimit, "memlimit": memlimit},
        "cipher": "xchacha20-poly1305",
        "nonce": nonce.hex(),
    }
    associated = json.dumps(clear, sort_keys=True, separators=(",", ":")).encode()
    ciphertext = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        json.dumps(secret, sort_keys=True).encode(), associated, nonce, _derive(passphrase, salt, opslimit, memlimit)
    )
    document = {"header": clear, "ciphertext": bytes(ciphertext).hex()}
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, path)


def read_header(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        header = document["header"]
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyFileError(f"{path} n'est pas un fichier de clé de garant lisible") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise KeyFileError(f"{path} n'est pas un fichier de clé de garant ({FORMAT})")
    return header


def read(path: Path, passphrase: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the secret part; :class:`KeyFileError` on a wrong passphrase or an altered file."""
    header = read_header(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    try:
        kdf = header["kdf"]
        key = _derive(passphrase, bytes.fromhex(kdf["salt"]), int(kdf["opslimit"]), int(kdf["memlimit"]))
        associated = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        plaintext = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes.fromhex(document["ciphertext"]), associated, bytes.fromhex(header["nonce"]), key
        )
        secret = json.loads(bytes(plaintext))
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"{path} : phrase de passe incorrecte, ou fichier altéré") from None
    if not isinstance(secret, dict):
        raise KeyFileError(f"{path} : contenu inattendu")
    return header, secret
