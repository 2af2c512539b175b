"""The cryptography of the encrypted ballot box: exponential ElGamal over ristretto255, zero-knowledge proofs,
threshold key generation and decryption (README, "Encrypted ballot box").

A neutral package (it imports none of the applications) so that the portal, the trustees' commands and the load
benchmarks share one implementation; the browser's module (``frontend/ballot/crypto.js``) and the standalone
verifier (``tools/verify_election_record.py``) are written separately and tested against it.

Encrypting a ballot exactly as the browser does (the API the load benchmarks use)::

    from votecrypto import encrypt_ballot
    ballot = encrypt_ballot(
        key=key, election=election_hash, nonce=nonce, options=len(lists) + 1, choice=0, proof_format=version
    )  # version: the manifest's (the ballot page's data-format)
    form_value = json.dumps(ballot.to_json())   # what the ballot page posts in its ``ballot`` field
"""

from __future__ import annotations

from votecrypto.ballot import Ballot, BallotRejected, encrypt_ballot, tracking_code, verify_ballot

__all__ = ["Ballot", "BallotRejected", "encrypt_ballot", "tracking_code", "verify_ballot"]
