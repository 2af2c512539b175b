"""Running a benchmark module from a test: in a temporary folder of the run's own (``TMPDIR``), so that what other
benchmark runs on the same machine create or leave behind is never taken for this run's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_benchmark(
    arguments: list[str], *, prefix: str, timeout: float, leftovers: Callable[[Path], set[str]] | None = None
) -> str:
    """Run ``python -m <arguments>`` from the repository and return what it printed; fail the test if it exits
    non-zero, or if ``leftovers`` finds anything of the run still in its folder afterwards."""
    # Short (PostgreSQL's socket paths live under it), readable by the clusters, which run as their own user.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        done = subprocess.run(
            [sys.executable, "-m", *arguments],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(folder)},
        )
        left = leftovers(folder) if leftovers is not None else set()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert left == set(), f"left behind by the run: {sorted(left)}"
    return done.stdout
