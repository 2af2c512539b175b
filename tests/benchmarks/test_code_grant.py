"""``python -m benchmarks.code_grant`` still runs: tiny sizes, on SQLite and, where they answer, PostgreSQL + Redis.
Speed is never asserted; what is checked is that every code exchange answers 200 with an ID token (the benchmark
stops otherwise), that both passes print their figures and statement counts, that the app as deployed takes the
lean path (fewer statements than the Flask views alone), and that nothing is left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import backends
from tests.benchmarks.runs import run_benchmark
from tests.benchmarks.test_request_overhead import _postgres_reason

NUMBER = r"[\d,]+"


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("idp-bench-")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_code_grant_benchmark_runs(backend: str) -> None:
    arguments = ["benchmarks.code_grant", "--requests", "5", "--profile", "--top", "3"]
    if backend == "postgresql":
        for reason in (_postgres_reason(), backends.redis_reason()):
            if reason:
                backends.unavailable(reason)
        arguments += ["--postgres", backends.PG_ADMIN_URL, "--redis", backends.REDIS_URL]
    out = run_benchmark(arguments, prefix="code-grant-", timeout=300, leftovers=_leftovers)
    statements = {}
    for label in ("the app as deployed", "the Flask views alone"):
        found = re.search(
            rf"^  POST /token, {label}\s+{NUMBER} µs median\s+{NUMBER} µs mean\s+(\d+) SQL statements$",
            out,
            re.MULTILINE,
        )
        assert found, out
        statements[label] = int(found.group(1))
    assert statements["the app as deployed"] < statements["the Flask views alone"]
    assert "cProfile of the first pass" in out
