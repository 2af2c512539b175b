"""Where a run's CPU goes, machine-wide: ``perf record -a`` samples split by process role and by the code they fell in.

The journey benchmark reads each process's CPU time; this says what kind of code spent it: the CPython interpreter
running the apps' Python, argon2id, the kernel (sockets, futexes, page faults), libc (malloc, memcpy), granian's Rust,
other native libraries (Pillow, psycopg, cryptography, libdecaf…), PostgreSQL, Redis. ``perf record -a -F 997``
samples every CPU at a fixed frequency while it runs something, so a process's samples are proportional to its CPU
time; each role's samples by kind of code, scaled to that role's CPU per journey, give milliseconds per journey.

Needs Linux's ``perf`` (Debian's package ``linux-perf``) and the right to sample every CPU (root, or
``kernel.perf_event_paranoid`` ≤ 0). Interpreted frames are not told apart (Python 3.11 has no perf trampolines):
where in the Python the time goes is :mod:`benchmarks.profiles`' job (py-spy) and cProfile's.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

#: Kinds of code, in the order printed, each with the test on a shared object's file name (``[kernel.kallsyms]`` for
#: the kernel); the first that matches wins, and anything else is "other native code".
KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Python interpreter", re.compile(r"^libpython3|^python3(\.\d+)?$")),
    ("argon2id (argon2-cffi)", re.compile(r"^_ffi\.abi3\.so$")),
    ("kernel", re.compile(r"^\[kernel")),
    ("libc", re.compile(r"^libc\.so|^libm\.so|^ld-linux")),
    ("granian (Rust)", re.compile(r"^_granian")),
    ("PostgreSQL", re.compile(r"^postgres$")),
    ("Redis", re.compile(r"^redis-server$|^redis-check-|^libjemalloc")),
)
OTHER = "other native code"

_LINE = re.compile(r"^\s*(\d+)\s+[0-9a-f]+\s+\((.*)\)\s*$")


def available() -> str | None:
    """None when ``perf`` can sample every CPU here; otherwise why not (a sentence)."""
    if shutil.which("perf") is None:
        return "perf is not installed (apt-get install linux-perf)"
    try:
        paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text().strip())
    except (OSError, ValueError):
        paranoid = 2
    if os.geteuid() != 0 and paranoid > 0:
        return f"perf cannot sample every CPU as this user (kernel.perf_event_paranoid = {paranoid})"
    return None


@contextlib.contextmanager
def recording(output: Path, frequency: int = 997) -> Iterator[None]:
    """``perf record -a`` into ``output`` for as long as the block runs."""
    process = subprocess.Popen(
        ["perf", "record", "-a", "-F", str(frequency), "-o", str(output), "--", "sleep", "86400"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # perf stops sampling and writes its file
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kind(shared_object: str) -> str:
    """The kind of code of a sample that fell in ``shared_object`` (a path, or ``[kernel.kallsyms]``)."""
    name = shared_object.rsplit("/", 1)[-1]
    for label, pattern in KINDS:
        if pattern.search(name):
            return label
    return OTHER


def split_lines(lines: Iterable[str], roles: Mapping[str, Iterable[int]]) -> dict[str, Counter[str]]:
    """Samples of ``perf script -F pid,ip,dso`` lines by role (its processes' ids) and kind of code; samples of
    other processes are left out."""
    role_of = {pid: role for role, pids in roles.items() for pid in pids}
    found: dict[str, Counter[str]] = {}
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        role = role_of.get(int(match.group(1)))
        if role is not None:
            found.setdefault(role, Counter())[kind(match.group(2))] += 1
    return found


def split(recorded: Path, roles: Mapping[str, Iterable[int]]) -> dict[str, Counter[str]]:
    """:func:`split_lines` of a file written by :func:`recording`."""
    with subprocess.Popen(
        ["perf", "script", "-i", str(recorded), "-F", "pid,ip,dso"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        found = split_lines(process.stdout, roles)
    return found


def per_journey(samples: Mapping[str, Counter[str]], cpu: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Seconds per journey by role and kind of code: each role's share of its own samples times its CPU seconds per
    journey (``cpu``, measured from the processes' CPU times over the same level)."""
    result: dict[str, dict[str, float]] = {}
    for role, counter in samples.items():
        total = sum(counter.values())
        if total and role in cpu:
            result[role] = {label: cpu[role] * count / total for label, count in counter.items()}
    return result


def table(seconds: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The lines printed: one row per kind of code, one column per role, milliseconds per journey."""
    roles = sorted(seconds)
    labels = [label for label, _ in KINDS] + [OTHER]
    width = max(len(label) for label in labels) + 2
    lines = [f"  {'ms per journey':<{width}}" + "".join(f"{role:>12}" for role in roles) + f"{'total':>10}"]
    for label in labels:
        values = [seconds[role].get(label, 0.0) for role in roles]
        if sum(values) == 0:
            continue
        cells = "".join(f"{value * 1000:12.1f}" for value in values)
        lines.append(f"  {label:<{width}}{cells}{sum(values) * 1000:10.1f}")
    totals = [sum(seconds[role].values()) for role in roles]
    lines.append(f"  {'all':<{width}}" + "".join(f"{t * 1000:12.1f}" for t in totals) + f"{sum(totals) * 1000:10.1f}")
    return lines
