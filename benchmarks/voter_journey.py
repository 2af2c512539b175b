"""Complete voter journeys over real HTTP against the suite in its production shape: the unit of election day.

The suite runs as :mod:`benchmarks.suite_servers` starts it (IdP and portal under the chosen web server with
several workers, the background workers running, production argon2id, the fixed CAPTCHA of tests); the journeys are
the seed's, click by click, as :mod:`benchmarks.journey_load` drives them. For each concurrency (closed loop: as a
voter finishes, the next one starts, for ``--duration`` seconds) and for the rush (``--rush N`` voters arriving at the
same instant, one journey each) it prints:

- journeys per second; journey and request latency p50 / p95 / p99 (and the slowest request);
- server CPU per journey, by process role (IdP, portal, PostgreSQL, Redis, background workers; from
  ``/proc/<pid>/task/*/schedstat``), and the total's ratio to **one argon2id verification** measured in this run at
  the production parameters (CPU time of one thread);
- PostgreSQL statements (``pg_stat_statements``, with ``--postgres private``) and Redis commands per journey;
- errors by kind (none expected);
then checks that every receipt a voter was shown is in the ballot box exactly once and that each of those voters
has exactly one émargement (and as many ballots as émargements), and prints the peak memory of every process.

``--steps`` runs journeys one at a time, after the load levels (every server thread warm), and prints the CPU each
step costs each process (where the time goes). ``--perf`` samples the whole machine with ``perf record -a`` during
the first level and prints each process's CPU per journey by kind of code: the Python interpreter, argon2id, the
kernel, libc, granian, PostgreSQL, Redis, other native code (:mod:`benchmarks.perf_split`).

    .venv/bin/python -m benchmarks.voter_journey                      # SQLite
    .venv/bin/python -m benchmarks.voter_journey --postgres private   # PostgreSQL cluster + Redis of the run's own
    .venv/bin/python -m benchmarks.voter_journey --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    options: --concurrency 4,16,64 --duration 30 --rush 256 --server gthread|granian --workers N (one per core)
             --threads 4 --steps 5 --warm-up 10 --keep-logs DIR --profile DIR (py-spy) --perf --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from argon2 import PasswordHasher

from benchmarks import journey_load, perf_split, profiles, suite_servers, web_servers
from benchmarks.journey_load import Recorder, Voter

WEB_ROLES = ("idp", "portal")
WORKER_ROLES = ("idp-worker", "idp-logouts", "portal-worker", "portal-mixer")


def argon2_cpu_seconds(seconds: float) -> float:
    """CPU seconds of one argon2id verification at the IdP's production parameters (one thread, this process)."""
    from idp.config import DEFAULTS

    hasher = PasswordHasher(
        time_cost=DEFAULTS["ARGON2_TIME_COST"],
        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
        parallelism=DEFAULTS["ARGON2_PARALLELISM"],
    )
    stored = hasher.hash(suite_servers.PASSWORD)
    hasher.verify(stored, suite_servers.PASSWORD)
    count, started, wall = 0, time.thread_time(), time.monotonic()
    while count < 3 or time.monotonic() - wall < seconds:
        hasher.verify(stored, suite_servers.PASSWORD)
        count += 1
    return (time.thread_time() - started) / count


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


class Run:
    """One measured run: the recorder, the CPU used by each role, statements and Redis commands."""

    def __init__(self, label: str, recorder: Recorder, usage: suite_servers.Usage, statements: int, commands: int):
        self.label = label
        self.recorder = recorder
        self.usage = usage
        self.statements = statements
        self.commands = commands


def measured(deployment: suite_servers.Deployment, label: str, **drive: object) -> Run:
    usage = suite_servers.Usage(deployment.roles)
    store = deployment.storage
    if store.reset_statements:
        store.reset_statements()
    if store.redis_url:
        suite_servers.reset_redis_stats(store.redis_url)
    usage.start()
    recorder = asyncio.run(journey_load.drive(deployment.target(), **drive))  # type: ignore[arg-type]
    usage.stop()
    statements = sum(store.statements().values()) if store.statements else 0
    commands = suite_servers.redis_commands(store.redis_url) if store.redis_url else 0
    return Run(label, recorder, usage, statements, commands)


