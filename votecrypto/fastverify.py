"""The server's verification of a ballot with libdecaf (:mod:`votecrypto.decaf`): the proofs of
:mod:`votecrypto.proofs`, checked the same way — every commitment recomputed, encoded and hashed — with fewer and
cheaper operations, in both proof formats (:data:`votecrypto.ballot.FORMATS`).

**Format 2** (128-bit challenges, the elections created since it exists). Per option, the four commitments are each
a table multiplication by the response minus a short multiplication by the challenge:

- ``a0 = z0·G − c0·α`` and ``a1 = z1·G − c1·α``: ``z·G`` from the generator's table (about 12 µs) and ``c·α`` by
  ``decaf_255_base_double_scalarmul_non_secret`` with a zero generator scalar and the 128-bit ``c`` (about 13 µs:
  its wNAF loop runs over ``c``'s digits only, half of a full scalar's), subtracted;
- ``b0 = z0·K − c0·β`` and ``b1 = z1·K − c1·(β − G)``: the same with the table of the election key's multiples
  (built once per election and kept, :func:`election_key`) and ``β`` or ``β − G`` (computed once: one addition);
- four encodings (about 3.5 µs each) and one SHA-512, whose first 16 bytes are compared with ``c0 + c1`` mod 2**128.

The challenge is multiplied as the positive 128-bit number it is and the product subtracted: ``−c`` mod ℓ would be
a full-length scalar again. Giving the double multiplication both ``z`` and ``c`` (``z·G − c·α`` in one call) saves
nothing: its doublings run over the longer scalar, ``z``'s 253 bits (about 26 µs against 12 + 13).

**Format 1** (full challenges, the elections created before). ``a0``, ``a1`` by one double multiplication each
with ``−c`` (``z·G − c·α``: the generator's part costs about 3 µs of the 31); ``b0``, ``b1`` by the key's table plus
``−c·β`` (or ``−c·(β − G)``) by the double multiplication with a zero generator scalar (about 28 µs). That is four
full-length variable-base multiplications per option: none of the alternatives libdecaf has is cheaper
(``decaf_255_point_dual_scalarmul`` gives ``c0·β`` and ``c1·β`` in one pass but costs what two double
multiplications do; the constant-time functions are slower).

The measured cost of each primitive and the model of an option in each format are in docs/auditors/ballot-box.md,
"Performance" (``python -m benchmarks.ballot_crypto --primitives``). The calls go to libdecaf directly with the
addresses of points and scalars kept per thread, with no allocation in the loop.

libdecaf's double multiplication returns the identity when its variable-base scalar is zero (whatever the generator
scalar). In format 1 a challenge ``c0`` or ``c1`` of zero is therefore computed as ``z·G`` with the generator's
table, as the reference computes it (``tests/votecrypto/test_fastverify.py`` has a valid ballot with a zero
challenge and the forgery that would pass if it were not); in format 2 the generator scalar is always zero and the
identity is the right ``0·P``, the ``z·G`` coming from the table anyway (the same tests run in both formats).

The proofs are compact (challenge and response): the verifier must compute each commitment to hash it, so the
equations of a ballot cannot be folded into one random linear combination without sending the commitments, and
such a combination would need a multi-scalar multiplication, which neither libsodium nor libdecaf offers.

Soundness is that of the reference: the same hash over the same bytes decides, option by option, so a failure
names the option (or the sum) that fails, with the same reason. Everything handled here is public.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
from dataclasses import dataclass

from votecrypto import decaf
from votecrypto import group as g
from votecrypto.ballot import (
    EXACTLY_ONE,
    Ballot,
    check_shape,
    exactly_one_rejected,
    short_challenges,
    zero_or_one_rejected,
)
from votecrypto.proofs import ZeroOrOne

_DECODED = -1  # DECAF_SUCCESS
_STRICT = 2**64 - 1  # DECAF_TRUE: the identity's encoding is accepted
_ORDER = g.ORDER
_BOUND = g.CHALLENGE_BOUND


def available() -> bool:
    return decaf.available()


@dataclass(frozen=True)
class ElectionKey:
    """The election key, decoded, with the table of its multiples."""

    encoded: bytes
    point: decaf.Point
    table: decaf.Table


@functools.lru_cache(maxsize=64)
def election_key(key: bytes) -> ElectionKey | None:
    """The key's precomputation (about 55 µs, 9 KiB), kept for the next ballots of the same election."""
    point = decaf.decode(key)
    if point is None:
        return None
    return ElectionKey(key, point, decaf.Table(point))


