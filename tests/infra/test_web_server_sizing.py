"""How many web server processes an application gets: one per core (infra.web_server.workers_for)."""

from __future__ import annotations

import os

import pytest

from benchmarks import oidc_throughput
from infra import web_server


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (16, 16), (0, 1)])
def test_one_worker_per_core(cores: int, workers: int) -> None:
    assert web_server.workers_for(cores) == workers


def test_the_cores_this_process_may_run_on() -> None:
    assert web_server.workers_for() == len(os.sched_getaffinity(0))


def test_the_benchmarks_serve_as_recommended() -> None:
    args = oidc_throughput.parse_args([])
    assert (args.workers, args.threads) == (web_server.workers_for(), web_server.THREADS)
