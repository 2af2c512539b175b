"""Encrypted ballots: what the server accepts, and every forgery it refuses (with the reason it gives), in both
proof formats (1: full challenges; 2: 128-bit challenges), and a ballot of one format refused by an election of the
other."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pysodium
import pytest

from votecrypto import fastverify
from votecrypto import group as g
from votecrypto.ballot import (
    FORMATS,
    Ballot,
    BallotRejected,
    display_code,
    encrypt_ballot,
    parse_display_code,
    tracking_code,
    verify_ballot,
    verify_ballot_reference,
)
from votecrypto.proofs import ZeroOrOne

KEY_SECRET = g.random_scalar()
KEY = g.mul_base(KEY_SECRET)
ELECTION = bytes.fromhex("ab" * 32)
NONCE = bytes.fromhex("cd" * 32)
OPTIONS = 4


@pytest.fixture(params=FORMATS, ids=lambda f: f"format{f}")
def fmt(request: pytest.FixtureRequest) -> int:
    """The proof format of the election the test's ballots are made and checked for."""
    value: int = request.param
    return value


def ballot(fmt: int, choice: int = 1, **overrides: object) -> Ballot:
    args: dict[str, object] = {
        "key": KEY,
        "election": ELECTION,
        "nonce": NONCE,
        "options": OPTIONS,
        "choice": choice,
        "proof_format": fmt,
    }
    args.update(overrides)
    return encrypt_ballot(**args)  # type: ignore[arg-type]


def _verdict(
    check: Callable[..., None], b: Ballot, nonce: bytes | None, election: bytes, fmt: int
) -> BallotRejected | None:
    try:
        check(b, key=KEY, election=election, options=OPTIONS, nonce=nonce, proof_format=fmt)
    except BallotRejected as exc:
        return exc
    return None


def verify(b: Ballot, fmt: int, nonce: bytes | None = NONCE, election: bytes = ELECTION) -> None:
    """verify_ballot (what the portal runs), after checking that both back ends give the same verdict and reason."""
    reference = _verdict(verify_ballot_reference, b, nonce, election, fmt)
    fast = _verdict(fastverify.verify_ballot, b, nonce, election, fmt)
    assert (fast and (fast.reason, fast.index, fast.detail)) == (
        reference and (reference.reason, reference.index, reference.detail)
    )
    verify_ballot(b, key=KEY, election=election, options=OPTIONS, nonce=nonce, proof_format=fmt)


def decrypt(alpha: bytes, beta: bytes) -> bytes:
    return g.sub(beta, g.mul(KEY_SECRET, alpha))


@pytest.mark.parametrize("choice", range(OPTIONS))
def test_every_choice_is_accepted_and_encrypts_a_one_at_its_place(choice: int, fmt: int) -> None:
    b = ballot(fmt, choice)
    verify(b, fmt)
    plain = [decrypt(c.alpha, c.beta) for c in b.choices]
    assert plain == [g.BASE if i == choice else g.IDENTITY for i in range(OPTIONS)]


def test_json_and_stored_forms_round_trip(fmt: int) -> None:
    b = ballot(fmt, 2)
    assert Ballot.from_json(b.to_json()) == b
    assert Ballot.from_parts(ELECTION, b.ciphertexts(), b.proofs()) == b


def _encrypt_option(m: int, index: int, fmt: int) -> tuple[bytes, bytes, ZeroOrOne]:
    """A correctly encrypted option with a valid proof only if m is 0 or 1 (else the prover refuses)."""
    r = g.random_scalar()
    alpha, beta = g.mul_base(r), g.add(g.mul(r, KEY), g.small_multiple(m))
    proof = ZeroOrOne.prove((ELECTION, NONCE, g.index_bytes(index)), KEY, alpha, beta, min(m, 1), r, short=fmt == 2)
    return alpha, beta, proof


def test_two_lists_are_refused_by_the_sum_proof(fmt: int) -> None:
    b = ballot(fmt, 0)
    alpha, beta, proof = _encrypt_option(1, 1, fmt)
    choices = list(b.choices)
    choices[1] = dataclasses.replace(choices[1], alpha=alpha, beta=beta, proof=proof)
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=tuple(choices)), fmt)
    assert refused.value.reason == "exactly_one"


def test_a_list_counted_twice_is_refused_by_its_option_proof(fmt: int) -> None:
    b = ballot(fmt, 3)
    alpha, beta, proof = _encrypt_option(2, 0, fmt)
    choices = list(b.choices)
    choices[0] = dataclasses.replace(choices[0], alpha=alpha, beta=beta, proof=proof)
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=tuple(choices)), fmt)
    assert (refused.value.reason, refused.value.index) == ("zero_or_one", 0)


def test_a_proof_for_another_election_is_refused(fmt: int) -> None:
    other = ballot(fmt, 1, election=bytes(32))
    with pytest.raises(BallotRejected) as refused:
        verify(other, fmt)
    assert refused.value.reason == "wrong_election"
    # Relabelled with this election's hash, its proofs no longer hold.
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(other, election=ELECTION), fmt)
    assert refused.value.reason == "zero_or_one"


def test_another_voters_ballot_replayed_is_refused(fmt: int) -> None:
    theirs = ballot(fmt, 1, nonce=bytes.fromhex("ee" * 32))
    with pytest.raises(BallotRejected) as refused:
        verify(theirs, fmt)
    assert refused.value.reason == "wrong_nonce"
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(theirs, nonce=NONCE), fmt)
    assert refused.value.reason == "zero_or_one"


