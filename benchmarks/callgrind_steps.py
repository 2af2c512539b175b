"""Instructions executed by the IdP's process in chosen steps of a sign-in, or by the portal's in chosen steps of
its own pages (callgrind): a figure a loaded machine does not change, for before/after comparisons of one step's code.

    .venv/bin/python -m benchmarks.callgrind_steps [--steps idp.password.post,idp.vote_code.post] [--journeys 3] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]
    .venv/bin/python -m benchmarks.callgrind_steps --steps portal.je_vote,portal.cast ...

It runs :mod:`benchmarks.idp_steps`' journeys (the Flask test client in one thread, argon2id at its production
parameters), or :mod:`benchmarks.portal_steps`' when every step chosen is one of the portal's pages, under
``valgrind --tool=callgrind`` with collection off, and switches it on only around each request of the chosen steps
(after three journeys that fill the caches), through callgrind's client requests compiled into a small C helper
(``gcc`` and valgrind's headers: Debian's ``valgrind`` package has both with ``gcc``). Each such request is dumped
apart; the figure is the instructions of each, in the app's process only (the test client's share of building the
request and reading the answer included, the database and Redis servers not). One argon2id verification at the
production parameters is counted the same way, to subtract from the password POST. Python's hash randomisation and
the garbage collector make the counts vary by a few per cent from one request to the next: compare ranges, not
single counts. Slow (valgrind runs the whole process about 50 times slower): minutes.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HELPER = r"""
#include <valgrind/callgrind.h>
void cg_begin(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void cg_end(const char *name) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(name); }
"""
#: Set in the child process run under valgrind: the helper's path.
_ENV = "CALLGRIND_STEPS_HELPER"
ARGON2 = "argon2id"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="idp.password.post,idp.vote_code.post", help="comma-separated steps")
    parser.add_argument("--journeys", type=int, default=3, help="measured journeys (after three to warm up)")
    parser.add_argument("--postgres", help="a scratch database on this PostgreSQL server (dropped at the end)")
    parser.add_argument("--redis", help="the ephemeral store in this Redis (a prefix of the run's own)")
    args = parser.parse_args(argv)
    if os.environ.get(_ENV):
        return _measure(args)
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        print("callgrind_steps needs valgrind and gcc (apt-get install valgrind gcc)", file=sys.stderr)
        return 2
    counts = run_collecting(["-m", "benchmarks.callgrind_steps", *(argv if argv is not None else sys.argv[1:])], _ENV)
    if isinstance(counts, int):
        return counts
    print(_format(counts))
    return 0


def run_collecting(child: list[str], env_var: str, env: dict[str, str] | None = None) -> dict[str, list[int]] | int:
    """``python *child`` run under callgrind with collection off, ``env_var`` naming the compiled helper (``cg_begin``,
    ``cg_end``) the child switches collection with: the instructions of each dumped request, by name in the order
    they ran; or the child's exit status if it failed (its output's end printed)."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        work = Path(tmp)
        (work / "helper.c").write_text(_HELPER)
        subprocess.run(
            ["gcc", "-O1", "-shared", "-fPIC", "-o", str(work / "helper.so"), str(work / "helper.c")], check=True
        )
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--callgrind-out-file={work / 'cg.out'}",
            sys.executable,
            *child,
        ]
        run = subprocess.run(
            command,
            env={**os.environ, **(env or {}), env_var: str(work / "helper.so")},
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            print(run.stdout[-4000:], run.stderr[-4000:], sep="\n", file=sys.stderr)
            return run.returncode
        return read_counts(work)


def read_counts(work: Path) -> dict[str, list[int]]:
    """The instructions of each request dumped in ``work``, by the name it was dumped under, in the order they ran."""
    counts: dict[str, list[int]] = {}
    for dump in sorted(work.glob("cg.out.*"), key=lambda p: int(p.suffix[1:])):
        text = dump.read_text(errors="replace")
        name = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if name and total:
            counts.setdefault(name.group(1).strip(), []).append(int(total.group(1)))
    return counts


def _summary(work: Path) -> str:
    """Millions of instructions per dumped request, grouped by step, in the order they ran."""
    return _format(read_counts(work))


def _format(counts: dict[str, list[int]]) -> str:
    argon2 = counts.pop(ARGON2, [0])[0]
    lines = [f"one {ARGON2} verification: {argon2 / 1e6:.2f} M instructions"] if argon2 else []
    for step, values in counts.items():
        shown = " ".join(f"{v / 1e6:.2f}" for v in values)
        lines.append(f"{step}: {shown} M instructions ({len(values)} requests)")
        if step == "idp.password.post" and argon2:
            lines.append(f"  less one {ARGON2}: " + " ".join(f"{(v - argon2) / 1e6:.2f}" for v in values))
    return "\n".join(lines)


def _measure(args: argparse.Namespace) -> int:
    """In the process run by valgrind: the journeys, collection switched on around the chosen steps."""
    from benchmarks import idp_steps, portal_steps

    helper = ctypes.CDLL(os.environ[_ENV])
    chosen = set(args.steps.split(","))
    portal = all(name.startswith("portal.") for name in chosen)
    probe = portal_steps.Probe if portal else idp_steps.Probe
    last = "portal.receipt" if portal else "idp.vote_code.post"  # a journey's last step
    journeys_done = {"n": 0}
    step = probe.step

    def counted(self: Any, name: str, request: Callable[[], Any], status: Any = None) -> Any:
        if name not in chosen or journeys_done["n"] < 3:
            if name == last:
                journeys_done["n"] += 1
            return step(self, name, request, status)

        def inside() -> Any:
            helper.cg_begin()
            try:
                return request()
            finally:
                helper.cg_end(name.encode())

        return step(self, name, inside, status)

    def argon2id_counted() -> float:
        from argon2 import PasswordHasher

        from idp.config import DEFAULTS
        from tests.helpers import DEFAULT_PASSWORD

        hasher = PasswordHasher(
            time_cost=DEFAULTS["ARGON2_TIME_COST"],
            memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
            parallelism=DEFAULTS["ARGON2_PARALLELISM"],
        )
        stored = hasher.hash(DEFAULT_PASSWORD)
        helper.cg_begin()
        hasher.verify(stored, DEFAULT_PASSWORD)
        helper.cg_end(ARGON2.encode())
        return 1.0  # idp_steps' ratio is meaningless here: the counts are the figures

    probe.step = counted  # type: ignore[method-assign]
    idp_steps.argon2id_ms = argon2id_counted
    forwarded = ["--journeys", str(args.journeys)]
    if args.postgres:
        forwarded += ["--postgres", args.postgres]
    if args.redis:
        forwarded += ["--redis", args.redis]
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            return (portal_steps if portal else idp_steps).main(forwarded)
        finally:
            sys.stdout = stdout


if __name__ == "__main__":
    raise SystemExit(main())
