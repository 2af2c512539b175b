"""Helpers of the crypto tests: a deterministic source of scalars (the same as the browser module's
``seededRandom``) and a key ceremony run in memory, each trustee's secrets kept apart as on separate machines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from votecrypto import group as g
from votecrypto.ballot import CURRENT_FORMAT
from votecrypto.election import Manifest, TrusteePublic
from votecrypto.sealed import BoxKeyPair, open_share, seal_share
from votecrypto.threshold import (
    Polynomial,
    check_share,
    combine_shares,
    election_key,
    prove_coefficients,
    verify_coefficients,
)


def seeded(seed: bytes) -> Callable[[], bytes]:
    counter = 0

    def draw() -> bytes:
        nonlocal counter
        value = g.hash_to_scalar("test-random", seed, g.index_bytes(counter))
        counter += 1
        return value

    return draw


@dataclass
class Trustee:
    index: int
    polynomial: Polynomial
    box: BoxKeyPair
    secret_share: bytes = b""


@dataclass
class Ceremony:
    id: bytes
    threshold: int
    trustees: list[Trustee]
    publics: list[TrusteePublic]
    key: bytes

    def manifest(self, lists: int = 3, code: str = "TEST", version: int = CURRENT_FORMAT) -> Manifest:
        return Manifest(
            scrutin_code=code,
            scrutin_label=f"Scrutin {code}",
            lists=tuple((p, f"Liste fictive {p}") for p in range(1, lists + 1)),
            ceremony_id=self.id,
            ceremony_label="Cérémonie de test",
            threshold=self.threshold,
            trustees=tuple(self.publics),
            public_key=self.key,
            version=version,
        )


def run_ceremony(n: int = 3, k: int = 2, ceremony_id: bytes = b"\x07" * 32) -> Ceremony:
    """The three rounds, each trustee checking what the others published and sent."""
    trustees = [Trustee(i, Polynomial.random(k), BoxKeyPair.generate()) for i in range(1, n + 1)]
    publics = [
        TrusteePublic(
            t.index,
            f"Garant fictif {t.index}",
            t.polynomial.commitments(),
            prove_coefficients(ceremony_id, t.index, t.polynomial),
        )
        for t in trustees
    ]
    for public in publics:
        verify_coefficients(ceremony_id, public.index, public.commitments, public.proofs)
    sealed = {
        (dealer.index, recipient.index): seal_share(
            ceremony_id, dealer.index, recipient.index, dealer.polynomial.at(recipient.index), recipient.box.public
        )
        for dealer in trustees
        for recipient in trustees
    }
    for recipient in trustees:
        shares = []
        for dealer in trustees:
            share = open_share(
                ceremony_id, dealer.index, recipient.index, sealed[(dealer.index, recipient.index)], recipient.box
            )
            check_share(share, publics[dealer.index - 1].commitments, recipient.index)
            shares.append(share)
        recipient.secret_share = combine_shares(shares)
    return Ceremony(ceremony_id, k, trustees, publics, election_key([p.commitments for p in publics]))
