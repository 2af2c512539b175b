"""``python -m benchmarks.portal_steps`` still runs: one measured journey, on SQLite and, where they answer,
PostgreSQL + Redis. Speed is never asserted; what is checked is that every page of the journey answered as expected
(the benchmark stops on another status), that each step's figures and the profile are printed, and that nothing is
left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.portal_steps import STEPS
from tests import backends
from tests.benchmarks.runs import run_benchmark
from tests.benchmarks.test_request_overhead import _postgres_reason

NUMBER = r"\d+(?:\.\d+)?"


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("portal-steps-")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_portal_steps_benchmark_runs(backend: str) -> None:
    arguments = ["benchmarks.portal_steps", "--journeys", "1", "--profile", "portal.cast", "--top", "3"]
    if backend == "postgresql":
        for reason in (_postgres_reason(), backends.redis_reason()):
            if reason:
                backends.unavailable(reason)
        arguments += ["--postgres", backends.PG_ADMIN_URL, "--redis", backends.REDIS_URL]
    out = run_benchmark(arguments, prefix="portal-steps-", timeout=300, leftovers=_leftovers)
    found = re.findall(rf"^  (portal\.[a-z_.]+)\s+{NUMBER}\s+{NUMBER}\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
    # « Voter » leads straight to the vote-code step: the ballot page's bounce is no step of the journey any more.
    assert [step for step, _, _ in found] == [step for step in STEPS if step != "portal.ballot.step_up"]
    statements = {step: int(sql) for step, sql, _ in found}
    assert statements["portal.home"] == 0
    if backend == "postgresql":  # the SQL store's statements on SQLite are counted with the store's round trips
        assert statements["portal.receipt"] == 1 and statements["portal.cast"] == 5
    assert re.search(rf"^the portal's own pages of a journey: {NUMBER} ms$", out, re.MULTILINE)
    assert "cProfile of portal.cast" in out