def report(run: Run, argon2: float) -> None:
    rec = run.recorder
    s = rec.summary()
    done = int(s["journeys"])
    print(
        f"\n{run.label}: {done} journeys in {rec.seconds:.1f} s = {s['journeys_per_second']:.2f}/s; "
        f"{s['requests_per_journey']:.0f} requests each; failed {int(s['failed'])}"
    )
    print(
        f"  journey  p50 {s['journey_p50']:.2f} s  p95 {s['journey_p95']:.2f} s  p99 {s['journey_p99']:.2f} s"
        + (f"  (waiting room: p50 {s['waited_p50']:.1f} s, max {s['waited_max']:.1f} s)" if s["waited_max"] else "")
    )
    print(
        f"  request  p50 {s['request_p50'] * 1000:.0f} ms  p95 {s['request_p95'] * 1000:.0f} ms  "
        f"p99 {s['request_p99'] * 1000:.0f} ms  max {s['request_max'] * 1000:.0f} ms"
    )
    if not done:
        print(f"  errors: {dict(rec.errors_by_kind())}")
        return
    roles = sorted(run.usage.after)
    per = {role: run.usage.seconds(role) / done for role in roles}
    web = sum(per.get(r, 0.0) for r in (*WEB_ROLES, "postgresql", "redis"))
    workers = sum(per.get(r, 0.0) for r in WORKER_ROLES)
    cells = "  ".join(f"{role} {per[role] * 1000:.1f}" for role in roles if role not in WORKER_ROLES)
    print(f"  server CPU per journey (ms): {cells}")
    print(
        f"  server CPU per journey {web * 1000:.1f} ms = {web / argon2:.2f} × argon2id "
        f"(+ background workers {workers * 1000:.1f} ms)"
    )
    if run.statements or run.commands:
        print(f"  per journey: {run.statements / done:.1f} SQL statements, {run.commands / done:.1f} Redis commands")
    errors = rec.errors_by_kind()
    print(f"  errors by kind: {dict(errors) if errors else 'none'}")


def report_perf(run: Run, samples: dict[str, Counter[str]]) -> None:
    """The first level's CPU per journey by process and kind of code (``--perf``), printed before its report."""
    done = int(run.recorder.summary()["journeys"])
    roles = (*WEB_ROLES, "postgresql", "redis")
    cpu = {role: run.usage.seconds(role) / done for role in roles if done and role in run.usage.after}
    seconds = perf_split.per_journey({role: samples[role] for role in roles if role in samples}, cpu)
    counted = sum(sum(counter.values()) for counter in samples.values())
    print(f"\n{run.label}, where the CPU went (perf record -a, {counted} samples of the suite's processes):")
    print("\n".join(perf_split.table(seconds)))


def report_steps(recorder: Recorder, argon2: float) -> None:
    steps = recorder.step_cpu()
    roles = sorted({role for cpu in steps.values() for role in cpu if role not in WORKER_ROLES})
    print("\nCPU per step, one journey at a time (ms; mean over the journeys):")
    print(f"  {'step':<28}" + "".join(f"{role:>11}" for role in roles) + f"{'total':>9}{'× argon2':>10}")
    totals = dict.fromkeys(roles, 0.0)
    for step in journey_load.STEPS:
        cpu = steps.get(step)
        if cpu is None:
            continue
        total = sum(cpu.get(r, 0.0) for r in roles)
        for role in roles:
            totals[role] += cpu.get(role, 0.0)
        cells = "".join(f"{cpu.get(role, 0.0) * 1000:11.2f}" for role in roles)
        print(f"  {step:<28}{cells}{total * 1000:9.2f}{total / argon2:10.2f}")
    grand = sum(totals.values())
    cells = "".join(f"{totals[role] * 1000:11.2f}" for role in roles)
    print(f"  {'journey':<28}{cells}{grand * 1000:9.2f}{grand / argon2:10.2f}")


