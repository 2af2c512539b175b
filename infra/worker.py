"""The loop of every background worker (delivery, back-channel logout, the portal's mail, the ballot box's mixing):
do a round, wait, do the next — and never die of an error.

A worker that exits on the first database error stays dead until someone notices; on election day a PostgreSQL
restart or a Redis failover must cost a worker a few seconds, not its life. So a failed round is logged (one line:
the error's type and where it was raised, never its text, which may quote an address or a link), the worker waits
a bounded backoff (:data:`FIRST_BACKOFF` doubled per failed round, at most :data:`MAX_BACKOFF`), and tries again;
the first round that succeeds says how long it was down. An outage (:func:`infra.unavailable.is_unavailable`) is
a warning; anything else is an error, for it may be a bug, but the loop goes on all the same: a worker restarted by
its supervisor would meet the same error.

SIGTERM and SIGINT end the loop after the current round (a round may watch the ``stop`` event it is given to end
earlier, between two messages say).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from infra import metrics
from infra.logs import FIELDS
from infra.sqltypes import utcnow
from infra.unavailable import dependency_of, is_unavailable

logger = logging.getLogger(__name__)
#: One line per round that did something or failed (:func:`log_round`).
jobs_logger = logging.getLogger("elections.job")

T = TypeVar("T")

#: Seconds before the first retry of a failed round; doubled per failed round.
FIRST_BACKOFF = 0.5
#: Longest wait after a failed round: a worker is back at work within this long of its dependency's return.
MAX_BACKOFF = 5.0


def backoff(failures: int, *, first: float = FIRST_BACKOFF, longest: float = MAX_BACKOFF) -> float:
    """Seconds to wait after ``failures`` failed rounds in a row (1, 2, …)."""
    return float(min(longest, first * 2 ** max(failures - 1, 0)))


def where(error: BaseException) -> str:
    """``module.py:123 in function`` of the innermost frame: enough to find a bug, without the error's text."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


def run_until_stopped(
    step: Callable[[threading.Event], object],
    *,
    name: str,
    every: float,
    stop: threading.Event | None = None,
    longest_backoff: float = MAX_BACKOFF,
    job: str | None = None,
) -> None:
    """Call ``step(stop)`` every ``every`` seconds until SIGTERM or SIGINT (or ``stop`` is set), surviving every
    error of a round (see the module's docstring).

    Each round is counted under the ``job`` label (default: ``name`` in snake case) of ``elections_job_runs_total``
    and ``elections_job_duration_seconds``; a round that handled something (``step`` returned a count above 0) or
    failed writes one structured line (:func:`log_round`).
    """
    stop = stop or threading.Event()
    job = job or name.replace(" ", "_")
    restore = stop_on_signals(stop, name)
    failures = 0
    down_since = 0.0
    logger.info("%s: started (every %s s)", name, every)
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = step(stop)
            except Exception as exc:  # a worker never dies of a round's error; logged below
                dependency = dependency_of(exc)
                log_round(job, "unavailable" if dependency else "failed", time.monotonic() - started, error=exc)
                if dependency:
                    metrics.record_dependency_error(dependency, app=job)
                if failures == 0:
                    down_since = time.monotonic()
                failures += 1
                delay = backoff(failures, longest=longest_backoff)
                if dependency:
                    logger.warning(
                        "%s: round failed, dependency unavailable (%s); next try in %.1f s",
                        name,
                        type(exc).__name__,
                        delay,
                    )
                else:
                    logger.error(
                        "%s: round failed (%s at %s); next try in %.1f s", name, type(exc).__name__, where(exc), delay
                    )
                stop.wait(delay)
                continue
            log_round(job, "ok", time.monotonic() - started, handled=result if isinstance(result, int) else None)
            if failures:
                logger.info(
                    "%s: working again after %s failed round(s), %.1f s", name, failures, time.monotonic() - down_since
                )
                failures = 0
            stop.wait(every)
        logger.info("%s: stopped", name)
    finally:
        restore()


def log_round(
    job: str, outcome: str, duration: float, *, handled: int | None = None, error: BaseException | None = None
) -> None:
    """Count a round of ``job`` and, unless it was an idle success, write its structured line: the job, outcome
    (``ok``, ``unavailable``, ``failed``), duration, what it handled, the error's type (never its text)."""
    metrics.JOB_RUNS.labels(job, outcome).inc()
    metrics.JOB_DURATION.labels(job).observe(duration)
    if outcome == "ok" and not handled:
        return
    fields: dict[str, object] = {
        "event": "job",
        "job": job,
        "outcome": outcome,
        "duration_ms": round(duration * 1000, 1),
    }
    if handled is not None:
        fields["handled"] = handled
    if error is not None:
        fields["error"] = type(error).__name__
        fields["where"] = where(error)
    jobs_logger.info("%s: round %s", job, outcome, extra={FIELDS: fields})


def retry_while_unavailable(
    operation: Callable[[], T], *, until: float, stop: threading.Event | None = None, what: str = "operation"
) -> T:
    """Run ``operation``; while it fails with an outage, try again (bounded backoff) until the monotonic time
    ``until``, then raise the last error.

    For what must not be lost to a short outage once done elsewhere: the outcome of a message already handed to the
    SMTP relay, say, which would otherwise be sent again when its lease expires.
    """
    failures = 0
    while True:
        try:
            return operation()
        except Exception as exc:
            failures += 1
            delay = backoff(failures)
            if not is_unavailable(exc) or time.monotonic() + delay > until or (stop is not None and stop.is_set()):
                raise
            logger.warning("%s: dependency unavailable (%s); retrying in %.1f s", what, type(exc).__name__, delay)
            time.sleep(delay)


def stop_on_signals(stop: threading.Event, name: str) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``stop``; return what puts the previous handlers back (a no-op outside the main
    thread, where handlers cannot be set: tests run loops in threads)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def _handler(signum: int, frame: FrameType | None) -> None:
        logger.info("%s: %s received, stopping after the current round", name, signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return _restore


Claimed = TypeVar("Claimed")


def drain(
    claim: Callable[[dt.datetime], Claimed | None],
    deliver: Callable[[Claimed], object],
    stop: threading.Event | None = None,
) -> int:
    """One round of a queue worker: claim and deliver every item due when the round started, each at most once,
    until none is left or ``stop`` is set; how many were handled.

    Items queued or rescheduled during the round are due after its start, so they wait for the next round: that
    bounds the work of one round. ``claim(due_before)`` leases one item (None when none is left).
    """
    started = utcnow()
    handled = 0
    while stop is None or not stop.is_set():
        claimed = claim(started)
        if claimed is None:
            break
        deliver(claimed)
        handled += 1
    return handled
