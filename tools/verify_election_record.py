#!/usr/bin/env python3
"""Verify the election record of a Portail Élections scrutin, with Python's standard library and pysodium only.

This file deliberately imports nothing of the project: it is the reference implementation of the checks described
in the docs (auditors, "The election record"), written apart from the portal's own code so that an auditor can
read it, run it as is, or rewrite it in another language. It needs libsodium (Debian: libsodium23) and its Python
binding pysodium:

    python3 tools/verify_election_record.py dossier-CSA-MEN-2022.jsonl
    python3 tools/verify_election_record.py --election-hash 5e2f… dossier.jsonl   # the hash published beforehand

Exit status: 0 when every check passes; 1 naming the first thing that fails (line number and item); 2 on a usage
error. Checks, in the order of the file:

1. every line is UTF-8 canonical JSON (keys sorted, no spaces): one item has one spelling, so no byte can change
   without changing what is checked;
2. the manifest's hash is the election hash (and the one given with --election-hash); each trustee's commitments
   carry valid proofs of knowledge; the election key is the sum of the trustees' constant commitments;
3. each ballot: its proofs (each option encrypts 0 or 1; the options add up to exactly one) for this election and
   the ballot's nonce, in the format the manifest's version names (1: challenges mod ℓ; 2: challenges below 2**128,
   compared with the hash's first 16 bytes, the challenges of a zero-or-one proof added mod 2**128); its tracking
   code is the digest of its ciphertexts; codes are strictly increasing (so no ballot appears twice);
4. the aggregate is the sum of the ballots, their number is the number of ballot lines and of émargements;
5. each partial decryption's proofs hold for the trustee's public share (computed from the commitments);
6. the result: k partial decryptions combined give, for every option, exactly ``votes·G``; the totals add up to
   the number of ballots.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import pysodium

DOMAIN = b"portail-elections/v1/"
ORDER = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes(32)
ONE = (1).to_bytes(32, "little")
HEX64 = frozenset("0123456789abcdef")


class Failure(Exception):
    """The first check that fails."""


# --- the group (ristretto255) and the hash, as the docs define them ------------------------------------------------


def scalar_of(value: int) -> bytes:
    return (value % ORDER).to_bytes(32, "little")


def mul(s: bytes, p: bytes) -> bytes:
    """s·p; libsodium reports an identity result as an error, which here is the identity."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(s, p))
    except ValueError:
        if int.from_bytes(s, "little") % ORDER == 0 or p == IDENTITY:
            return IDENTITY
        raise Failure("a scalar multiplication failed") from None


def mul_base(s: bytes) -> bytes:
    if int.from_bytes(s, "little") % ORDER == 0:
        return IDENTITY
    return bytes(pysodium.crypto_scalarmult_ristretto255_base(s))


def add(p: bytes, q: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_add(p, q))


def sub(p: bytes, q: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_sub(p, q))


BASE = mul_base(ONE)


def h(tag: str, *parts: bytes) -> bytes:
    """SHA-512 of the domain, the tag, a zero byte and each part prefixed by its length (4 bytes, big-endian),
    reduced modulo the group order."""
    text = DOMAIN + tag.encode("ascii") + b"\x00" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(hashlib.sha512(text).digest()))


def h128(tag: str, *parts: bytes) -> int:
    """Format 2's challenge: the same SHA-512 digest as :func:`h`'s, its first 16 bytes as a little-endian integer."""
    text = DOMAIN + tag.encode("ascii") + b"\x00" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return int.from_bytes(hashlib.sha512(text).digest()[:16], "little")


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- reading -------------------------------------------------------------------------------------------------------


