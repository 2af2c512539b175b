"""``python -m benchmarks.portal_signin`` still runs: one journey after the warm-up, on SQLite (the IdP under granian,
the portal in process). Speed is never asserted; what is checked is that every step answered as the portal answers
(the benchmark stops on another status, or a callback that did not sign in or reach the ballot), that each step's
row is printed with its statements and round trips, that the cProfile of a step is printed, and that nothing is left
behind."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.portal_signin import STEPS
from tests.benchmarks.runs import run_benchmark


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("portal-signin-")}


def test_the_portal_signin_benchmark_runs() -> None:
    arguments = ["benchmarks.portal_signin", "--journeys", "1", "--profile", "portal.callback", "--top", "3"]
    out = run_benchmark(arguments, prefix="signin-", timeout=300, leftovers=_leftovers)
    assert "1 journeys one at a time, SQLite" in out
    for step in STEPS:
        assert re.search(rf"^  {re.escape(step)}\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+$", out, re.MULTILINE), step
    assert re.search(r"^  the four steps\s+[\d.]+$", out, re.MULTILINE)
    assert "cProfile of portal.callback" in out and re.search(r"\d+ function calls", out)
