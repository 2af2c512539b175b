"""HTTP load generators of the benchmarks: Debian's ``wrk`` when installed, else a Python one; loopback only.

``wrk`` (``apt-get install -y wrk``) is preferred: written in C on epoll, it costs the 2-core machine the least
CPU, which then goes to the server under test. Without it, or for a run shorter than a second (wrk counts whole
seconds: 0.3 s would load the server for a full second), a Python generator runs in a separate process (asyncio,
keep-alive connections). Both are bounded: ``wrk`` by its duration (and a kill timeout), the Python one by a
duration *and* a request count.

A scenario is one request repeated; for the refresh-token grant every request needs a token never used before
(the servers rotate them and treat a replay as theft). Each connection therefore starts from a token of a
pre-minted pool and chains: the next request carries the refresh token of the previous answer. The pool holds one
spare token per wrk thread: wrk builds one request per thread before the run to check the script, and throws it
away unsent.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WRK_INSTALL_HINT = "apt-get install -y wrk"
_REFRESH_RE = re.compile(rb'"refresh_token"\s*:\s*"([^"]+)"')
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Scenario:
    """One request to repeat. ``refresh_tokens``: a refresh-token chain per connection (see the module doc)."""

    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    refresh_tokens: list[str] | None = None


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    #: Answers that were not 2xx, plus connection errors and timeouts.
    errors: int
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run(
    scenario: Scenario,
    *,
    duration: float,
    connections: int,
    max_requests: int,
    tool: str = "auto",
    wrk_threads: int = 1,
) -> Result:
    """Load ``scenario`` for ``duration`` seconds with ``connections`` keep-alive connections."""
    host = urlsplit(scenario.url).hostname
    if host not in _LOOPBACK:
        raise ValueError(f"the load generators only target loopback addresses, not {host!r}")
    if scenario.refresh_tokens is not None and len(scenario.refresh_tokens) < connections + wrk_threads:
        raise ValueError(f"{scenario.name}: {connections} connections need {connections + wrk_threads} refresh tokens")
    wrk = wrk_path()
    if tool == "wrk" and wrk is None:
        raise RuntimeError(f"wrk is not installed ({WRK_INSTALL_HINT})")
    # wrk counts whole seconds: a shorter run (the smoke runs') goes to the Python generator, as long as asked.
    if (tool == "wrk" or (tool == "auto" and duration >= 1)) and wrk is not None:
        return _run_wrk(wrk, scenario, duration=duration, connections=connections, threads=wrk_threads)
    return _run_python(scenario, duration=duration, connections=connections, max_requests=max_requests)


# --- wrk -----------------------------------------------------------------------------------------------------------

_WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %f, "p99_us": %f, '
    .. '"errors": %d}\\n', summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""

_WRK_CHAIN = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  queue = {}
  local i = 0
  for line in io.lines(%(tokens)s) do
    if i %% %(threads)d == id then table.insert(queue, line) end
    i = i + 1
  end
end
function request()
  local token = table.remove(queue) or "pool-exhausted"
  return wrk.format(nil, nil, nil, %(prefix)s .. token)
end
function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%%s*:%%s*"([^"]+)"')
    if token then table.insert(queue, token) end
  end
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for these ASCII values


def _wrk_script(scenario: Scenario, threads: int, directory: Path) -> str:
    lines = [f"wrk.method = {_lua_string(scenario.method)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in scenario.headers.items()]
    if scenario.refresh_tokens is not None:
        tokens = directory / "refresh-tokens.txt"
        tokens.write_text("\n".join(scenario.refresh_tokens) + "\n", encoding="ascii")
        lines.append(
            _WRK_CHAIN
            % {
                "tokens": _lua_string(str(tokens)),
                "threads": threads,
                "prefix": _lua_string("grant_type=refresh_token&refresh_token="),
            }
        )
    elif scenario.body is not None:
        lines.append(f"wrk.body = {_lua_string(scenario.body)}")
    return "\n".join(lines) + _WRK_DONE


def _run_wrk(wrk: str, scenario: Scenario, *, duration: float, connections: int, threads: int) -> Result:
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "scenario.lua"
        script.write_text(_wrk_script(scenario, threads, Path(tmp)), encoding="utf-8")
        seconds = max(1, round(duration))  # wrk counts whole seconds
        done = subprocess.run(
            [
                wrk,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                scenario.url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
    match = re.search(r"^WRK_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed on {scenario.name}: {done.stderr.strip()[-500:] or done.stdout[-500:]}")
    figures = json.loads(match.group(1))
    return Result(
        figures["requests"],
        figures["duration_us"] / 1e6,
        figures["p50_us"] / 1000,
        figures["p99_us"] / 1000,
        figures["errors"],
        "wrk",
    )


# --- Python ----------------------------------------------------------------------------------------------------------


def _run_python(scenario: Scenario, *, duration: float, connections: int, max_requests: int) -> Result:
    """Run the Python generator in a child process, so that it does not share the interpreter of the caller."""
    spec = {
        "scenario": asdict(scenario),
        "duration": duration,
        "connections": connections,
        "max_requests": max_requests,
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Python load generator failed on {scenario.name}: {done.stderr.strip()[-800:]}")
    figures = json.loads(done.stdout)
    return Result(**figures)


class _Budget:
    def __init__(self, requests: int, deadline: float) -> None:
        self.left = requests
        self.deadline = deadline

    def take(self) -> bool:
        if self.left <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.left -= 1
        return True


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 response: status, body, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, body, headers.get(b"connection", b"").lower() != b"close"


def _request_bytes(scenario: Scenario, host: str, body: str | None) -> bytes:
    target = urlsplit(scenario.url)
    path = target.path + (f"?{target.query}" if target.query else "")
    head = [f"{scenario.method} {path} HTTP/1.1", f"Host: {host}"]
    head += [f"{k}: {v}" for k, v in scenario.headers.items()]
    payload = (body or "").encode()
    if body is not None:
        head.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def _connection(
    scenario: Scenario, token: str | None, budget: _Budget, latencies: list[float], errors: list[int]
) -> None:
    target = urlsplit(scenario.url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    static = _request_bytes(scenario, target.netloc, scenario.body)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget.take():
            if token is not None:
                body = "grant_type=refresh_token&refresh_token=" + token
                request = _request_bytes(scenario, target.netloc, body)
            else:
                request = static
            started = time.perf_counter()
            writer.write(request)
            try:
                status, payload, keep_alive = await asyncio.wait_for(_read_response(reader), 10)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                errors[0] += 1
                keep_alive = False
                status, payload = 0, b""
            else:
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 300:
                    errors[0] += 1
            if token is not None:
                found = _REFRESH_RE.search(payload) if status == 200 else None
                token = found.group(1).decode() if found else "chain-broken"
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _generate(scenario: Scenario, duration: float, connections: int, max_requests: int) -> Result:
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    budget = _Budget(max_requests, started + duration)
    tokens: list[str | None] = [None] * connections
    if scenario.refresh_tokens is not None:
        tokens = list(scenario.refresh_tokens[:connections])
    await asyncio.gather(*(_connection(scenario, tokens[i], budget, latencies, errors) for i in range(connections)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return Result(len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors[0], "python")


def main() -> None:
    """Child process entry: a JSON spec on stdin, the JSON result on stdout."""
    spec: dict[str, Any] = json.load(sys.stdin)
    scenario = Scenario(**spec["scenario"])
    result = asyncio.run(_generate(scenario, spec["duration"], spec["connections"], spec["max_requests"]))
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
