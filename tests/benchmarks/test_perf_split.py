"""benchmarks.perf_split: perf's samples split by process role and kind of code, in ms per journey."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import perf_split
from tests.backends import unavailable

SCRIPT = """\
     0 ffffffff8224379b ([kernel.kallsyms])
   101     7fcbd5f62cd6 (/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0)
   101     7fcbd5f62cd7 (/srv/.venv/lib/python3.11/site-packages/_argon2_cffi_bindings/_ffi.abi3.so)
   101     7fcbd5f62cd8 (/srv/.venv/lib/python3.11/site-packages/_argon2_cffi_bindings/_ffi.abi3.so)
   102 ffffffff8224379b ([kernel.kallsyms])
   102     7efea4047ab0 (/usr/lib/x86_64-linux-gnu/libc.so.6)
   102     7efea4047ab1 (/srv/.venv/lib/python3.11/site-packages/granian/_granian.cpython-311-x86_64-linux-gnu.so)
   102     7efea4047ab2 (/usr/lib/x86_64-linux-gnu/libdecaf.so.0)
   200     55d0c0a0b0c0 (/usr/lib/postgresql/15/bin/postgres)
   999     55d0c0a0b0c1 (/usr/bin/python3.11)
not a sample line
"""


def test_samples_split_by_role_and_kind_of_code() -> None:
    found = perf_split.split_lines(SCRIPT.splitlines(), {"idp": [101, 102], "postgresql": [200]})
    assert found == {
        "idp": Counter(
            {
                "Python interpreter": 1,
                "argon2id (argon2-cffi)": 2,
                "kernel": 1,
                "libc": 1,
                "granian (Rust)": 1,
                perf_split.OTHER: 1,
            }
        ),
        "postgresql": Counter({"PostgreSQL": 1}),
    }  # the idle CPU (pid 0) and the unnamed process 999 left out


def test_each_role_scaled_to_its_cpu_per_journey() -> None:
    samples = {"idp": Counter({"Python interpreter": 3, "kernel": 1}), "redis": Counter({"Redis": 5})}
    seconds = perf_split.per_journey(samples, {"idp": 0.040, "redis": 0.002, "portal": 0.020})
    assert seconds == {
        "idp": {"Python interpreter": pytest.approx(0.030), "kernel": pytest.approx(0.010)},
        "redis": {"Redis": pytest.approx(0.002)},
    }
    lines = perf_split.table(seconds)
    assert lines[0].split() == ["ms", "per", "journey", "idp", "redis", "total"]
    assert lines[1].split() == ["Python", "interpreter", "30.0", "0.0", "30.0"]
    assert lines[-1].split() == ["all", "40.0", "2.0", "42.0"]


def test_a_busy_python_process_is_counted_as_the_interpreter(tmp_path: Path) -> None:
    """The real tool: perf samples every CPU while a Python loop runs; its samples fall in the interpreter."""
    why = perf_split.available()
    if why is not None:
        unavailable(why)
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"]
    )
    try:
        with perf_split.recording(tmp_path / "perf.data"):
            time.sleep(1.0)
    finally:
        busy.wait(timeout=30)
    found = perf_split.split(tmp_path / "perf.data", {"busy": [busy.pid]})
    counted = found["busy"]
    assert sum(counted.values()) > 100  # about 997 a second of the loop's CPU
    assert counted.most_common(1)[0][0] == "Python interpreter"
