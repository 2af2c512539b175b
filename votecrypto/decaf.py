"""ristretto255 through libdecaf (Debian: ``libdecaf0``), for the server's verification of ballots.

libsodium (:mod:`votecrypto.group`) hands every point over as its 32-byte encoding: each addition decodes both
points and encodes the sum (two inverse square roots, about 15 µs here), each multiplication does the same around
its ladder, and there is no fixed-base table for anything but the generator nor any double-base multiplication.
libdecaf is the library of ristretto's designer (Mike Hamburg); it implements the same group (RFC 9496: same
encoding, same generator, same scalars — :mod:`tests.votecrypto.test_decaf` checks it against libsodium) and lets the
caller keep points decoded between operations, and offers:

- ``decaf_255_base_double_scalarmul_non_secret``: ``s·G + t·P`` in one variable-time pass (public data only);
- ``decaf_255_precompute`` / ``decaf_255_precomputed_scalarmul``: a table for a fixed point (the election key),
  after which ``s·K`` costs about what ``s·G`` does;
- ``decaf_255_point_dual_scalarmul``: ``s·P`` and ``t·P`` in one pass;
- ``decaf_255_precomputed_base``: the same kind of table for the generator.

One flaw of libdecaf 1.0 is worked around here: ``decaf_255_base_double_scalarmul_non_secret`` returns the identity
whenever ``t`` is zero, whatever ``s`` (its wNAF loop starts from ``t``'s top digit and gives up when there is none),
where ``s·G`` is the answer. :func:`base_double_mul_public` computes ``s·G`` from the table in that case; callers
that call the library directly (:mod:`votecrypto.fastverify`) must do the same.

This module is a thin ctypes binding: each function calls one of libdecaf's; no curve arithmetic is written here.
Everything it handles is public (ballots, keys, proofs): the variable-time function is never given a secret.

Points are opaque buffers (``decaf_255_point_t``: four field elements of 40 bytes, each aligned to 32 bytes);
scalars are decoded once (``decaf_255_scalar_t``). Decoding is strict, as RFC 9496 asks: a non-canonical encoding
(the top bit set included, which libsodium 1.0.18 lets through: :func:`votecrypto.group.is_point` checks it
itself) is refused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Final

#: Where to find the library: the soname Debian installs, else whatever the linker's cache knows by that name.
LIBRARY_NAMES: Final = ("libdecaf.so.0", ctypes.util.find_library("decaf") or "")
_POINT_BYTES: Final = 4 * 64  # four gf_25519_t (5 limbs of 64 bits, padded to 64 bytes by their alignment)
_SCALAR_BYTES: Final = 32
_ALIGN: Final = 32
_SUCCESS: Final = -1  # DECAF_SUCCESS
_TRUE: Final = 2**64 - 1  # DECAF_TRUE

_vp = ctypes.c_void_p


class DecafUnavailable(RuntimeError):
    """libdecaf could not be loaded (install Debian's ``libdecaf0``)."""


def _load() -> ctypes.CDLL | None:
    for name in LIBRARY_NAMES:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        _declare(lib)
        return lib
    return None


def _declare(lib: ctypes.CDLL) -> None:
    signatures: dict[str, tuple[list[type], type | None]] = {
        "decaf_255_point_decode": ([_vp, ctypes.c_char_p, ctypes.c_uint64], ctypes.c_int32),
        "decaf_255_point_encode": ([ctypes.c_char_p, _vp], None),
        "decaf_255_point_add": ([_vp, _vp, _vp], None),
        "decaf_255_point_sub": ([_vp, _vp, _vp], None),
        "decaf_255_point_scalarmul": ([_vp, _vp, _vp], None),
        "decaf_255_point_dual_scalarmul": ([_vp, _vp, _vp, _vp, _vp], None),
        "decaf_255_point_double_scalarmul": ([_vp, _vp, _vp, _vp, _vp], None),
        "decaf_255_base_double_scalarmul_non_secret": ([_vp, _vp, _vp, _vp], None),
        "decaf_255_precompute": ([_vp, _vp], None),
        "decaf_255_precomputed_scalarmul": ([_vp, _vp, _vp], None),
        "decaf_255_scalar_decode": ([_vp, ctypes.c_char_p], ctypes.c_int32),
        "decaf_255_scalar_sub": ([_vp, _vp, _vp], None),
        "decaf_255_scalar_eq": ([_vp, _vp], ctypes.c_uint64),
    }
    for name, (arguments, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = arguments
        function.restype = result


_lib = _load()


def available() -> bool:
    return _lib is not None


def library() -> ctypes.CDLL:
    """libdecaf itself, its functions declared: for a hot loop that passes the ``addr`` of its own points and scalars
    (each call through this module's helpers costs about a microsecond of Python around the C)."""
    if _lib is None:
        raise DecafUnavailable("libdecaf is not installed (Debian: libdecaf0)")
    return _lib


_library = library


class _Aligned:
    """A zeroed buffer of ``size`` bytes whose address is a multiple of 32 (``addr``)."""

    __slots__ = ("_raw", "addr")

    def __init__(self, size: int) -> None:
        self._raw = ctypes.create_string_buffer(size + _ALIGN)
        self.addr: int = (ctypes.addressof(self._raw) + _ALIGN - 1) & ~(_ALIGN - 1)


class Point(_Aligned):
    def __init__(self) -> None:
        super().__init__(_POINT_BYTES)

    def encode(self) -> bytes:
        out = ctypes.create_string_buffer(32)
        _library().decaf_255_point_encode(out, self.addr)
        return out.raw


class Scalar(_Aligned):
    def __init__(self) -> None:
        super().__init__(_SCALAR_BYTES)


class Table:
    """Multiples of one fixed point (the election key), for :meth:`mul`; built once per election and kept."""

    __slots__ = ("_buffer", "addr")

    def __init__(self, point: Point) -> None:
        lib = _library()
        size = ctypes.c_size_t.in_dll(lib, "decaf_255_sizeof_precomputed_s").value
        self._buffer = _Aligned(size)
        self.addr = self._buffer.addr
        lib.decaf_255_precompute(self.addr, point.addr)

    def mul(self, s: Scalar, out: Point | None = None) -> Point:
        out = out if out is not None else Point()
        _library().decaf_255_precomputed_scalarmul(out.addr, self.addr, s.addr)
        return out


def decode(encoded: bytes) -> Point | None:
    """The point, or None unless ``encoded`` is its canonical encoding (the identity is accepted)."""
    if len(encoded) != 32:
        return None
    out = Point()
    if _library().decaf_255_point_decode(out.addr, encoded, _TRUE) != _SUCCESS:
        return None
    return out


def decode_into(out: Point, encoded: bytes) -> bool:
    """:func:`decode` into a point the caller reuses (the tally decodes millions); False if not canonical."""
    return len(encoded) == 32 and _library().decaf_255_point_decode(out.addr, encoded, _TRUE) == _SUCCESS


def add_into(total: Point, p: Point) -> None:
    """``total += p`` in place."""
    _library().decaf_255_point_add(total.addr, total.addr, p.addr)


def identity() -> Point:
    point = decode(bytes(32))
    assert point is not None
    return point


def scalar(encoded: bytes) -> Scalar | None:
    """The scalar, or None unless ``encoded`` is canonical (below the group's order)."""
    out = Scalar()
    return out if scalar_into(out, encoded) else None


def scalar_into(out: Scalar, encoded: bytes) -> bool:
    """:func:`scalar` into a scalar the caller reuses; False unless ``encoded`` is canonical."""
    return len(encoded) == 32 and _library().decaf_255_scalar_decode(out.addr, encoded) == _SUCCESS


_ZERO_SCALAR = Scalar()


def negate(s: Scalar, out: Scalar | None = None) -> Scalar:
    out = out if out is not None else Scalar()
    _library().decaf_255_scalar_sub(out.addr, _ZERO_SCALAR.addr, s.addr)
    return out


def add(p: Point, q: Point, out: Point | None = None) -> Point:
    out = out if out is not None else Point()
    _library().decaf_255_point_add(out.addr, p.addr, q.addr)
    return out


def sub(p: Point, q: Point, out: Point | None = None) -> Point:
    out = out if out is not None else Point()
    _library().decaf_255_point_sub(out.addr, p.addr, q.addr)
    return out


def mul(s: Scalar, p: Point) -> Point:
    out = Point()
    _library().decaf_255_point_scalarmul(out.addr, p.addr, s.addr)
    return out


def dual_mul(p: Point, s: Scalar, t: Scalar) -> tuple[Point, Point]:
    """``(s·P, t·P)`` in one pass over ``P``'s multiples."""
    first, second = Point(), Point()
    _library().decaf_255_point_dual_scalarmul(first.addr, second.addr, p.addr, s.addr, t.addr)
    return first, second


def base_double_mul_public(s: Scalar, p: Point, t: Scalar, out: Point | None = None) -> Point:
    """``s·G + t·P`` in variable time: for public scalars and points only (verification).

    ``t`` zero is computed as ``s·G`` with the generator's table (libdecaf's function returns the identity then).
    """
    out = out if out is not None else Point()
    lib = _library()
    if lib.decaf_255_scalar_eq(t.addr, _ZERO_SCALAR.addr):
        lib.decaf_255_precomputed_scalarmul(out.addr, base_table(), s.addr)
    else:
        lib.decaf_255_base_double_scalarmul_non_secret(out.addr, s.addr, p.addr, t.addr)
    return out


def base_table() -> int:
    """The address of libdecaf's table of the generator's multiples (for ``decaf_255_precomputed_scalarmul``)."""
    return ctypes.c_void_p.in_dll(_library(), "decaf_255_precomputed_base").value or 0


def base_mul(s: Scalar, out: Point | None = None) -> Point:
    """``s·G`` with the generator's table (constant time)."""
    out = out if out is not None else Point()
    _library().decaf_255_precomputed_scalarmul(out.addr, base_table(), s.addr)
    return out


def base() -> Point:
    """The standard generator (decoded from its RFC 9496 encoding)."""
    point = decode(bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))
    assert point is not None
    return point
