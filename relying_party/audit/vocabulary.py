"""The portal's audit vocabulary: every event type its log may hold, with what it means.

No event carries a ballot's content or its receipt; a voter appears only as a keyed pseudonym (``subject``).
Recording an unknown type is a programming error and raises.
"""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "signin.accepted": "The IdP's answer was accepted (ID token, and userinfo if read, validated): a portal session "
    "is open.",
    "vote_level.reached": "The IdP proved the vote-code level (acr, amr, fresh auth_time): ballots are accepted "
    "from this session for PORTAL_VOTE_LEVEL_TTL.",
    "ballot.cast": "A voter's émargement and ballot were written in one transaction (scrutin code only: never the "
    "choice, never the receipt).",
    "complaint.filed": "A voter filed a complaint (reference, scrutin, topic; never the message).",
    "assistance.requested": "An assistance request was stored and queued for support (reference, topic; never the "
    "message nor the contact address).",
    "election.imported": "Scrutins, candidate lists and rolls were imported (administrative action; counts).",
    "tally.aggregated": "The ciphertexts of a closed scrutin were added up (ballots, émargements): the aggregate the "
    "trustees decrypt.",
    "tally.partial_received": "A trustee's partial decryption of the aggregate was checked and kept (trustee).",
    "tally.run": "A closed scrutin was counted (administrative action; ballots, émargements, votes per list, the "
    "trustees whose partial decryptions were used).",
    "ceremony.created": "A key ceremony was created (administrative action; code, number of trustees, threshold).",
    "ceremony.attached": "Scrutins were attached to a key ceremony: their ballots are encrypted to its key.",
    "ceremony.received": "A trustee's file of the key ceremony was checked and recorded (trustee, round).",
    "ceremony.completed": "Every trustee confirmed their share: the election key is fixed (the key).",
    "ballots.mixed": "Ballots of a scrutin were mixed: deleted and re-inserted in random order with new keys.",
}
