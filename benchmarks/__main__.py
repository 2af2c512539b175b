"""``python -m benchmarks`` (``make bench``): every benchmark, one after the other, in a quick mode; their figures.

Each benchmark runs in its own interpreter (as ``python -m benchmarks.<name>``), so that one's state (loggers,
engines, servers) cannot colour the next one's figures, and a failure names the benchmark that failed. The sizes
here are small, for a run of a few minutes; each benchmark's own command line takes the full sizes (see its
docstring). ``--smoke`` runs them with tiny sizes, only to show that they still run (tests/benchmarks/test_smoke.py).

    .venv/bin/python -m benchmarks [--smoke] [--only NAME ...] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

#: Seconds a benchmark may take before it is stopped (a hung server must not hang ``make bench``).
TIMEOUT = {"quick": 900, "smoke": 120}


@dataclass(frozen=True)
class Benchmark:
    name: str
    quick: list[str]
    smoke: list[str]
    #: Which of ``--postgres``/``--redis`` the benchmark accepts.
    postgres: bool = True
    redis: bool = False


BENCHMARKS = [
    Benchmark("login_timing", ["--rounds", "10"], ["--rounds", "2"], postgres=False),
    Benchmark(
        "audit_append",
        ["--duration", "1", "--threads", "1,4,16", "--chains", "1,16"],
        ["--duration", "0.1", "--threads", "1,2", "--chains", "1"],
    ),
    Benchmark("import_voters", ["--rows", "20000", "--no-tracemalloc"], ["--rows", "50", "--no-tracemalloc"]),
    Benchmark(
        "vote_codes", ["--voters", "5000", "--compare", "1000"], ["--voters", "20", "--compare", "0", "--skip-pdf"]
    ),
    Benchmark("portal_ballot", ["--voters", "500"], ["--voters", "10"]),
    Benchmark(
        "voter_journey",
        ["--concurrency", "4,16", "--duration", "10", "--rush", "64", "--steps", "2"],
        ["--smoke"],
    ),
    Benchmark("journey_floor", ["--concurrency", "4,16", "--duration", "10"], ["--smoke"]),
    Benchmark(
        "waiting_room_rush",
        ["--voters", "64", "--capacity", "8"],
        ["--voters", "5", "--capacity", "2", "--workers", "1", "--threads", "2", "--no-compare", "--no-background"],
    ),
    Benchmark("captcha_legibility", ["--images", "20"], ["--images", "1"], postgres=False),
    Benchmark(
        "ballot_crypto",
        ["--seconds", "2", "--browser-runs", "6", "--primitives", "0.2"],
        ["--lists", "1,2", "--seconds", "0.05", "--browser-lists", "2", "--browser-runs", "2", "--primitives", "0.005"],
        postgres=False,
    ),
    Benchmark("ballot_tally", ["--ballots", "20000"], ["--ballots", "60", "--lists", "2"]),
    Benchmark(
        "oidc_throughput",
        ["--duration", "3"],
        [
            "--duration",
            "0.15",
            "--warmup",
            "0",
            "--connections",
            "2",
            "--loadgen",
            "python",
            "--workers",
            "1",
            "--threads",
            "2",
            "--signin-concurrency",
            "1",
            "--floor-seconds",
            "0.05",
        ],
        redis=True,
    ),
    Benchmark(
        "operations",
        ["--voters", "100000", "--ballots", "40000", "--events", "200000", "--repeat", "3"],
        ["--voters", "300", "--ballots", "100", "--events", "500", "--repeat", "1"],
    ),
    Benchmark(
        "replication", ["--writes", "2000", "--commits", "500"], ["--writes", "50", "--commits", "20"], postgres=False
    ),
    Benchmark("metrics_overhead", ["--requests", "20000"], ["--requests", "200", "--rounds", "1"], postgres=False),
]


def command(benchmark: Benchmark, args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", f"benchmarks.{benchmark.name}"]
    argv += benchmark.smoke if args.smoke else benchmark.quick
    if args.postgres and benchmark.postgres:
        argv += ["--postgres", args.postgres]
        if args.redis and benchmark.redis:
            argv += ["--redis", args.redis]
    return argv


def run(benchmark: Benchmark, argv: list[str], timeout: float) -> int:
    """Run one benchmark; on timeout or Ctrl-C it gets SIGTERM and time to stop its servers, then SIGKILL."""
    process = subprocess.Popen(argv)
    try:
        return process.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that every benchmark still runs")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="run only these")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also on PostgreSQL (a server URL; each benchmark creates a scratch database there and drops it)",
    )
    parser.add_argument("--redis", metavar="URL", help="with --postgres: Redis for the IdP's ephemeral store")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick"
    failed = []
    started = time.perf_counter()
    for benchmark in BENCHMARKS:
        if args.only and benchmark.name not in args.only:
            continue
        argv_ = command(benchmark, args)
        print(f"\n=== {benchmark.name} ({mode}): {' '.join(argv_[1:])}", flush=True)
        begun = time.perf_counter()
        try:
            code = run(benchmark, argv_, TIMEOUT[mode])
        except subprocess.TimeoutExpired:
            code = -1
            print(f"=== {benchmark.name}: stopped after {TIMEOUT[mode]} s", flush=True)
        if code != 0:
            failed.append(benchmark.name)
        print(
            f"=== {benchmark.name}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.perf_counter() - begun:.1f} s",
            flush=True,
        )
    print(
        f"\n{len(failed) or 'no'} benchmark(s) failed{': ' + ', '.join(failed) if failed else ''}; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