class _Workspace:
    """Points, scalars and an encoding buffer reused from one option to the next (allocating them is a tenth of the
    time otherwise); one per thread, since a web process verifies ballots in several threads at once."""

    def __init__(self) -> None:
        self.alpha, self.beta, self.shifted = decaf.Point(), decaf.Point(), decaf.Point()
        self.a0, self.a1, self.b0, self.b1, self.term = (decaf.Point() for _ in range(5))
        self.sum_a, self.sum_b = decaf.Point(), decaf.Point()
        self.z0, self.z1, self.challenge0, self.challenge1 = (decaf.Scalar() for _ in range(4))
        self.zero = decaf.Scalar()
        self.encoded = ctypes.create_string_buffer(32)


_local = threading.local()


def _workspace() -> _Workspace:
    space: _Workspace | None = getattr(_local, "space", None)
    if space is None:
        space = _local.space = _Workspace()
    return space


class _Library:
    """libdecaf's functions of the loop and the two constant points, looked up once."""

    def __init__(self) -> None:
        lib = decaf.library()
        self.decode = lib.decaf_255_point_decode
        self.encode = lib.decaf_255_point_encode
        self.add = lib.decaf_255_point_add
        self.sub = lib.decaf_255_point_sub
        self.scalar = lib.decaf_255_scalar_decode
        self.double_mul = lib.decaf_255_base_double_scalarmul_non_secret
        self.table_mul = lib.decaf_255_precomputed_scalarmul
        self.base_table = decaf.base_table()
        self.base = decaf.base()
        self.identity = decaf.identity()


@functools.cache
def _library() -> _Library:
    return _Library()


def _scalar_int(encoded: bytes) -> int | None:
    """The scalar's value, or None unless ``encoded`` is canonical."""
    value = int.from_bytes(encoded, "little")
    return value if len(encoded) == 32 and value < _ORDER else None


def _minus(value: int) -> bytes:
    """``−value`` mod ℓ, encoded (canonical, so libdecaf's decoding of it always succeeds)."""
    return ((_ORDER - value) % _ORDER).to_bytes(32, "little")


#: Length prefixes of the hashed parts (:func:`votecrypto.group.hash_text`): a point, an option's index.
_POINT_PREFIX = (32).to_bytes(4, "big")
_INDEX_PREFIX = (4).to_bytes(4, "big")


def verify_ballot(
    ballot: Ballot, *, key: bytes, election: bytes, options: int, nonce: bytes | None, proof_format: int
) -> None:
    """:func:`votecrypto.ballot.verify_ballot` with libdecaf: same verdicts, same reasons."""
    short = short_challenges(proof_format)
    check_shape(ballot, election=election, options=options, nonce=nonce)
    decoded = election_key(key)
    if decoded is None:
        raise zero_or_one_rejected(0)
    lib, w = _library(), _workspace()
    (_options_short if short else _options)(lib, w, decoded, ballot, election)
    _exactly_one(lib, w, decoded, ballot, election, key, short=short)


