"""The audit log verified over and over, for Prometheus (``idp audit verify --every``, ``portal audit verify --every``).

The log's format and its verification live in ``hashchain``; this module only repeats a verification the application
hands it and publishes the outcome as metrics, so ``hashchain`` keeps needing nothing but SQLAlchemy and click.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from infra import metrics
from infra.worker import run_until_stopped

logger = logging.getLogger(__name__)


class Problem(Protocol):
    """The first problem a verification found: only its chain is published (in a log line, never a label)."""

    @property
    def chain(self) -> int: ...


class Verification(Protocol):
    """What a verification reports (``hashchain.verify.VerifyReport`` fits)."""

    @property
    def ok(self) -> bool: ...

    @property
    def events(self) -> int: ...

    @property
    def first_problem(self) -> Problem | None: ...


def verify_every(
    app: str, every: float, verify: Callable[[], Verification], *, metrics_port: int, metrics_bind: str
) -> None:
    """Verify the log every ``every`` seconds until SIGTERM or SIGINT, for Prometheus: each round sets
    ``elections_audit_log_intact`` (1 or 0), ``elections_audit_log_events_verified`` and, when intact,
    ``elections_audit_log_verified_timestamp_seconds`` of ``app``, served on ``metrics_port``. A damaged log is one
    error line naming the first problem's chain (what ``verify`` prints, for the operator to run by hand)."""

    def round_(_stop: object) -> int:
        report = verify()
        metrics.AUDIT_INTACT.labels(app).set(1 if report.ok else 0)
        metrics.AUDIT_EVENTS_VERIFIED.labels(app).set(report.events)
        problem = report.first_problem
        if problem is None:
            metrics.AUDIT_VERIFIED_AT.labels(app).set_to_current_time()
        else:
            logger.error("%s audit log damaged: chain %s (run '%s audit verify')", app, problem.chain, app)
        return report.events

    metrics.serve(metrics_port, metrics_bind)
    run_until_stopped(round_, name=f"{app} audit verifier", every=every, job=f"{app}_audit_verify")
