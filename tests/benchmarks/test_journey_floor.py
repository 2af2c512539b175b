"""``python -m benchmarks.journey_floor --smoke`` still runs: the floor's two apps under granian, a PostgreSQL cluster
and a Redis of the run's own, a level of journeys. Speed is never asserted; what is checked is that every journey
completed (the driver's page checks passed on the floor's answers), that each step sent what the real step sends
(the apps refuse to answer otherwise), that the figures are printed, that every receipt is in the box, and that
nothing is left behind."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from benchmarks.suite_servers import PG_BIN
from tests.benchmarks.runs import run_benchmark

NUMBER = r"[\d,]+(?:\.\d+)?"

pytestmark = pytest.mark.skipif(
    not list(PG_BIN.glob("*/bin/initdb")) or shutil.which("redis-server") is None,
    reason="needs PostgreSQL's server binaries and redis-server",
)


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("journey-bench-")}


def test_the_floor_runs_and_prints_its_figures() -> None:
    out = run_benchmark(["benchmarks.journey_floor", "--smoke"], prefix="floor-", timeout=120, leftovers=_leftovers)
    assert re.search(rf"one argon2id verification \(production parameters\): {NUMBER} ms CPU", out)
    assert re.search(
        rf"^2 voters in flight: [1-9]\d* journeys in {NUMBER} s = {NUMBER}/s; 18 requests each; failed 0", out, re.M
    )
    assert re.search(
        rf"server CPU per journey \(ms\): idp {NUMBER}  portal {NUMBER}  postgresql {NUMBER}  redis {NUMBER}", out
    )
    assert re.search(rf"server CPU per journey {NUMBER} ms = {NUMBER} × argon2id", out)
    assert re.search(rf"per journey: {NUMBER} SQL statements, {NUMBER} Redis commands", out)
    assert re.search(
        rf"2 voters in flight: floor {NUMBER} ms = {NUMBER} × argon2id \(cryptography {NUMBER} ms, the rest "
        rf"{NUMBER} ms\); 3 × argon2id = {NUMBER} ms leaves -?{NUMBER} ms",
        out,
    )
    assert re.search(rf"^  journey\s+{NUMBER}\s+{NUMBER}", out, re.MULTILINE)  # the CPU per step's total
    assert re.search(rf"^  idp\.password\.post\s+{NUMBER}\s+{NUMBER}", out, re.MULTILINE)  # a step's row
    assert re.search(rf"^  2 CAPTCHA images\s+{NUMBER}$", out, re.MULTILINE)
    assert re.search(rf"^  in all\s+{NUMBER} = {NUMBER} × argon2id$", out, re.MULTILINE)
    assert "each in the box once, one émargement per voter: ok" in out