def test_options_cannot_be_swapped_within_a_ballot(fmt: int) -> None:
    b = ballot(fmt, 0)
    swapped = (b.choices[1], b.choices[0], *b.choices[2:])
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=swapped), fmt)
    assert refused.value.reason == "zero_or_one"


def test_an_unencrypted_option_is_refused(fmt: int) -> None:
    b = ballot(fmt, 0)
    choices = list(b.choices)
    choices[2] = dataclasses.replace(choices[2], alpha=g.IDENTITY, beta=g.IDENTITY)
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=tuple(choices)), fmt)
    assert refused.value.reason == "malformed"


def _top_bit_set(encoded: str) -> str:
    """A valid point's encoding with its top bit set: RFC 9496 refuses it (libsodium 1.0.18 alone would not)."""
    raw = bytearray.fromhex(encoded)
    raw[31] |= 0x80
    assert pysodium.crypto_core_ristretto255_is_valid_point(bytes(raw))
    return raw.hex()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("nonce"),
        lambda d: d.update(extra=1),
        lambda d: d["choices"][0].update(alpha="AB" * 32),
        lambda d: d["choices"][0].update(alpha="ff" * 32),
        lambda d: d["choices"][0].update(beta=_top_bit_set(d["choices"][0]["beta"])),
        lambda d: d["choices"][1].update(c0="ff" * 32),
        lambda d: d.update(choices=d["choices"][:1]),
        lambda d: d.update(choices="x"),
        lambda d: d["exactly_one"].pop("z"),
        lambda d: d.update(election=1),
    ],
)
def test_malformed_json_is_refused_before_any_proof_is_checked(mutate, fmt: int) -> None:
    data = ballot(fmt, 0).to_json()
    mutate(data)
    with pytest.raises(BallotRejected) as refused:
        Ballot.from_json(data)
    assert refused.value.reason == "malformed"


def test_tracking_code_covers_the_ciphertexts_and_reads_back(fmt: int) -> None:
    b = ballot(fmt, 0)
    code = tracking_code(ELECTION, b.ciphertexts())
    assert code != tracking_code(ELECTION, ballot(fmt, 0).ciphertexts())
    shown = display_code(code)
    assert len(shown) == 64 and shown.count("-") == 12
    assert parse_display_code(shown) == code
    assert parse_display_code(shown.lower().replace("-", " ")) == code
    assert parse_display_code("pas un code") is None


def _recorded_ballot(fmt: int, choice: int) -> tuple[Ballot, list[bytes]]:
    """A ballot and the random scalars it drew (per option: r, then the proof's w, simulated c and z)."""
    draws: list[bytes] = []

    def recorded() -> bytes:
        draws.append(g.random_scalar())
        return draws[-1]

    return ballot(fmt, choice, random=recorded), draws


def test_format_2_refuses_a_challenge_of_more_than_128_bits_that_would_otherwise_verify() -> None:
    """Option 0 encrypts 0, so its branch 0 is the real one: ``c0 + 2**128`` with ``z0 + 2**128·r`` gives the same
    commitments (``a0`` and ``b0`` unchanged since ``β = r·K``) and the same sum mod 2**128. Only the bound on the
    challenges refuses it (else a proof would have two encodings)."""
    b, draws = _recorded_ballot(2, 1)
    r, proof = draws[0], b.choices[0].proof
    shift = g.scalar(2**128)
    c0 = g.add_scalars(proof.c0, shift)
    z0 = g.add_scalars(proof.z0, g.mul_scalars(shift, r))
    assert g.sub(g.mul_base(z0), g.mul(c0, b.choices[0].alpha)) == g.sub(
        g.mul_base(proof.z0), g.mul(proof.c0, b.choices[0].alpha)
    )
    stretched = dataclasses.replace(b.choices[0], proof=dataclasses.replace(proof, c0=c0, z0=z0))
    forged = dataclasses.replace(b, choices=(stretched, *b.choices[1:]))
    with pytest.raises(BallotRejected) as refused:
        verify(forged, 2)
    assert (refused.value.reason, refused.value.index) == ("zero_or_one", 0)
    # The JSON form still parses (a canonical scalar): the bound is the proof's check, named at the option.
    assert Ballot.from_json(forged.to_json()) == forged


def test_format_2_refuses_an_exactly_one_challenge_of_more_than_128_bits() -> None:
    b, draws = _recorded_ballot(2, 1)
    total_r = g.ZERO
    for index in range(OPTIONS):
        total_r = g.add_scalars(total_r, draws[4 * index])
    shift = g.scalar(2**128)
    proof = b.exactly_one
    stretched = dataclasses.replace(
        proof,
        challenge=g.add_scalars(proof.challenge, shift),
        response=g.add_scalars(proof.response, g.mul_scalars(shift, total_r)),
    )
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, exactly_one=stretched), 2)
    assert refused.value.reason == "exactly_one"


@pytest.mark.parametrize("made_for", FORMATS)
def test_a_ballot_of_one_format_is_refused_by_an_election_of_the_other(made_for: int) -> None:
    """Format 1's challenges add up to the hash mod ℓ (and exceed 2**128); format 2's add up to its first 16 bytes
    mod 2**128: neither passes for the other (and the election hash, covering the version, differs anyway)."""
    b = ballot(made_for, 2)
    verify(b, made_for)
    with pytest.raises(BallotRejected) as refused:
        verify(b, 3 - made_for)
    assert (refused.value.reason, refused.value.index) == ("zero_or_one", 0)


def test_an_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown ballot format 3"):
        verify_ballot(ballot(2), key=KEY, election=ELECTION, options=OPTIONS, nonce=NONCE, proof_format=3)
