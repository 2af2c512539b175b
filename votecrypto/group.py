"""The group: ristretto255 (RFC 9496), through libsodium (``pysodium``).

Everything above this module handles points and scalars as their canonical 32-byte encodings (``bytes``): that is
what is hashed, stored, exported and sent to the browser, so there is one representation to get right. The
arithmetic is libsodium's; this module only adds what its API leaves to the caller:

- libsodium refuses to return the identity from a scalar multiplication (it signals an error); in a prime-order
  group the identity comes out exactly when the scalar is zero modulo the order or the point is the identity, both
  of which exponential ElGamal meets legitimately (a total of zero votes is the identity), so :func:`mul` returns it;
- scalars are checked to be canonical (below the group order) when they come from outside, so that one scalar has
  one encoding and a record cannot be altered without changing what it proves.
"""

from __future__ import annotations

import hashlib

import pysodium

pysodium.sodium_init()

#: The order of the group (ℓ), a prime.
ORDER = 2**252 + 27742317777372353535851937790883648493
POINT_BYTES = 32
SCALAR_BYTES = 32
#: The identity element's encoding (RFC 9496: all zeros).
IDENTITY = bytes(POINT_BYTES)
#: Domain of every hash of the protocol (see :func:`hash_to_scalar`).
DOMAIN = b"portail-elections/v1/"

ZERO = bytes(SCALAR_BYTES)
ONE = (1).to_bytes(SCALAR_BYTES, "little")


class GroupError(ValueError):
    """Bytes that are not a canonical point or scalar of the group."""


def scalar(value: int) -> bytes:
    """The canonical encoding of ``value`` modulo the order (small integers: indices, vote counts)."""
    return (value % ORDER).to_bytes(SCALAR_BYTES, "little")


def scalar_int(encoded: bytes) -> int:
    return int.from_bytes(encoded, "little")


def is_scalar(encoded: bytes) -> bool:
    return len(encoded) == SCALAR_BYTES and int.from_bytes(encoded, "little") < ORDER


def is_point(encoded: bytes) -> bool:
    """A canonical encoding of a group element (the identity included).

    RFC 9496 refuses an encoding whose top bit is set (its value is not below p); libsodium 1.0.18 (Debian 12)
    ignores that bit, so two encodings of one point would pass. The check is made here, as the browser's module
    (noble) and libdecaf make it.
    """
    return (
        len(encoded) == POINT_BYTES
        and not encoded[-1] & 0x80
        and bool(pysodium.crypto_core_ristretto255_is_valid_point(encoded))
    )


def check_scalar(encoded: bytes) -> bytes:
    if not is_scalar(encoded):
        raise GroupError("not a canonical scalar")
    return encoded


def check_point(encoded: bytes) -> bytes:
    if not is_point(encoded):
        raise GroupError("not a canonical ristretto255 point")
    return encoded


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar (libsodium draws from the OS's generator)."""
    while True:
        value = bytes(pysodium.crypto_core_ristretto255_scalar_random())
        if value != ZERO:
            return value


def add_scalars(a: bytes, b: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_add(a, b))


def sub_scalars(a: bytes, b: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_sub(a, b))


def mul_scalars(a: bytes, b: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_mul(a, b))


def invert_scalar(a: bytes) -> bytes:
    if a == ZERO:
        raise GroupError("zero has no inverse")
    return bytes(pysodium.crypto_core_ristretto255_scalar_invert(a))


def reduce_wide(wide: bytes) -> bytes:
    """A 64-byte value reduced modulo the order (uniform when the value is)."""
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(wide))


def add(p: bytes, q: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_add(p, q))


def sub(p: bytes, q: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_sub(p, q))


def mul(s: bytes, p: bytes) -> bytes:
    """``s·p``; the identity when ``s`` is zero or ``p`` is the identity (libsodium reports those as errors)."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(s, p))
    except ValueError:
        if s == ZERO or p == IDENTITY or scalar_int(s) % ORDER == 0:
            return IDENTITY
        raise GroupError("scalar multiplication failed") from None


def mul_base(s: bytes) -> bytes:
    """``s·G`` for the standard generator ``G``."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255_base(s))
    except ValueError:
        if scalar_int(s) % ORDER == 0:
            return IDENTITY
        raise GroupError("scalar multiplication failed") from None


#: The standard generator of ristretto255.
BASE = mul_base(ONE)


def small_multiple(count: int) -> bytes:
    """``count·G``: how a number of votes is encoded (exponential ElGamal)."""
    return mul_base(scalar(count)) if count else IDENTITY


def _length_prefixed(parts: tuple[bytes, ...]) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def hash_text(tag: str, *parts: bytes) -> bytes:
    """What :func:`hash_to_scalar` hashes: the domain, the tag, a zero byte and the length-prefixed parts (a
    verifier that hashes many texts with the same first parts builds it once and appends the rest)."""
    return DOMAIN + tag.encode("ascii") + b"\x00" + _length_prefixed(parts)


def _digest(tag: str, parts: tuple[bytes, ...]) -> bytes:
    return hashlib.sha512(hash_text(tag, *parts)).digest()


def hash_to_scalar(tag: str, *parts: bytes) -> bytes:
    """The Fiat-Shamir hash: SHA-512 over the domain, the tag and the length-prefixed parts, reduced mod ℓ.

    Every part is prefixed with its length (4 bytes, big-endian), so no two different lists of parts hash the same
    text. The tag names the statement ("zero-or-one", "exactly-one", …): a proof made for one statement is never
    accepted for another.
    """
    return reduce_wide(_digest(tag, parts))


def hash_to_int(tag: str, *parts: bytes) -> int:
    """:func:`hash_to_scalar` as an integer below ℓ (the 64-byte digest read little-endian, reduced mod ℓ as
    libsodium does): for a verifier that compares it with a sum of challenges without another library call."""
    return int.from_bytes(_digest(tag, parts), "little") % ORDER


#: Format 2's challenges are below 2**CHALLENGE_BITS (:func:`hash_to_challenge`).
CHALLENGE_BITS = 128
CHALLENGE_BOUND = 1 << CHALLENGE_BITS


def hash_to_challenge(tag: str, *parts: bytes) -> int:
    """The Fiat-Shamir hash of format 2 (a ballot's proofs with 128-bit challenges): the same SHA-512 digest as
    :func:`hash_to_scalar`'s, its first 16 bytes read as a little-endian integer (the digest mod 2**128)."""
    return int.from_bytes(_digest(tag, parts)[: CHALLENGE_BITS // 8], "little")


def short_challenge(encoded: bytes) -> int | None:
    """A format-2 challenge's value, or None unless ``encoded`` is 32 bytes whose upper 16 are zero."""
    value = int.from_bytes(encoded, "little")
    return value if len(encoded) == SCALAR_BYTES and value < CHALLENGE_BOUND else None


def index_bytes(value: int) -> bytes:
    """A small non-negative integer as it enters a hash (4 bytes, big-endian)."""
    return value.to_bytes(4, "big")