def fields(item: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(item, dict) or set(item) != names:
        raise Failure(f"{what}: exactly the fields {', '.join(sorted(names))} expected")
    return item


def hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= HEX64:
        raise Failure(f"{what}: 64 lowercase hexadecimal digits expected")
    return bytes.fromhex(value)


def point(value: Any, what: str) -> bytes:
    raw = hex32(value, what)
    # RFC 9496: the top bit of a canonical encoding is clear (libsodium 1.0.18 does not check it).
    if raw[31] & 0x80 or not pysodium.crypto_core_ristretto255_is_valid_point(raw):
        raise Failure(f"{what}: not a ristretto255 point")
    return raw


def scalar(value: Any, what: str) -> bytes:
    raw = hex32(value, what)
    if int.from_bytes(raw, "little") >= ORDER:
        raise Failure(f"{what}: not a canonical scalar")
    return raw


def integer(value: Any, what: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise Failure(f"{what}: an integer ≥ {low} expected")
    return value


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Failure("a key appears twice")
    return dict(pairs)


def lines(raw: bytes) -> Iterator[tuple[int, Any]]:
    if not raw.endswith(b"\n"):
        last = raw.count(b"\n") + 1
        raise Failure(f"line {last}: the record must end with a line feed")
    for number, line in enumerate(raw[:-1].split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
            item = json.loads(text, object_pairs_hook=no_duplicates)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Failure(f"line {number}: not a JSON line ({exc})") from None
        except Failure as exc:
            raise Failure(f"line {number}: {exc}") from None
        if canonical(item) != text:
            raise Failure(f"line {number}: not in canonical form (keys sorted, no spaces)")
        yield number, item


# --- the checks ----------------------------------------------------------------------------------------------------


class Election:
    def __init__(self, item: Any, expected: bytes | None) -> None:
        item = fields(item, {"election_hash", "manifest", "type"}, "election")
        if item["type"] != "election":
            raise Failure("the first line must be the election")
        manifest = fields(item["manifest"], {"ceremony", "options", "public_key", "scrutin", "version"}, "manifest")
        self.hash = hex32(item["election_hash"], "election_hash")
        computed = hashlib.sha256(DOMAIN + b"election\x00" + canonical(manifest).encode("utf-8")).digest()
        if computed != self.hash:
            raise Failure("the manifest does not match the election hash")
        if expected is not None and expected != self.hash:
            raise Failure("the election hash is not the one given with --election-hash")
        if type(manifest["version"]) is not int or manifest["version"] not in (1, 2):
            raise Failure("manifest: version 1 or 2 expected")
        #: Format 2: the ballots' challenges are below 2**128 (see the module's doc).
        self.short = manifest["version"] == 2
        options = manifest["options"]
        if not isinstance(options, list) or len(options) < 2:
            raise Failure("manifest: at least one list and blank expected")
        for index, option in enumerate(options):
            fields(option, {"name", "position"}, f"manifest.options[{index}]")
        if options[-1]["position"] is not None or any(not isinstance(o["position"], int) for o in options[:-1]):
            raise Failure("manifest: the lists have positions, blank (last) has none")
        self.options = options
        ceremony = fields(manifest["ceremony"], {"id", "label", "threshold", "trustees"}, "manifest.ceremony")
        ceremony_id = hex32(ceremony["id"], "ceremony.id")
        trustees = ceremony["trustees"]
        if not isinstance(trustees, list) or not trustees:
            raise Failure("manifest: trustees expected")
        self.threshold = integer(ceremony["threshold"], "ceremony.threshold", 1)
        if self.threshold > len(trustees):
            raise Failure("manifest: the threshold exceeds the number of trustees")
        self.commitments: dict[int, list[bytes]] = {}
        key = IDENTITY
        for position, trustee in enumerate(trustees, start=1):
            trustee = fields(trustee, {"commitments", "index", "name", "proofs"}, f"trustee {position}")
            if trustee["index"] != position:
                raise Failure(f"trustee {position}: trustees are numbered 1 … n in order")
            commitments = trustee["commitments"]
            proofs = trustee["proofs"]
            if not isinstance(commitments, list) or not isinstance(proofs, list):
                raise Failure(f"trustee {position}: commitments and proofs expected")
            if len(commitments) != self.threshold or len(proofs) != self.threshold:
                raise Failure(f"trustee {position}: one commitment and proof per coefficient (the threshold)")
            points = []
            for rank, (c_hex, proof) in enumerate(zip(commitments, proofs, strict=True)):
                commitment = point(c_hex, f"trustee {position} commitment {rank}")
                proof = fields(proof, {"c", "z"}, f"trustee {position} proof {rank}")
                c, z = scalar(proof["c"], "c"), scalar(proof["z"], "z")
                again = h(
                    "coefficient",
                    ceremony_id,
                    u32(position),
                    u32(rank),
                    commitment,
                    sub(mul_base(z), mul(c, commitment)),
                )
                if commitment == IDENTITY or again != c:
                    raise Failure(f"trustee {position}: the proof of knowledge of coefficient {rank} fails")
                points.append(commitment)
            self.commitments[position] = points
            key = add(key, points[0])
        self.key = point(manifest["public_key"], "public_key")
        if key != self.key:
            raise Failure("the election key is not the sum of the trustees' commitments")

    def public_share(self, trustee: int) -> bytes:
        total = IDENTITY
        for points in self.commitments.values():
            power = ONE
            for commitment in points:
                total = add(total, mul(power, commitment))
                power = bytes(pysodium.crypto_core_ristretto255_scalar_mul(power, scalar_of(trustee)))
        return total


def check_ballot(election: Election, item: Any, sums: list[list[bytes]]) -> bytes:
    """Check one ballot line; add its ciphertexts to ``sums``; return its tracking code."""
    item = fields(item, {"ballot", "tracking_code", "type"}, "ballot")
    code = hex32(item["tracking_code"], "tracking_code")
    ballot = fields(item["ballot"], {"choices", "election", "exactly_one", "nonce"}, "ballot")
    if hex32(ballot["election"], "ballot.election") != election.hash:
        raise Failure("prepared for another election")
    nonce = hex32(ballot["nonce"], "ballot.nonce")
    choices = ballot["choices"]
    if not isinstance(choices, list) or len(choices) != len(election.options):
        raise Failure(f"{len(election.options)} options expected")
    big_a, big_b, ciphertexts = IDENTITY, IDENTITY, b""
    for index, choice in enumerate(choices):
        choice = fields(choice, {"alpha", "beta", "c0", "c1", "z0", "z1"}, f"option {index}")
        alpha, beta = point(choice["alpha"], "alpha"), point(choice["beta"], "beta")
        c0, c1, z0, z1 = (scalar(choice[n], n) for n in ("c0", "c1", "z0", "z1"))
        if alpha == IDENTITY:
            raise Failure(f"option {index} is not encrypted")
        if election.short and max(c0[16:] + c1[16:]) != 0:
            raise Failure(f"option {index}: the proof that it counts 0 or 1 fails (a challenge of more than 128 bits)")
        a0 = sub(mul_base(z0), mul(c0, alpha))
        b0 = sub(mul(z0, election.key), mul(c0, beta))
        a1 = sub(mul_base(z1), mul(c1, alpha))
        b1 = sub(mul(z1, election.key), mul(c1, sub(beta, BASE)))
        parts = (election.hash, nonce, u32(index), alpha, beta, a0, b0, a1, b1)
        if election.short:
            valid = (int.from_bytes(c0, "little") + int.from_bytes(c1, "little")) % 2**128 == h128(
                "zero-or-one", *parts
            )
        else:
            valid = bytes(pysodium.crypto_core_ristretto255_scalar_add(c0, c1)) == h("zero-or-one", *parts)
        if not valid:
            raise Failure(f"option {index}: the proof that it counts 0 or 1 fails")
        big_a, big_b = add(big_a, alpha), add(big_b, beta)
        sums[index] = [add(sums[index][0], alpha), add(sums[index][1], beta)]
        ciphertexts += alpha + beta
    proof = fields(ballot["exactly_one"], {"c", "z"}, "exactly_one")
    c, z = scalar(proof["c"], "c"), scalar(proof["z"], "z")
    big_b = sub(big_b, BASE)
    a = sub(mul_base(z), mul(c, big_a))
    b = sub(mul(z, election.key), mul(c, big_b))
    parts = (election.hash, nonce, election.key, big_a, big_b, a, b)
    if election.short:
        valid = int.from_bytes(c, "little") == h128("exactly-one", *parts)  # below 2**128 by construction
    else:
        valid = h("exactly-one", *parts) == c
    if not valid:
        raise Failure("the proof that the ballot holds exactly one choice fails")
    if hashlib.sha256(DOMAIN + b"tracking-code\x00" + election.hash + ciphertexts).digest() != code:
        raise Failure("the tracking code is not the digest of the ciphertexts")
    return code


def lagrange(trustee: int, group: list[int]) -> bytes:
    numerator, denominator = ONE, ONE
    for other in group:
        if other != trustee:
            numerator = bytes(pysodium.crypto_core_ristretto255_scalar_mul(numerator, scalar_of(other)))
            denominator = bytes(pysodium.crypto_core_ristretto255_scalar_mul(denominator, scalar_of(other - trustee)))
    return bytes(
        pysodium.crypto_core_ristretto255_scalar_mul(
            numerator, pysodium.crypto_core_ristretto255_scalar_invert(denominator)
        )
    )


def verify(raw: bytes, expected: bytes | None) -> str:
    """Every check of the record; returns a summary, or raises :class:`Failure` naming the line and item."""
    election: Election | None = None
    sums: list[list[bytes]] = []
    ballots = 0
    previous = b""
    aggregate: list[tuple[bytes, bytes]] | None = None
    partials: dict[int, list[bytes]] = {}
    result: list[int] | None = None
    for number, item in lines(raw):
        kind = item.get("type") if isinstance(item, dict) else None
        where = f"line {number} ({kind or 'item'})"
        try:
            if election is None:
                election = Election(item, expected)
                sums = [[IDENTITY, IDENTITY] for _ in election.options]
            elif result is not None:
                raise Failure("nothing may follow the result")
            elif kind == "ballot" and aggregate is None:
                where = f"line {number} (ballot {item.get('tracking_code')})"
                code = check_ballot(election, item, sums)
                if code <= previous:
                    raise Failure("ballots must be in strictly increasing order of tracking code")
                previous = code
                ballots += 1
            elif kind == "aggregate" and aggregate is None:
                item = fields(item, {"ballots", "choices", "emargements", "type"}, "aggregate")
                if integer(item["ballots"], "ballots") != ballots:
                    raise Failure(f"it counts {item['ballots']} ballots, the record holds {ballots}")
                if integer(item["emargements"], "emargements") != ballots:
                    raise Failure(f"{ballots} ballots but {item['emargements']} émargements")
                choices = item["choices"]
                if not isinstance(choices, list) or len(choices) != len(election.options):
                    raise Failure("one sum per option expected")
                aggregate = []
                for index, choice in enumerate(choices):
                    choice = fields(choice, {"alpha", "beta"}, f"option {index}")
                    pair = (point(choice["alpha"], "alpha"), point(choice["beta"], "beta"))
                    if list(pair) != sums[index]:
                        raise Failure(f"option {index}: not the sum of the ballots")
                    aggregate.append(pair)
            elif kind == "partial_decryption" and aggregate is not None:
                item = fields(item, {"shares", "trustee", "type"}, "partial decryption")
                trustee = integer(item["trustee"], "trustee", 1)
                where = f"line {number} (partial decryption of trustee {trustee})"
                if trustee not in election.commitments or (partials and trustee <= max(partials)):
                    raise Failure("trustees must be known and in increasing order")
                shares = item["shares"]
                if not isinstance(shares, list) or len(shares) != len(aggregate):
                    raise Failure("one share per option expected")
                public = election.public_share(trustee)
                found = []
                for index, (share, (alpha, _)) in enumerate(zip(shares, aggregate, strict=True)):
                    share = fields(share, {"c", "share", "z"}, f"option {index}")
                    d = point(share["share"], "share")
                    c, z = scalar(share["c"], "c"), scalar(share["z"], "z")
                    a = sub(mul_base(z), mul(c, public))
                    b = sub(mul(z, alpha), mul(c, d))
                    if h("partial-decryption", election.hash, u32(trustee), u32(index), alpha, public, d, a, b) != c:
                        raise Failure(f"option {index}: the proof of the partial decryption fails")
                    found.append(d)
                partials[trustee] = found
            elif kind == "result" and aggregate is not None:
                item = fields(item, {"totals", "type"}, "result")
                totals = item["totals"]
                if not isinstance(totals, list) or len(totals) != len(election.options):
                    raise Failure("one total per option expected")
                if len(partials) < election.threshold:
                    raise Failure(f"{election.threshold} partial decryptions needed, {len(partials)} in the record")
                group = sorted(partials)[: election.threshold]
                lambdas = {i: lagrange(i, group) for i in group}
                result = []
                for index, (total, option) in enumerate(zip(totals, election.options, strict=True)):
                    total = fields(total, {"name", "position", "votes"}, f"total {index}")
                    if (total["name"], total["position"]) != (option["name"], option["position"]):
                        raise Failure(f"total {index}: not the option of the manifest")
                    votes = integer(total["votes"], f"total {index}.votes")
                    combined = IDENTITY
                    for i in group:
                        combined = add(combined, mul(lambdas[i], partials[i][index]))
                    if sub(aggregate[index][1], combined) != mul_base(scalar_of(votes)) or votes > ballots:
                        raise Failure(f"total {index} ({option['name']}): the decryption gives another number")
                    result.append(votes)
                if sum(result) != ballots:
                    raise Failure(f"the totals add up to {sum(result)}, not to the {ballots} ballots")
            else:
                raise Failure("unexpected here (order: election, ballots, aggregate, partial decryptions, result)")
        except Failure as exc:
            raise Failure(f"{where}: {exc}") from None
    if election is None or result is None:
        raise Failure("the record ends before its result")
    return f"{ballots} ballots, result verified: " + ", ".join(
        f"{o['name']} {v}" for o, v in zip(election.options, result, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", help="the election record (JSON lines)")
    parser.add_argument("--election-hash", help="the election hash published beforehand (hex)")
    args = parser.parse_args(argv)
    try:
        expected = bytes.fromhex(args.election_hash) if args.election_hash else None
    except ValueError:
        parser.error("--election-hash: hexadecimal expected")
    try:
        with open(args.record, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        print(f"cannot read {args.record}: {exc}", file=sys.stderr)
        return 2
    try:
        summary = verify(raw, expected)
    except Failure as exc:
        print(f"FAILED: {exc}")
        return 1
    print(f"OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
