"""Verification of the log against sealed checkpoints (``idp audit verify --checkpoint``, the auditors' console).

A chain that verifies from its genesis up to its head proves its events consistent with each other, not that they
are the ones that were written: deleting its last events, or rewriting events and recomputing every later hash,
leaves a chain that verifies (see :mod:`hashchain.verify`). A checkpoint signed when the log was intact closes that
gap: for each chain it names the seq and hash of the last event then. If the event stored at that seq still has
that hash, and the chain's links verify, every event up to it is unchanged; if it is missing, the chain was cut;
if its hash differs, an event at or before it was rewritten.

Checks, in this order (the first failure is the one named first):

1. each checkpoint is well formed, signed by the trusted key, and (when given) of this IdP;
2. the checkpoints agree with each other: one content per counter, each ``previous`` the digest of the checkpoint
   numbered one less when both are given, seal times increasing with the counter, and no chain going backwards
   (a later seal at a lower seq means the chain was cut between the two seals);
3. for each checkpoint, in counter order, each chain's event at the sealed seq is present with the sealed hash.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hashchain import Source
from hashchain.heads import hash_at, last_event
from idp.audit.checkpoint_format import Checkpoint, CheckpointError, parse
from idp.audit.log import LOG
from idp.audit.sealkey import key_id


class FailureKind(enum.StrEnum):
    UNREADABLE = "unreadable"
    SIGNATURE = "signature"
    ISSUER = "issuer"
    SEQUENCE = "sequence"
    TRUNCATED = "truncated"
    REWRITTEN = "rewritten"


@dataclass(frozen=True)
class CheckpointFailure:
    kind: FailureKind
    #: Where the checkpoint came from (a file name, "seal 3"…).
    label: str
    counter: int | None
    chain: int | None
    seq: int | None
    #: A sentence for the operator (English, like the other messages of ``idp audit``).
    detail: str

    def __str__(self) -> str:
        return f"{self.label}: {self.detail}"


@dataclass(frozen=True)
class CheckpointReport:
    #: Checkpoints whose every sealed event was found unchanged.
    verified: int
    #: (Chain, seq) positions compared with the log.
    positions: int
    failures: tuple[CheckpointFailure, ...]
    #: Highest counter among the checkpoints that verified (None: none did).
    latest: int | None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def first_failure(self) -> CheckpointFailure | None:
        return self.failures[0] if self.failures else None


def _read(
    named: Sequence[tuple[str, str]],
    public_key: Ed25519PublicKey,
    issuer: str | None,
    failures: list[CheckpointFailure],
) -> list[tuple[str, Checkpoint]]:
    trusted = key_id(public_key)
    accepted: list[tuple[str, Checkpoint]] = []
    for label, text in named:
        try:
            checkpoint = parse(text)
        except CheckpointError as exc:
            failures.append(
                CheckpointFailure(FailureKind.UNREADABLE, label, None, None, None, f"not a checkpoint ({exc})")
            )
            continue
        where = f"checkpoint {checkpoint.counter}"
        if checkpoint.key_id != trusted:
            failures.append(
                CheckpointFailure(
                    FailureKind.SIGNATURE,
                    label,
                    checkpoint.counter,
                    None,
                    None,
                    f"{where} names another key ({checkpoint.key_id[:16]}…) than the "
                    f"trusted seal key ({trusted[:16]}…)",
                )
            )
            continue
        if not checkpoint.signature_valid(public_key):
            failures.append(
                CheckpointFailure(
                    FailureKind.SIGNATURE,
                    label,
                    checkpoint.counter,
                    None,
                    None,
                    f"{where}: the signature does not match its content (altered?)",
                )
            )
            continue
        if issuer is not None and checkpoint.issuer.rstrip("/") != issuer.rstrip("/"):
            failures.append(
                CheckpointFailure(
                    FailureKind.ISSUER,
                    label,
                    checkpoint.counter,
                    None,
                    None,
                    f"{where} seals the log of another IdP ({checkpoint.issuer})",
                )
            )
            continue
        accepted.append((label, checkpoint))
    return sorted(accepted, key=lambda item: item[1].counter)


def _sequence(accepted: list[tuple[str, Checkpoint]], failures: list[CheckpointFailure]) -> None:
    for (_, earlier), (label, later) in itertools.pairwise(accepted):
        where = f"checkpoint {later.counter}"

        def fail(
            detail: str, chain: int | None = None, seq: int | None = None, *, at: Checkpoint = later, name: str = label
        ) -> None:
            failures.append(CheckpointFailure(FailureKind.SEQUENCE, name, at.counter, chain, seq, detail))

        if later.counter == earlier.counter:
            if later.digest != earlier.digest:
                fail(
                    f"two different checkpoints carry the number {later.counter}: one of them is forged, or the "
                    "seals were reset"
                )
            continue
        if later.counter == earlier.counter + 1 and later.previous != earlier.digest:
            fail(
                f"{where} does not follow checkpoint {earlier.counter} (its previous digest differs): seals were "
                "lost or replaced between them"
            )
        if later.sealed_at <= earlier.sealed_at:
            fail(f"{where} is dated {later.sealed_at}, not after checkpoint {earlier.counter} ({earlier.sealed_at})")
        before = {head.chain: head for head in earlier.heads}
        for head in later.heads:
            old = before.pop(head.chain, None)
            if old is None:
                continue
            if head.seq < old.seq:
                fail(
                    f"{where} seals chain {head.chain} at seq {head.seq}, checkpoint {earlier.counter} at seq "
                    f"{old.seq}: the chain was cut between the two seals",
                    head.chain,
                    head.seq,
                )
            elif head.seq == old.seq and head.hash != old.hash:
                fail(
                    f"{where} and checkpoint {earlier.counter} give chain {head.chain}, seq {head.seq} different "
                    "hashes",
                    head.chain,
                    head.seq,
                )
        for chain, old in sorted(before.items()):
            fail(
                f"{where} has no chain {chain}, which checkpoint {earlier.counter} sealed at seq {old.seq}: the "
                "chain was deleted between the two seals",
                chain,
                old.seq,
            )


def verify_checkpoints(
    source: Source, named: Sequence[tuple[str, str]], public_key: Ed25519PublicKey, *, issuer: str | None = None
) -> CheckpointReport:
    """Check the log against the checkpoints ``named`` as (label, file content) pairs, trusting ``public_key``."""
    failures: list[CheckpointFailure] = []
    accepted = _read(named, public_key, issuer, failures)
    _sequence(accepted, failures)
    verified = positions = 0
    latest: int | None = None
    with LOG.reading(source) as connection:
        for label, checkpoint in accepted:
            intact = True
            for head in checkpoint.heads:
                positions += 1
                stored = hash_at(connection, LOG, head.chain, head.seq)
                where = f"checkpoint {checkpoint.counter}: chain {head.chain}, seq {head.seq}"
                if stored is None:
                    last = last_event(connection, LOG, head.chain)
                    now = f"the chain now ends at seq {last.seq}" if last else "the chain is gone"
                    failures.append(
                        CheckpointFailure(
                            FailureKind.TRUNCATED,
                            label,
                            checkpoint.counter,
                            head.chain,
                            head.seq,
                            f"{where} is missing ({now}): sealed events were deleted",
                        )
                    )
                    intact = False
                elif stored != head.hash:
                    failures.append(
                        CheckpointFailure(
                            FailureKind.REWRITTEN,
                            label,
                            checkpoint.counter,
                            head.chain,
                            head.seq,
                            f"{where} no longer has the sealed hash: that event, or one before it in its chain, was "
                            "rewritten (with the later hashes recomputed)",
                        )
                    )
                    intact = False
            if intact:
                verified += 1
                latest = checkpoint.counter
    return CheckpointReport(verified=verified, positions=positions, failures=tuple(failures), latest=latest)
