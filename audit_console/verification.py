"""The verification state shown at the top of every page: the last result, with when it was obtained.

Verifying walks every event of every chain (about a second per million events, more on a busy database), so a page
never runs it: it shows the last result and its time, and "Vérifier maintenant" (a POST) runs it again. The result
is kept in the console's ephemeral store (Redis, or the console's own database), so every process of the console
shows the same one. Nothing is written to the IdP's database or store.

The chains are checked with :func:`idp.audit.log.verify` (hashes, links, order) and, when the seal's public key
is configured, against every seal stored in the database (:func:`idp.audit.checkpoint_verify.verify_checkpoints`).
Event types are not checked against a vocabulary here: the console does not load the IdP's plugins, whose types
it would then report as unknown; ``idp audit verify`` on the IdP checks them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from hashchain import format_instant
from idp.audit.checkpoint_verify import verify_checkpoints
from idp.audit.log import verify
from idp.audit.seal import stored_documents
from idp.audit.sealkey import SealKeyError, parse_public_key
from idp.models import utcnow
from infra.store import get_store


class _EveryType:
    """A vocabulary that holds every type (see the module docstring)."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class ChainProblem:
    kind: str
    event_id: int
    chain: int
    seq: int
    detail: str
    #: ISO 8601 instant up to which the chain is proven intact (None: from its first event).
    intact_until: str | None


@dataclass(frozen=True)
class SealState:
    #: Whether the seal's public key is configured (without it, seals are not checked).
    configured: bool
    stored: int = 0
    verified: int = 0
    latest: int | None = None
    #: The first failure, as ``idp audit verify --checkpoint`` words it, and its kind, chain and seq.
    failure: dict[str, Any] | None = None
    failures: int = 0


@dataclass(frozen=True)
class VerificationResult:
    checked_at: str
    seconds: float
    events: int
    chains: int
    problem: ChainProblem | None
    other_damaged_chains: tuple[int, ...]
    seals: SealState = field(default_factory=lambda: SealState(configured=False))

    @property
    def ok(self) -> bool:
        return self.problem is None and self.seals.failure is None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VerificationResult:
        data = json.loads(text)
        problem = ChainProblem(**data["problem"]) if data.get("problem") else None
        return cls(
            checked_at=data["checked_at"],
            seconds=data["seconds"],
            events=data["events"],
            chains=data["chains"],
            problem=problem,
            other_damaged_chains=tuple(data["other_damaged_chains"]),
            seals=SealState(**data["seals"]),
        )


#: Key of the last result in the console's ephemeral store, and how long it is kept there.
RESULT_KEY = "verification"
RESULT_TTL = 90 * 24 * 3600


def last_result() -> VerificationResult | None:
    """The last verification result any process of the console obtained (None: never verified, or long ago)."""
    raw = get_store().get(RESULT_KEY)
    return VerificationResult.from_json(raw) if raw else None


def keep(result: VerificationResult) -> None:
    """Keep ``result`` as the last one, for every process of the console."""
    get_store().set(RESULT_KEY, result.to_json(), RESULT_TTL)


def _seal_state(engine: Engine, public_key_pem: str | None, issuer: str) -> SealState:
    if not public_key_pem:
        return SealState(configured=False)
    try:
        public_key = parse_public_key(public_key_pem)
    except SealKeyError as exc:
        return SealState(
            configured=True,
            failure={
                "kind": "key",
                "detail": f"seal public key unusable: {exc}",
                "chain": None,
                "seq": None,
                "counter": None,
            },
            failures=1,
        )
    documents = stored_documents(engine)
    report = verify_checkpoints(
        engine, [(f"seal {counter}", text) for counter, text in documents], public_key, issuer=issuer
    )
    first = report.first_failure
    failure = (
        None
        if first is None
        else {
            "kind": str(first.kind),
            "detail": str(first),
            "chain": first.chain,
            "seq": first.seq,
            "counter": first.counter,
        }
    )
    return SealState(
        configured=True,
        stored=len(documents),
        verified=report.verified,
        latest=report.latest,
        failure=failure,
        failures=len(report.failures),
    )


def run(engine: Engine, *, public_key_pem: str | None, issuer: str) -> VerificationResult:
    """Verify the log now (reads only)."""
    started = time.perf_counter()
    report = verify(engine, event_types=_EveryType())
    first = report.first_problem
    problem = (
        None
        if first is None
        else ChainProblem(
            kind=str(first.kind),
            event_id=first.event_id,
            chain=first.chain,
            seq=first.seq,
            detail=first.detail,
            intact_until=format_instant(first.intact_until) if first.intact_until else None,
        )
    )
    seals = _seal_state(engine, public_key_pem, issuer)
    return VerificationResult(
        checked_at=format_instant(utcnow()),
        seconds=round(time.perf_counter() - started, 3),
        events=report.events,
        chains=report.chains,
        problem=problem,
        other_damaged_chains=tuple(p.chain for p in report.problems[1:]),
        seals=seals,
    )
