"""Which load generator a run gets: wrk counts whole seconds, so a sub-second run (the smoke runs') goes to the Python
generator, bounded by its duration, instead of loading the server for a full second."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import loadgen


@pytest.fixture
def chosen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Both generators replaced by recorders, wrk taken as installed: (tool, duration) of each run."""
    runs: list[tuple[str, float]] = []

    def wrk(path: str, scenario: loadgen.Scenario, *, duration: float, **_: Any) -> loadgen.Result:
        runs.append(("wrk", duration))
        return loadgen.Result(1, duration, 0.0, 0.0, 0, "wrk")

    def python(scenario: loadgen.Scenario, *, duration: float, **_: Any) -> loadgen.Result:
        runs.append(("python", duration))
        return loadgen.Result(1, duration, 0.0, 0.0, 0, "python")

    monkeypatch.setattr(loadgen, "wrk_path", lambda: "/usr/bin/wrk")
    monkeypatch.setattr(loadgen, "_run_wrk", wrk)
    monkeypatch.setattr(loadgen, "_run_python", python)
    return runs


def test_a_sub_second_run_goes_to_the_python_generator(chosen: list[tuple[str, float]]) -> None:
    scenario = loadgen.Scenario("page", "http://127.0.0.1:9/")
    for duration in (0.1, 0.99, 1.0, 5.0):
        loadgen.run(scenario, duration=duration, connections=4, max_requests=100)
    loadgen.run(scenario, duration=0.3, connections=4, max_requests=100, tool="wrk")  # asked for by name
    loadgen.run(scenario, duration=5.0, connections=4, max_requests=100, tool="python")
    assert chosen == [
        ("python", 0.1),
        ("python", 0.99),
        ("wrk", 1.0),
        ("wrk", 5.0),
        ("wrk", 0.3),
        ("python", 5.0),
    ]
