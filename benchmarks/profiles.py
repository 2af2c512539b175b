"""Sampling profiles of the web servers while the journeys run (``voter_journey --profile DIR``), with py-spy.

py-spy (``pip install py-spy``, in the ``test`` extra) samples the Python stacks of a running process from outside
it: the servers run unchanged. One recording per role (the IdP's and the portal's web servers, their worker
processes included), written as collapsed stacks (``<role>.txt``: one line per distinct stack, ``frame;frame;… count``,
which flamegraph tools read) and summarised here: the share of samples in which each function is on the stack
(inclusive) and at its top (self). Idle threads (waiting for a request, a socket, a lock) are not sampled: the
shares are of the CPU the servers used. ``--gil``: only threads holding the GIL are sampled (Python at work;
argon2id, in C without the GIL, is not in these profiles).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

#: py-spy's raw frame: ``function (path/to/file.py:line)``.
_FRAME_RE = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _binary() -> str | None:
    """py-spy on PATH, or beside this interpreter (a virtual environment's bin/, not always on PATH)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


@contextlib.contextmanager
def recording(pids: dict[str, int], directory: Path, *, rate: int = 250) -> Iterator[None]:
    """Record each role's process tree (``pids``: role → master pid) into ``directory/<role>.txt`` meanwhile."""
    binary = _binary()
    if binary is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--subprocesses",
                "--nonblocking",
                "--gil",
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(directory / f"{role}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, pid in pids.items()
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(2)  # SIGINT: py-spy writes its file and exits
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()


def _name(frame: str) -> str:
    match = _FRAME_RE.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match.group("file")
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    else:
        file = file.rsplit("/rush/", 1)[-1] if "/rush/" in file else Path(file).name
    return f"{match.group('function')} ({file})"


def summarise(path: Path, top: int = 30) -> list[str]:
    """The functions most often on the stack (inclusive share) and at its top (self share) in ``path``."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if not total:
        return ["  (no samples)"]
    lines = [f"  {total} busy samples; inclusive share (self share) of the most present functions:"]
    for name, count in inclusive.most_common(top):
        lines.append(f"  {100 * count / total:5.1f} % ({100 * own[name] / total:4.1f} %)  {name}")
    lines.append("  most self time:")
    for name, count in own.most_common(15):
        lines.append(f"  {100 * count / total:5.1f} %  {name}")
    return lines
