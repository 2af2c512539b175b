"""Encrypted ballots: what the server accepts, and every forgery it refuses (with the reason it gives)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pysodium
import pytest

from votecrypto import fastverify
from votecrypto import group as g
from votecrypto.ballot import (
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


def ballot(choice: int = 1, **overrides: object) -> Ballot:
    args: dict[str, object] = {"key": KEY, "election": ELECTION, "nonce": NONCE, "options": OPTIONS, "choice": choice}
    args.update(overrides)
    return encrypt_ballot(**args)  # type: ignore[arg-type]


def _verdict(check: Callable[..., None], b: Ballot, nonce: bytes | None, election: bytes) -> BallotRejected | None:
    try:
        check(b, key=KEY, election=election, options=OPTIONS, nonce=nonce)
    except BallotRejected as exc:
        return exc
    return None


def verify(b: Ballot, nonce: bytes | None = NONCE, election: bytes = ELECTION) -> None:
    """verify_ballot (what the portal runs), after checking that both back ends give the same verdict and reason."""
    reference = _verdict(verify_ballot_reference, b, nonce, election)
    fast = _verdict(fastverify.verify_ballot, b, nonce, election)
    assert (fast and (fast.reason, fast.index, fast.detail)) == (
        reference and (reference.reason, reference.index, reference.detail)
    )
    verify_ballot(b, key=KEY, election=election, options=OPTIONS, nonce=nonce)


def decrypt(alpha: bytes, beta: bytes) -> bytes:
    return g.sub(beta, g.mul(KEY_SECRET, alpha))


@pytest.mark.parametrize("choice", range(OPTIONS))
def test_every_choice_is_accepted_and_encrypts_a_one_at_its_place(choice: int) -> None:
    b = ballot(choice)
    verify(b)
    plain = [decrypt(c.alpha, c.beta) for c in b.choices]
    assert plain == [g.BASE if i == choice else g.IDENTITY for i in range(OPTIONS)]


def test_json_and_stored_forms_round_trip() -> None:
    b = ballot(2)
    assert Ballot.from_json(b.to_json()) == b
    assert Ballot.from_parts(ELECTION, b.ciphertexts(), b.proofs()) == b


def _encrypt_option(m: int, index: int) -> tuple[bytes, bytes, ZeroOrOne]:
    """A correctly encrypted option with a valid proof only if m is 0 or 1 (else the prover refuses)."""
    r = g.random_scalar()
    alpha, beta = g.mul_base(r), g.add(g.mul(r, KEY), g.small_multiple(m))
    proof = ZeroOrOne.prove((ELECTION, NONCE, g.index_bytes(index)), KEY, alpha, beta, min(m, 1), r)
    return alpha, beta, proof


def test_two_lists_are_refused_by_the_sum_proof() -> None:
    b = ballot(0)
    alpha, beta, proof = _encrypt_option(1, 1)
    choices = list(b.choices)
    choices[1] = dataclasses.replace(choices[1], alpha=alpha, beta=beta, proof=proof)
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=tuple(choices)))
    assert refused.value.reason == "exactly_one"


def test_a_list_counted_twice_is_refused_by_its_option_proof() -> None:
    b = ballot(3)
    alpha, beta, proof = _encrypt_option(2, 0)
    choices = list(b.choices)
    choices[0] = dataclasses.replace(choices[0], alpha=alpha, beta=beta, proof=proof)
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=tuple(choices)))
    assert (refused.value.reason, refused.value.index) == ("zero_or_one", 0)


def test_a_proof_for_another_election_is_refused() -> None:
    other = ballot(1, election=bytes(32))
    with pytest.raises(BallotRejected) as refused:
        verify(other)
    assert refused.value.reason == "wrong_election"
    # Relabelled with this election's hash, its proofs no longer hold.
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(other, election=ELECTION))
    assert refused.value.reason == "zero_or_one"


def test_another_voters_ballot_replayed_is_refused() -> None:
    theirs = ballot(1, nonce=bytes.fromhex("ee" * 32))
    with pytest.raises(BallotRejected) as refused:
        verify(theirs)
    assert refused.value.reason == "wrong_nonce"
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(theirs, nonce=NONCE))
    assert refused.value.reason == "zero_or_one"


def test_options_cannot_be_swapped_within_a_ballot() -> None:
    b = ballot(0)
    swapped = (b.choices[1], b.choices[0], *b.choices[2:])
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=swapped))
    assert refused.value.reason == "zero_or_one"


def test_an_unencrypted_option_is_refused() -> None:
    b = ballot(0)
    choices = list(b.choices)
    choices[2] = dataclasses.replace(choices[2], alpha=g.IDENTITY, beta=g.IDENTITY)
    with pytest.raises(BallotRejected) as refused:
        verify(dataclasses.replace(b, choices=tuple(choices)))
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
def test_malformed_json_is_refused_before_any_proof_is_checked(mutate) -> None:
    data = ballot(0).to_json()
    mutate(data)
    with pytest.raises(BallotRejected) as refused:
        Ballot.from_json(data)
    assert refused.value.reason == "malformed"


def test_tracking_code_covers_the_ciphertexts_and_reads_back() -> None:
    b = ballot(0)
    code = tracking_code(ELECTION, b.ciphertexts())
    assert code != tracking_code(ELECTION, ballot(0).ciphertexts())
    shown = display_code(code)
    assert len(shown) == 64 and shown.count("-") == 12
    assert parse_display_code(shown) == code
    assert parse_display_code(shown.lower().replace("-", " ")) == code
    assert parse_display_code("pas un code") is None
