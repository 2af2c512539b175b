"""``python -m benchmarks.request_overhead`` still runs: tiny sizes, on SQLite and, where they answer, PostgreSQL +
Redis. Speed is never asserted; what is checked is that every page answers as expected in process and under granian
(the benchmark stops on another status or an error), that its figures and the profiled breakdown are printed, and
that nothing is left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests import backends
from tests.benchmarks.runs import run_benchmark

NUMBER = r"[\d,]+(?:\.\d+)?"
PAGES = (
    "bare",
    "bare+infra",
    "portal /readyz",
    "idp /readyz",
    "portal / (anonymous)",
    "portal / (signed in)",
    "portal /je-vote",
    "idp /login",
)


def _postgres_reason() -> str | None:
    engine = create_engine(backends.PG_ADMIN_URL, poolclass=NullPool)
    try:
        with engine.connect():
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {backends.PG_ADMIN_URL}: {type(exc).__name__}"
    finally:
        engine.dispose()


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("request-overhead-")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_request_overhead_benchmark_runs(backend: str) -> None:
    arguments = [
        "benchmarks.request_overhead",
        "--requests",
        "20",
        "--rounds",
        "1",
        "--top",
        "3",
        "--profile-requests",
        "20",
        "--server-seconds",
        "0.1",
    ]
    if backend == "postgresql":
        for reason in (_postgres_reason(), backends.redis_reason()):
            if reason:
                backends.unavailable(reason)
        arguments += ["--postgres", backends.PG_ADMIN_URL, "--redis", backends.REDIS_URL]
    out = run_benchmark(arguments, prefix="overhead-", timeout=300, leftovers=_leftovers)
    for page in PAGES:  # in process, then under granian
        assert re.search(rf"^  {re.escape(page)}\s+{NUMBER}\s+{NUMBER}$", out, re.MULTILINE), page
    assert re.search(r"^portal / \(signed in\), under cProfile", out, re.MULTILINE)
    assert re.search(rf"^  session: open\s+{NUMBER}$", out, re.MULTILINE)
    assert re.search(rf"^  templates: render\s+{NUMBER}$", out, re.MULTILINE)
