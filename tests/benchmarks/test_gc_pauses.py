"""benchmarks.gc_pauses still runs and reads the factory's freeze: nothing walked with it, the app without it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


def run(app: str, **env: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.gc_pauses", "--app", app, "--runs", "2"],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        timeout=120,
    ).stdout
    found = re.search(r"(\d+) objects frozen, (\d+) walked", out)
    assert found, out
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("name", ["idp", "portal"])
def test_full_collection_walks_nothing_loaded(name: str) -> None:
    frozen, walked = run(name)
    assert frozen > 10_000
    assert walked < 1_000


def test_without_the_freeze_it_walks_the_app() -> None:
    frozen, walked = run("idp", GC_FREEZE="0")
    assert frozen == 0
    assert walked > 10_000
