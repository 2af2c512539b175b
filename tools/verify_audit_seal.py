#!/usr/bin/env python3
"""Verify a complete export of the Portail Élections audit log against signed checkpoints (``idp audit seal``).

Like ``verify_audit_export.py`` beside it (which it uses for the export itself), this file does not import the
``idp`` package: it is the reference implementation of the procedure in docs/auditors/sealing.md. It needs Python
3.11+ and one library beyond the standard one, ``cryptography`` (``pip install cryptography``), because Python's
standard library has no Ed25519 signature check.

    python tools/verify_audit_seal.py --public-key seal.pub --checkpoint seal-0001.json \\
        [--checkpoint seal-0002.json ...] EXPORT.jsonl

It checks that the export is complete and intact (every hash, every link, no gap: ``verify_audit_export.py``), that
each checkpoint is signed by the public key, that the checkpoints agree with each other (one content per number;
number n+1 names the digest of number n as ``previous``; seal times increase; no chain goes back), and that for each
checkpoint and each chain it names, the export holds the event at the sealed seq with the sealed hash. Exit status:
0 when everything verifies, 1 naming the first problem, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # verify_audit_export.py, beside this file

import verify_audit_export as export_tool
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "portail-elections/audit-checkpoint/1"
KEYS = {"format", "counter", "sealed_at", "issuer", "chains", "previous", "alg", "key_id", "signature"}


class Failure(Exception):
    pass


def signed_text(checkpoint: dict[str, Any]) -> bytes:
    """The checkpoint without its signature, keys sorted, no white space, non-ASCII as \\uXXXX escapes."""
    unsigned = {key: value for key, value in checkpoint.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(path: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def read_checkpoint(path: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """A checkpoint file whose structure and signature are checked."""
    try:
        checkpoint = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise Failure(f"{path}: not JSON ({exc})") from None
    if not isinstance(checkpoint, dict) or set(checkpoint) != KEYS:
        raise Failure(f"{path}: not a checkpoint (keys {', '.join(sorted(KEYS))} expected)")
    if checkpoint["format"] != FORMAT or checkpoint["alg"] != "Ed25519":
        raise Failure(f"{path}: unknown format or algorithm")
    counter = checkpoint["counter"]
    if not isinstance(counter, int) or isinstance(counter, bool) or counter < 1:
        raise Failure(f"{path}: counter must be a positive integer")
    if checkpoint["key_id"] != key_id(public_key):
        raise Failure(f"{path}: checkpoint {counter} names another key than the public key given")
    signature = checkpoint["signature"]
    try:
        raw = base64.urlsafe_b64decode(str(signature) + "=" * (-len(str(signature)) % 4))
        public_key.verify(raw, signed_text(checkpoint))
    except (InvalidSignature, binascii.Error, ValueError):
        raise Failure(f"{path}: checkpoint {counter}: the signature does not match its content") from None
    chains = checkpoint["chains"]
    if not isinstance(chains, list) or not all(
        isinstance(h, dict)
        and set(h) == {"chain", "seq", "hash"}
        and isinstance(h["chain"], int)
        and isinstance(h["seq"], int)
        and isinstance(h["hash"], str)
        for h in chains
    ):
        raise Failure(f"{path}: chains must be a list of {{chain, seq, hash}}")
    return checkpoint


def check_sequence(checkpoints: list[tuple[str, dict[str, Any]]]) -> None:
    """The checkpoints, sorted by counter, must agree with each other."""
    for (_, earlier), (path, later) in itertools.pairwise(checkpoints):
        n, m = earlier["counter"], later["counter"]
        if n == m:
            if signed_text(earlier) != signed_text(later):
                raise Failure(f"{path}: two different checkpoints carry the number {m}")
            continue
        if m == n + 1 and later["previous"] != hashlib.sha256(signed_text(earlier)).hexdigest():
            raise Failure(f"{path}: checkpoint {m} does not follow checkpoint {n} (previous digest differs)")
        if later["sealed_at"] <= earlier["sealed_at"]:
            raise Failure(f"{path}: checkpoint {m} is not dated after checkpoint {n}")
        before = {h["chain"]: h for h in earlier["chains"]}
        for head in later["chains"]:
            old = before.pop(head["chain"], None)
            if old is not None and (
                head["seq"] < old["seq"] or (head["seq"] == old["seq"] and head["hash"] != old["hash"])
            ):
                raise Failure(
                    f"{path}: checkpoint {m} seals chain {head['chain']} at seq {head['seq']}, checkpoint "
                    f"{n} at seq {old['seq']} with another hash or further: the chain was cut or rewritten"
                )
        if before:
            raise Failure(f"{path}: checkpoint {m} has no chain {min(before)}, which checkpoint {n} sealed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an audit log export against signed checkpoints.")
    parser.add_argument("export", help="a complete export written by 'idp audit export' (no filter)")
    parser.add_argument("--checkpoint", action="append", required=True, help="a checkpoint file (repeatable)")
    parser.add_argument("--public-key", required=True, help="the seal's public key (PEM, 'idp audit seal-key')")
    args = parser.parse_args(argv)
    try:
        public_key = load_public_key(args.public_key)
    except (OSError, ValueError) as exc:
        print(f"cannot use the public key: {exc}", file=sys.stderr)
        return 2
    try:
        checkpoints = sorted(
            ((path, read_checkpoint(path, public_key)) for path in args.checkpoint), key=lambda item: item[1]["counter"]
        )
        check_sequence(checkpoints)
        wanted = {
            (h["chain"], h["seq"]): (path, c["counter"], h["hash"]) for path, c in checkpoints for h in c["chains"]
        }
        found: dict[tuple[int, int], str] = {}

        def lines() -> Any:
            # The export's lines, unchanged, noting the hash of each sealed position on the way.
            for text in export_tool._read(args.export):
                try:
                    event = json.loads(text)
                    position = (event["chain"], event["seq"])
                except (ValueError, KeyError, TypeError):
                    position = None
                if position in wanted:
                    found[position] = event["hash"]
                yield text

        summary = export_tool.verify(lines(), complete=True)
    except export_tool.Problem as problem:
        print(f"export NOT verified: {problem}", file=sys.stderr)
        return 1
    except Failure as failure:
        print(f"checkpoints NOT verified: {failure}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 2
    for (chain, seq), (path, counter, digest) in sorted(wanted.items(), key=lambda item: item[1][1]):
        if (chain, seq) not in found:
            last = summary.heads.get(chain, (0, ""))[0]
            print(
                f"checkpoints NOT verified: {path}: checkpoint {counter}: chain {chain}, seq {seq} is missing "
                f"from the export (the chain ends at seq {last}): sealed events were deleted",
                file=sys.stderr,
            )
            return 1
        if found[(chain, seq)] != digest:
            print(
                f"checkpoints NOT verified: {path}: checkpoint {counter}: chain {chain}, seq {seq} no longer has "
                "the sealed hash: that event or an earlier one was rewritten",
                file=sys.stderr,
            )
            return 1
    print(
        f"export intact: {summary.events} events in {len(summary.heads)} chains; {len(checkpoints)} checkpoint(s) "
        f"verified ({len(wanted)} sealed positions found unchanged)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
