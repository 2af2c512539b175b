"""The server's verification of a ballot with libdecaf (:mod:`votecrypto.decaf`): the proofs of
:mod:`votecrypto.proofs`, checked the same way — every commitment recomputed, encoded and hashed — with fewer and
cheaper operations.

Per option, the disjunctive proof's four commitments are

- ``a0 = z0·G − c0·α`` and ``a1 = z1·G − c1·α``: one variable-time double multiplication each
  (``decaf_255_base_double_scalarmul_non_secret``: the generator's part costs about 4 µs of the 32);
- ``b0 = z0·K − c0·β`` and ``b1 = z1·K − c1·(β − G)``: ``z·K`` from the table of the election key's multiples
  (built once per election and kept, :func:`election_key`: about 11 µs) plus ``−c·β`` (or ``−c·(β − G)``, the point
  ``β − G`` computed once: one addition) by the same double multiplication with a zero generator scalar (about
  29 µs, the cheapest variable-base multiplication libdecaf offers here);
- four encodings (about 3.5 µs each) and one SHA-512.

That is four variable-base multiplications per option (``c0·α``, ``c1·α``, ``c0·β``, ``c1·β``): none of the
alternatives libdecaf has is cheaper (``decaf_255_point_dual_scalarmul`` gives ``c0·β`` and ``c1·β`` in one pass
but costs what two double multiplications do; the commitments ``a0``, ``a1`` built from it and the generator's table
cost more). The measured cost of each primitive and of an option is in docs/auditors/ballot-box.md, "Performance"
(``python -m benchmarks.ballot_crypto --primitives``). The calls go to libdecaf directly with the addresses of
points and scalars kept per thread, with no allocation in the loop.

libdecaf's double multiplication returns the identity when its variable-base scalar is zero (whatever the generator
scalar): a challenge ``c0`` or ``c1`` of zero is therefore computed as ``z·G`` with the generator's table, as the
reference computes it (``tests/votecrypto/test_fastverify.py`` has a valid ballot with a zero challenge and the
forgery that would pass if it were not).

The proofs are compact (challenge and response): the verifier must compute each commitment to hash it, so the
equations of a ballot cannot be folded into one random linear combination without sending the commitments, and
such a combination would need a multi-scalar multiplication, which neither libsodium nor libdecaf offers.

Soundness is that of the reference: the same hash over the same bytes decides, option by option, so a failure
names the option (or the sum) that fails, with the same reason. Everything handled here is public.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass

from votecrypto import decaf
from votecrypto import group as g
from votecrypto.ballot import (
    EXACTLY_ONE,
    Ballot,
    check_shape,
    exactly_one_rejected,
    option_context,
    zero_or_one_rejected,
)
from votecrypto.proofs import ZeroOrOne

_DECODED = -1  # DECAF_SUCCESS
_STRICT = 2**64 - 1  # DECAF_TRUE: the identity's encoding is accepted
_ORDER = g.ORDER


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
        self.z0, self.z1, self.minus_c0, self.minus_c1 = (decaf.Scalar() for _ in range(4))
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


def _commitment_g(
    lib: _Library, out: decaf.Point, z: decaf.Scalar, p: decaf.Point, c: int, minus_c: decaf.Scalar
) -> None:
    """``out = z·G − c·P``; ``c`` zero by the generator's table (libdecaf's double multiplication would give the
    identity)."""
    if c:
        lib.double_mul(out.addr, z.addr, p.addr, minus_c.addr)
    else:
        lib.table_mul(out.addr, lib.base_table, z.addr)


def _commitment_k(
    lib: _Library,
    w: _Workspace,
    out: decaf.Point,
    key: ElectionKey,
    z: decaf.Scalar,
    p: decaf.Point,
    minus_c: decaf.Scalar,
) -> None:
    """``out = z·K − c·P`` (for ``c`` zero, the double multiplication's identity is the right ``0·P``)."""
    lib.table_mul(out.addr, key.table.addr, z.addr)
    lib.double_mul(w.term.addr, w.zero.addr, p.addr, minus_c.addr)
    lib.add(out.addr, out.addr, w.term.addr)


def _encoded(lib: _Library, w: _Workspace, point: decaf.Point) -> bytes:
    lib.encode(w.encoded, point.addr)
    return w.encoded.raw


def _zero_or_one(
    lib: _Library,
    w: _Workspace,
    key: ElectionKey,
    context: tuple[bytes, ...],
    alpha: bytes,
    beta: bytes,
    proof: ZeroOrOne,
) -> bool:
    """The disjunctive proof of :class:`votecrypto.proofs.ZeroOrOne` (same commitments, same hash); ``w.alpha`` and
    ``w.beta`` hold α and β decoded."""
    c0, c1 = _scalar_int(proof.c0), _scalar_int(proof.c1)
    if c0 is None or c1 is None:
        return False
    if not (
        len(proof.z0) == 32
        and len(proof.z1) == 32
        and lib.scalar(w.z0.addr, proof.z0) == _DECODED
        and lib.scalar(w.z1.addr, proof.z1) == _DECODED
    ):
        return False
    lib.scalar(w.minus_c0.addr, _minus(c0))
    lib.scalar(w.minus_c1.addr, _minus(c1))
    _commitment_g(lib, w.a0, w.z0, w.alpha, c0, w.minus_c0)  # z0·G − c0·α
    _commitment_g(lib, w.a1, w.z1, w.alpha, c1, w.minus_c1)  # z1·G − c1·α
    _commitment_k(lib, w, w.b0, key, w.z0, w.beta, w.minus_c0)  # z0·K − c0·β
    lib.sub(w.shifted.addr, w.beta.addr, lib.base.addr)
    _commitment_k(lib, w, w.b1, key, w.z1, w.shifted, w.minus_c1)  # z1·K − c1·(β − G)
    expected = g.hash_to_int(
        ZeroOrOne.TAG,
        *context,
        alpha,
        beta,
        _encoded(lib, w, w.a0),
        _encoded(lib, w, w.b0),
        _encoded(lib, w, w.a1),
        _encoded(lib, w, w.b1),
    )
    return (c0 + c1) % _ORDER == expected


def verify_ballot(ballot: Ballot, *, key: bytes, election: bytes, options: int, nonce: bytes | None) -> None:
    """:func:`votecrypto.ballot.verify_ballot` with libdecaf: same verdicts, same reasons."""
    check_shape(ballot, election=election, options=options, nonce=nonce)
    decoded = election_key(key)
    if decoded is None:
        raise zero_or_one_rejected(0)
    lib, w = _library(), _workspace()
    sum_a, sum_b = w.sum_a.addr, w.sum_b.addr
    lib.add(sum_a, lib.identity.addr, lib.identity.addr)
    lib.add(sum_b, lib.identity.addr, lib.identity.addr)
    for index, choice in enumerate(ballot.choices):
        alpha, beta = choice.alpha, choice.beta
        if not (
            len(alpha) == 32
            and len(beta) == 32
            and lib.decode(w.alpha.addr, alpha, _STRICT) == _DECODED
            and lib.decode(w.beta.addr, beta, _STRICT) == _DECODED
        ):
            raise zero_or_one_rejected(index)
        context = option_context(election, ballot.nonce, index)
        if not _zero_or_one(lib, w, decoded, context, alpha, beta, choice.proof):
            raise zero_or_one_rejected(index)
        lib.add(sum_a, sum_a, w.alpha.addr)
        lib.add(sum_b, sum_b, w.beta.addr)
    lib.sub(sum_b, sum_b, lib.base.addr)
    c = _scalar_int(ballot.exactly_one.challenge)
    response = ballot.exactly_one.response
    if c is None or len(response) != 32 or lib.scalar(w.z0.addr, response) != _DECODED:
        raise exactly_one_rejected()
    lib.scalar(w.minus_c0.addr, _minus(c))
    _commitment_g(lib, w.a0, w.z0, w.sum_a, c, w.minus_c0)  # z·G − c·A
    _commitment_k(lib, w, w.b0, decoded, w.z0, w.sum_b, w.minus_c0)  # z·K − c·B
    expected = g.hash_to_int(
        EXACTLY_ONE,
        election,
        ballot.nonce,
        key,
        _encoded(lib, w, w.sum_a),
        _encoded(lib, w, w.sum_b),
        _encoded(lib, w, w.a0),
        _encoded(lib, w, w.b0),
    )
    if expected != c:
        raise exactly_one_rejected()