def _options(lib: _Library, w: _Workspace, decoded: ElectionKey, ballot: Ballot, election: bytes) -> None:
    """Format 1's option loop; leaves Σα in ``w.sum_a`` and Σβ − G in ``w.sum_b``.

    The loop calls libdecaf directly (a Python helper around each call would cost a tenth of the time): per option,
    ``a0``, ``a1``, ``b0``, ``b1`` of :class:`votecrypto.proofs.ZeroOrOne` recomputed, encoded and hashed as
    :func:`votecrypto.group.hash_to_scalar` does (the text's start, common to the ballot's options, built once), and
    the hash compared with ``c0 + c1``.
    """
    decode, scalar, encode, add = lib.decode, lib.scalar, lib.encode, lib.add
    double_mul, table_mul, base_table, key_table = lib.double_mul, lib.table_mul, lib.base_table, decoded.table.addr
    alpha_p, beta_p, shifted, term = w.alpha.addr, w.beta.addr, w.shifted.addr, w.term.addr
    a0, a1, b0, b1 = w.a0.addr, w.a1.addr, w.b0.addr, w.b1.addr
    z0, z1, minus_c0, minus_c1, zero = w.z0.addr, w.z1.addr, w.challenge0.addr, w.challenge1.addr, w.zero.addr
    sum_a, sum_b, base, buffer = w.sum_a.addr, w.sum_b.addr, lib.base.addr, w.encoded
    add(sum_a, lib.identity.addr, lib.identity.addr)
    add(sum_b, lib.identity.addr, lib.identity.addr)
    start = g.hash_text(ZeroOrOne.TAG, election, ballot.nonce)
    for index, choice in enumerate(ballot.choices):
        alpha, beta, proof = choice.alpha, choice.beta, choice.proof
        c0, c1 = _scalar_int(proof.c0), _scalar_int(proof.c1)
        if not (
            len(alpha) == 32
            and len(beta) == 32
            and decode(alpha_p, alpha, _STRICT) == _DECODED
            and decode(beta_p, beta, _STRICT) == _DECODED
            and c0 is not None
            and c1 is not None
            and len(proof.z0) == 32
            and len(proof.z1) == 32
            and scalar(z0, proof.z0) == _DECODED
            and scalar(z1, proof.z1) == _DECODED
        ):
            raise zero_or_one_rejected(index)
        scalar(minus_c0, _minus(c0))
        scalar(minus_c1, _minus(c1))
        # a0 = z0·G − c0·α, a1 = z1·G − c1·α; a zero challenge by the generator's table (see the module's doc).
        if c0:
            double_mul(a0, z0, alpha_p, minus_c0)
        else:
            table_mul(a0, base_table, z0)
        if c1:
            double_mul(a1, z1, alpha_p, minus_c1)
        else:
            table_mul(a1, base_table, z1)
        # b0 = z0·K − c0·β, b1 = z1·K − c1·(β − G) (a zero challenge gives the identity here, which is right).
        table_mul(b0, key_table, z0)
        double_mul(term, zero, beta_p, minus_c0)
        add(b0, b0, term)
        lib.sub(shifted, beta_p, base)
        table_mul(b1, key_table, z1)
        double_mul(term, zero, shifted, minus_c1)
        add(b1, b1, term)
        parts = [start, _INDEX_PREFIX, g.index_bytes(index), _POINT_PREFIX, alpha, _POINT_PREFIX, beta]
        for commitment in (a0, b0, a1, b1):
            encode(buffer, commitment)
            parts += (_POINT_PREFIX, buffer.raw)
        if int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % _ORDER != (c0 + c1) % _ORDER:
            raise zero_or_one_rejected(index)
        add(sum_a, sum_a, alpha_p)
        add(sum_b, sum_b, beta_p)
    lib.sub(sum_b, sum_b, base)


def _options_short(lib: _Library, w: _Workspace, decoded: ElectionKey, ballot: Ballot, election: bytes) -> None:
    """Format 2's option loop (128-bit challenges); leaves Σα in ``w.sum_a`` and Σβ − G in ``w.sum_b``.

    Each commitment is a table multiplication by the response minus a short multiplication by the challenge:
    ``a = z·G`` (the generator's table) ``− c·α`` (the double multiplication with a zero generator scalar and the
    128-bit ``c``: its loop runs over ``c``'s digits only), ``b = z·K − c·β`` likewise with the key's table. The
    challenge is multiplied as the positive 128-bit number it is and the product subtracted: ``−c`` mod ℓ would be a
    full-length scalar again. A zero challenge gives the identity for ``c·α``, which is right here (libdecaf's flaw,
    in the module's doc, only loses the generator's part, and that part is zero).
    """
    decode, scalar, encode, add, sub = lib.decode, lib.scalar, lib.encode, lib.add, lib.sub
    double_mul, table_mul, base_table, key_table = lib.double_mul, lib.table_mul, lib.base_table, decoded.table.addr
    alpha_p, beta_p, shifted, term = w.alpha.addr, w.beta.addr, w.shifted.addr, w.term.addr
    a0, a1, b0, b1 = w.a0.addr, w.a1.addr, w.b0.addr, w.b1.addr
    z0, z1, c0_p, c1_p, zero = w.z0.addr, w.z1.addr, w.challenge0.addr, w.challenge1.addr, w.zero.addr
    sum_a, sum_b, base, buffer = w.sum_a.addr, w.sum_b.addr, lib.base.addr, w.encoded
    add(sum_a, lib.identity.addr, lib.identity.addr)
    add(sum_b, lib.identity.addr, lib.identity.addr)
    start = g.hash_text(ZeroOrOne.TAG, election, ballot.nonce)
    for index, choice in enumerate(ballot.choices):
        alpha, beta, proof = choice.alpha, choice.beta, choice.proof
        c0, c1 = g.short_challenge(proof.c0), g.short_challenge(proof.c1)
        if not (
            len(alpha) == 32
            and len(beta) == 32
            and decode(alpha_p, alpha, _STRICT) == _DECODED
            and decode(beta_p, beta, _STRICT) == _DECODED
            and c0 is not None
            and c1 is not None
            and len(proof.z0) == 32
            and len(proof.z1) == 32
            and scalar(z0, proof.z0) == _DECODED
            and scalar(z1, proof.z1) == _DECODED
        ):
            raise zero_or_one_rejected(index)
        scalar(c0_p, proof.c0)
        scalar(c1_p, proof.c1)
        # a0 = z0·G − c0·α, a1 = z1·G − c1·α
        table_mul(a0, base_table, z0)
        double_mul(term, zero, alpha_p, c0_p)
        sub(a0, a0, term)
        table_mul(a1, base_table, z1)
        double_mul(term, zero, alpha_p, c1_p)
        sub(a1, a1, term)
        # b0 = z0·K − c0·β, b1 = z1·K − c1·(β − G)
        table_mul(b0, key_table, z0)
        double_mul(term, zero, beta_p, c0_p)
        sub(b0, b0, term)
        sub(shifted, beta_p, base)
        table_mul(b1, key_table, z1)
        double_mul(term, zero, shifted, c1_p)
        sub(b1, b1, term)
        parts = [start, _INDEX_PREFIX, g.index_bytes(index), _POINT_PREFIX, alpha, _POINT_PREFIX, beta]
        for commitment in (a0, b0, a1, b1):
            encode(buffer, commitment)
            parts += (_POINT_PREFIX, buffer.raw)
        if int.from_bytes(hashlib.sha512(b"".join(parts)).digest()[:16], "little") != (c0 + c1) % _BOUND:
            raise zero_or_one_rejected(index)
        add(sum_a, sum_a, alpha_p)
        add(sum_b, sum_b, beta_p)
    sub(sum_b, sum_b, base)


