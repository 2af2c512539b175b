"""The opening rush with and without the waiting room « Salle d'attente », in one run.

Two deployments of the suite in its production shape (:mod:`benchmarks.suite_servers`), one after the other, the
same command line: the first without a waiting room, the second with ``PORTAL_WAITING_ROOM_CAPACITY=--capacity``.
Each gets the same rush: ``--voters`` voters arriving at the same instant, one complete journey each
(:mod:`benchmarks.journey_load`, which waits on the waiting room's page as a browser does: it asks again after the
delay of the page's meta refresh). For each it prints:

- journeys per second from the first arrival to the last receipt, and how long the rush took to clear;
- the latency of the requests of admitted voters (the waiting room's own pages apart), p50 / p99 / max, and the
  journeys' (waiting time apart) p50 / p99;
- answers 5xx, timeouts and connection errors (none expected), failed journeys by kind;
- with the waiting room: how long voters waited (p50 / max), and whether the queue drained in order: each voter's
  place never went up, places were handed out in arrival order, and no voter was let in before one with a better
  place by more than that voter's refresh interval (the driver only sees its admission when it asks again);
- the ballot-box check of :mod:`benchmarks.voter_journey` (each receipt in the box once, one émargement per voter).

    .venv/bin/python -m benchmarks.waiting_room_rush --postgres private --voters 256 --capacity 8
    options: --voters 256 --capacity 8 --workers N --threads 4 --no-compare (only the run with the room)
             --no-background (the background workers left out: nothing here reads them; the smoke run's)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from dataclasses import dataclass

from benchmarks import journey_load, suite_servers, web_servers
from benchmarks.journey_load import JourneyRecord, Recorder, percentile
from benchmarks.voter_journey import machine_load


@dataclass(frozen=True)
class Order:
    """How the queue drained, as the voters saw it."""

    queued: int
    places_went_up: int
    out_of_arrival_order: int
    overtaken: int

    @property
    def ok(self) -> bool:
        return not (self.places_went_up or self.out_of_arrival_order or self.overtaken)


def queue_order(journeys: list[JourneyRecord]) -> Order:
    queued = [j for j in journeys if j.places and j.queued_at is not None]
    went_up = sum(any(b > a for a, b in itertools.pairwise(j.places)) for j in queued)
    # Places in arrival order: sorted by when each voter first met the room, their first places only grow (voters
    # arriving within the same instant may be served by the two web processes in either order: ties allowed).
    by_arrival = sorted(queued, key=lambda j: (j.queued_at or 0.0, j.places[0]))
    out_of_order = sum(
        1
        for earlier, later in itertools.pairwise(by_arrival)
        if later.places[0] < earlier.places[0] and (later.queued_at or 0.0) - (earlier.queued_at or 0.0) > 0.5
    )
    # Overtaken: a voter let in before one that had a better first place, earlier than that voter's own refresh
    # interval can explain (the driver learns of its admission only when it asks again).
    admitted = [j for j in queued if j.admitted_at is not None]
    overtaken = 0
    for a in admitted:
        tolerance = max(a.refreshes, default=0.0) + 1.0
        overtaken += any(
            b.places[0] > a.places[0] and (b.admitted_at or 0.0) + tolerance < (a.admitted_at or 0.0) for b in admitted
        )
    return Order(len(queued), went_up, out_of_order, overtaken)


def report(label: str, recorder: Recorder) -> dict[str, float]:
    s = recorder.summary()
    statuses = recorder.statuses()
    five_xx = sum(count for status, count in statuses.items() if status >= 500)
    request_errors = recorder.request_errors()
    timeouts = request_errors.get("timeout", 0)
    connection = sum(count for kind, count in request_errors.items() if kind.startswith("connection"))
    done = int(s["journeys"])
    journey_times = [j.seconds - j.waited for j in recorder.completed()]
    print(f"\n{label}: {done} journeys, failed {int(s['failed'])}, rush cleared in {recorder.seconds:.1f} s")
    print(f"  journeys per second (first arrival to last receipt): {s['journeys_per_second']:.2f}")
    print(
        f"  admitted voters' requests: p50 {s['request_p50'] * 1000:.0f} ms  p99 {s['request_p99'] * 1000:.0f} ms  "
        f"max {s['request_max'] * 1000:.0f} ms"
    )
    print(
        f"  journeys, waiting apart: p50 {percentile(journey_times, 50):.1f} s  "
        f"p99 {percentile(journey_times, 99):.1f} s"
    )
    print(f"  answers 5xx: {five_xx}; timeouts: {timeouts}; connection errors: {connection}")
    errors = recorder.errors_by_kind()
    print(f"  failed journeys by kind: {dict(errors) if errors else 'none'}")
    waited = [j.waited for j in recorder.completed() if j.queued_at is not None]
    if waited:
        order = queue_order(recorder.journeys)
        print(
            f"  waiting room: {len(waited)} voters waited, p50 {percentile(waited, 50):.1f} s, "
            f"max {max(waited):.1f} s; pages of the room served {sum(r.waiting_room for r in recorder.requests)}"
        )
        print(
            f"  queue order: {order.queued} queued; places that went up {order.places_went_up}; places out of "
            f"arrival order {order.out_of_arrival_order}; let in before a better place {order.overtaken}: "
            + ("in order" if order.ok else "NOT IN ORDER")
        )
    return s


def rush(
    postgres: str | None, voters: int, capacity: int, workers: int, threads: int, background: bool = True
) -> tuple[Recorder, list[str]]:
    extra = {"PORTAL_WAITING_ROOM_CAPACITY": str(capacity)} if capacity else {}
    with suite_servers.deployment(
        postgres=postgres,
        voters=voters + 2 * workers,
        server="granian",
        workers=workers,
        threads=threads,
        extra_env=extra,
        background=background,
    ) as deployment:
        feed = iter(deployment.voters)
        # Warm-up, not measured: every worker imports, connects and compiles its templates (fewer voters than the
        # capacity: nobody waits).
        warm = asyncio.run(journey_load.drive(deployment.target(), feed, concurrency=2 * workers, arrival="rush"))
        recorder = asyncio.run(journey_load.drive(deployment.target(), feed, concurrency=voters, arrival="rush"))
        receipts = {**warm.receipts(), **recorder.receipts()}
        problems = deployment.check_ballot_box(receipts)
        suite_servers.terminate_all(deployment)
    return recorder, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres", help="'private' (a cluster of the run's own) or a PostgreSQL server URL")
    parser.add_argument("--voters", type=int, default=256, help="voters arriving at once (default 256)")
    parser.add_argument("--capacity", type=int, default=8, help="PORTAL_WAITING_ROOM_CAPACITY of the second run")
    web_servers.add_size_arguments(parser)
    parser.add_argument(
        "--no-compare", action="store_true", help="only the run with the waiting room (no run without it)"
    )
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="without the background workers (mail, logouts, mixer): nothing here reads them (the smoke run's)",
    )
    args = parser.parse_args(argv)
    suite_servers.stop_signal_handlers()
    print(f"waiting_room_rush: {machine_load()}; {args.voters} voters at once", flush=True)
    failed = False
    results = {}
    for capacity in (args.capacity,) if args.no_compare else (0, args.capacity):
        label = f"waiting room, capacity {capacity}" if capacity else "no waiting room"
        started = time.monotonic()
        recorder, problems = rush(
            args.postgres, args.voters, capacity, args.workers, args.threads, background=not args.no_background
        )
        results[capacity] = report(f"{label} ({time.monotonic() - started:.0f} s with provisioning)", recorder)
        print(f"  ballot box: {'ok' if not problems else problems[:5]}; {machine_load()}", flush=True)
        failed = failed or bool(problems)
    without = results[0]["journeys_per_second"] if 0 in results else 0.0
    with_room = results[args.capacity]["journeys_per_second"]
    if without:
        print(f"\njourneys per second with the waiting room / without: {with_room / without:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