def report_memory(usage: suite_servers.Usage) -> None:
    print("\npeak resident memory (VmHWM) of every process:")
    for role, peaks in sorted(usage.peaks.items()):
        values = ", ".join(f"{kib / 1024:.0f}" for kib in sorted(peaks.values(), reverse=True))
        print(f"  {role:<14} {len(peaks)} process(es), MiB: {values}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres", help="'private' (a cluster of the run's own) or a PostgreSQL server URL")
    parser.add_argument("--concurrency", default="4,16,64", help="comma-separated voters in flight (default 4,16,64)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per concurrency (default 30)")
    parser.add_argument("--rush", type=int, default=256, help="voters arriving at once, one journey each (0: none)")
    parser.add_argument("--steps", type=int, default=3, help="journeys one at a time for the CPU per step (0: none)")
    parser.add_argument("--server", choices=sorted(web_servers.SERVERS), default="granian")
    web_servers.add_size_arguments(parser)
    parser.add_argument("--voters", type=int, help="voters to provision (default: enough for the run)")
    parser.add_argument("--argon2-seconds", type=float, default=2.0)
    parser.add_argument(
        "--warm-up",
        type=float,
        default=10.0,
        help="seconds of journeys, not measured, with every server thread busy, before the levels (default 10)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the servers' logs there at the end")
    parser.add_argument("--profile", type=Path, help="py-spy profiles of the web servers during the first level")
    parser.add_argument(
        "--perf", action="store_true", help="perf record -a during the first level: CPU per journey by kind of code"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the benchmark runs")
    args = parser.parse_args(argv)
    if args.perf and (why := perf_split.available()):
        print(f"--perf: {why}; left out", flush=True)
        args.perf = False
    if args.smoke:
        args.concurrency, args.duration, args.rush, args.steps = "2", 1.0, 3, 1
        args.workers, args.threads, args.argon2_seconds, args.warm_up = 1, 2, 0.05, 0.5
    suite_servers.stop_signal_handlers()
    levels = [int(c) for c in args.concurrency.split(",") if c]
    # As many voters in flight as the IdP and the portal have threads: each thread's first requests (templates,
    # prepared statements, argon2id's first arena) are paid here, not in the first level's figures.
    warm_concurrency = args.workers * args.threads
    # Generous: 30 journeys per second per level at most on this machine (22 measured when it is idle), plus the
    # warm-up, rush and steps, whose voters are set aside first (a fast level must not leave them none).
    voters_needed = args.voters or (
        sum(max(4 * c, int(30 * args.duration)) for c in levels)
        + max(4 * warm_concurrency, int(30 * args.warm_up))
        + args.rush
        + args.steps
        + 10
    )
    print(f"voter_journey: {machine_load()}; provisioning {voters_needed} voters", flush=True)
    argon2 = argon2_cpu_seconds(args.argon2_seconds)
    print(f"one argon2id verification (production parameters): {argon2 * 1000:.1f} ms CPU", flush=True)
    started = time.monotonic()
    with suite_servers.deployment(
        postgres=args.postgres,
        voters=voters_needed,
        server=args.server,
        workers=args.workers,
        threads=args.threads,
        keep_logs=args.keep_logs,
    ) as deployment:
        print(
            f"{deployment.storage.label}, {deployment.server.name}, {args.workers} workers × {args.threads} threads "
            f"(IdP and portal each); provisioned in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        voters = list(deployment.voters)
        step_voters: Iterator[Voter] = iter(voters[: args.steps])
        rush_voters: Iterator[Voter] = iter(voters[args.steps : args.steps + args.rush])
        feed: Iterator[Voter] = iter(voters[args.steps + args.rush :])
        # Warm-up, not measured: every worker imports, connects and compiles its templates, every thread serves. A
        # warm-up of a few journeys left some processes cold, so that more workers looked costlier in the first level.
        warm = measured(deployment, "warm-up", voters=feed, concurrency=warm_concurrency, duration=args.warm_up)
        if warm.recorder.errors_by_kind():
            print(f"warm-up errors: {dict(warm.recorder.errors_by_kind())}")
        runs: list[Run] = []
        last_usage = warm.usage
        receipts: dict[str, str] = dict(warm.recorder.receipts())
        for index, level in enumerate(levels):
            with contextlib.ExitStack() as profiling:
                if args.profile and index == 0:
                    pids = {role: deployment.processes[role].pid for role in WEB_ROLES}
                    profiling.enter_context(profiles.recording(pids, args.profile))
                if args.perf and index == 0:
                    scratch = Path(tempfile.mkdtemp(prefix="journey-perf-"))
                    profiling.enter_context(perf_split.recording(scratch / "perf.data"))
                run = measured(
                    deployment, f"{level} voters in flight", voters=feed, concurrency=level, duration=args.duration
                )
                if args.perf and index == 0:
                    roles = deployment.roles()
                    profiling.close()  # perf stopped and its file written, before it is read
                    report_perf(run, perf_split.split(scratch / "perf.data", roles))
                    shutil.rmtree(scratch, ignore_errors=True)
            runs.append(run)
            report(run, argon2)
            last_usage = run.usage
            if args.profile and index == 0:
                for role in WEB_ROLES:
                    print(f"\nprofile of {role} ({args.profile / f'{role}.txt'}):")
                    print("\n".join(profiles.summarise(args.profile / f"{role}.txt")))
        if args.steps:
            # After the load levels: every server thread has served each step before. A thread's first argon2id
            # verification faults in the 19 MiB it works in (about 10 ms of kernel time here), once per thread for
            # the life of the process; measured right after the warm-up, that once-only cost showed in the step.
            probe_roles = deployment.roles
            # Each role's CPU seconds so far, counted thread by thread from one reading to the next: a thread that
            # ends between two readings (granian ends idle threads) would make a difference of sums negative.
            last: dict[str, dict[int, int]] = {}
            total: dict[str, float] = {}

            def probe() -> dict[str, float]:
                for role, pids in probe_roles().items():
                    now = {tid: ns for pid in pids for tid, ns in suite_servers.task_cpu_ns(pid).items()}
                    before = last.get(role, {})
                    total[role] = total.get(role, 0.0) + sum(ns - before.get(t, 0) for t, ns in now.items()) / 1e9
                    last[role] = now
                return dict(total)

            steps = asyncio.run(
                journey_load.drive(deployment.target(), step_voters, concurrency=1, journeys=args.steps, probe=probe)
            )
            report_steps(steps, argon2)
            receipts.update(steps.receipts())
        if args.rush:
            run = measured(
                deployment,
                f"rush: {args.rush} voters at once",
                voters=rush_voters,
                concurrency=args.rush,
                arrival="rush",
            )
            runs.append(run)
            report(run, argon2)
            last_usage = run.usage
        for run in runs:
            receipts.update(run.recorder.receipts())
        problems = deployment.check_ballot_box(receipts)
        print(
            f"\nballot box: {len(receipts)} receipts shown, each in the box once, one émargement per voter: "
            + ("ok" if not problems else "PROBLEMS")
        )
        for problem in problems[:20]:
            print(f"  {problem}")
        report_memory(last_usage)
        print(f"\n{machine_load()}; argon2id re-measured: {argon2_cpu_seconds(args.argon2_seconds) * 1000:.1f} ms CPU")
        failed = sum(int(r.recorder.summary()["failed"]) for r in runs)
        suite_servers.terminate_all(deployment)
        return 1 if problems or (args.smoke and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