def _encoded(lib: _Library, w: _Workspace, point: decaf.Point) -> bytes:
    lib.encode(w.encoded, point.addr)
    return w.encoded.raw


def _exactly_one(
    lib: _Library,
    w: _Workspace,
    key: ElectionKey,
    ballot: Ballot,
    election: bytes,
    encoded_key: bytes,
    *,
    short: bool,
) -> None:
    """The proof of :data:`votecrypto.ballot.EXACTLY_ONE` over ``w.sum_a`` (Σα) and ``w.sum_b`` (Σβ − G).

    ``a = z·G − c·A`` and ``b = z·K − c·B``. A full challenge (format 1): ``a`` by one double multiplication with
    ``−c`` (a zero challenge by the generator's table, see the module's doc), ``b`` as ``z·K`` from the key's table
    plus ``(−c)·B``. A 128-bit challenge (format 2): ``z·G`` and ``z·K`` from the tables, minus ``c·A`` and ``c·B``
    multiplied by the short ``c`` itself, as :func:`_options_short` does.
    """
    challenge = ballot.exactly_one.challenge
    c = g.short_challenge(challenge) if short else _scalar_int(challenge)
    response = ballot.exactly_one.response
    if c is None or len(response) != 32 or lib.scalar(w.z0.addr, response) != _DECODED:
        raise exactly_one_rejected()
    combine = lib.sub if short else lib.add
    lib.scalar(w.challenge0.addr, challenge if short else _minus(c))
    if short:
        lib.table_mul(w.a0.addr, lib.base_table, w.z0.addr)
        lib.double_mul(w.term.addr, w.zero.addr, w.sum_a.addr, w.challenge0.addr)
        lib.sub(w.a0.addr, w.a0.addr, w.term.addr)
    elif c:
        lib.double_mul(w.a0.addr, w.z0.addr, w.sum_a.addr, w.challenge0.addr)
    else:
        lib.table_mul(w.a0.addr, lib.base_table, w.z0.addr)
    lib.table_mul(w.b0.addr, key.table.addr, w.z0.addr)
    lib.double_mul(w.term.addr, w.zero.addr, w.sum_b.addr, w.challenge0.addr)
    combine(w.b0.addr, w.b0.addr, w.term.addr)
    hashed = g.hash_to_challenge if short else g.hash_to_int
    expected = hashed(
        EXACTLY_ONE,
        election,
        ballot.nonce,
        encoded_key,
        _encoded(lib, w, w.sum_a),
        _encoded(lib, w, w.sum_b),
        _encoded(lib, w, w.a0),
        _encoded(lib, w, w.b0),
    )
    if expected != c:
        raise exactly_one_rejected()
