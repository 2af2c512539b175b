"""The benchmarks still run: ``python -m benchmarks --smoke`` runs each of them with tiny sizes (about 95 s).

Speed is never asserted (figures come from ``make bench``, not from tests); what is checked is that every
benchmark exits 0, prints its figures, and leaves nothing behind (servers, temporary directories).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.benchmarks.runs import run_benchmark

#: Prefixes of the temporary directories the benchmarks create (and must remove).
TEMP_PREFIXES = (
    "idp-bench-",
    "node-bench-",
    "bench-wrk-",
    "portal-bench-",
    "journey-bench-",
    "bench-replication-",
    "bench-metrics-",
)
NUMBER = r"[\d,]+(?:\.\d+)?"


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIXES)}


def _benchmark_servers(folder: Path) -> list[str]:
    """Running node-oidc-provider or IdP gunicorn processes started by benchmarks.oidc_servers of this run (their
    TMPDIR is the run's own folder: benchmarks run by others on the same machine are not counted)."""
    found = []
    marker = f"TMPDIR={folder}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker not in environ:
                continue
            if "oidc_provider_bench.mjs" in cmdline or (
                "gunicorn" in cmdline
                and "--graceful-timeout 5" in cmdline
                and ("idp:create_app()" in cmdline or "relying_party:create_app()" in cmdline)
            ):
                found.append(cmdline)
    return found


def _section(out: str, name: str) -> str:
    """What benchmark ``name`` printed, from the runner's line that starts it to the one that ends it."""
    found = re.search(rf"^=== {name} \(smoke\):.*?^=== {name}: ", out, re.MULTILINE | re.DOTALL)
    assert found, name
    return found.group(0)


def _left_behind(folder: Path) -> set[str]:
    return _leftovers(folder) | set(_benchmark_servers(folder))


def test_every_benchmark_runs_and_prints_its_figures() -> None:
    out = run_benchmark(["benchmarks", "--smoke"], prefix="smoke-", timeout=390, leftovers=_left_behind)
    for name in (
        "login_timing",
        "audit_append",
        "import_voters",
        "vote_codes",
        "portal_ballot",
        "voter_journey",
        "journey_floor",
        "waiting_room_rush",
        "ballot_crypto",
        "ballot_tally",
        "oidc_throughput",
        "operations",
        "replication",
        "metrics_overhead",
    ):
        assert re.search(rf"^=== {name}: ok in {NUMBER} s$", out, re.MULTILINE), name
    assert "no benchmark(s) failed" in out
    # A few figures of each benchmark, as numbers on the lines that carry them.
    assert re.search(rf"wrong password \(known, activated\)\s+median\s+{NUMBER} ms", out)
    assert re.search(rf"^sqlite\s+1\s+1\s+\d+\s+{NUMBER}", out, re.MULTILINE)  # audit_append
    assert re.search(rf"first import\s+{NUMBER} s\s+{NUMBER} rows/s", out)
    assert re.search(rf"^  WAIT 1 replica \(REDIS_WAIT_REPLICAS=1\)\s+{NUMBER}/s\s+p50", out, re.M)  # replication
    assert re.search(rf"^  synchronous, replica flushed \(synchronous_commit=on\)\s+{NUMBER}/s", out, re.M)
    assert re.search(r"codes \+ CSV\s+[\d.]+ s .* 20 voters", out)
    assert re.search(rf"^sqlite\s+16\s+{NUMBER}", out, re.MULTILINE)  # portal_ballot
    # voter_journey: complete journeys over HTTP, CPU per step and per journey against argon2id, the ballot box.
    assert re.search(rf"one argon2id verification \(production parameters\): {NUMBER} ms CPU", out)
    assert re.search(rf"^  journey\s+{NUMBER}\s+{NUMBER}", out, re.MULTILINE)  # the CPU per step's total
    assert re.search(rf"^  idp\.password\.post\s+{NUMBER}\s+{NUMBER}", out, re.MULTILINE)  # a step's row
    assert re.search(
        rf"^2 voters in flight: [1-9]\d* journeys in {NUMBER} s = {NUMBER}/s; 18 requests each; failed 0", out, re.M
    )
    assert re.search(rf"server CPU per journey {NUMBER} ms = {NUMBER} × argon2id", out)
    assert re.search(r"^rush: 3 voters at once: 3 journeys", out, re.MULTILINE)
    assert "each in the box once, one émargement per voter: ok" in out
    assert re.search(r"^  idp\s+\d+ process\(es\), MiB: \d+", out, re.MULTILINE)
    # journey_floor (its own section of the output): every journey completed (the driver's page checks passed on the
    # floor's answers, and the apps answer 500 to a step that does not send what the real step sends), its CPU
    # against argon2id and what it leaves under 3 ×, the steps one at a time, the cryptography, the ballot box.
    floor = _section(out, "journey_floor")
    assert re.search(rf"one argon2id verification \(production parameters\): {NUMBER} ms CPU", floor)
    assert re.search(
        rf"^2 voters in flight: [1-9]\d* journeys in {NUMBER} s = {NUMBER}/s; 18 requests each; failed 0", floor, re.M
    )
    assert re.search(
        rf"server CPU per journey \(ms\): idp {NUMBER}  portal {NUMBER}  postgresql {NUMBER}  redis {NUMBER}", floor
    )
    assert re.search(rf"per journey: {NUMBER} SQL statements, {NUMBER} Redis commands", floor)
    assert re.search(
        rf"2 voters in flight: floor {NUMBER} ms = {NUMBER} × argon2id \(cryptography {NUMBER} ms, the rest "
        rf"{NUMBER} ms\); 3 × argon2id = {NUMBER} ms leaves -?{NUMBER} ms",
        floor,
    )
    assert re.search(rf"^  journey\s+{NUMBER}\s+{NUMBER}", floor, re.MULTILINE)  # the CPU per step's total
    assert re.search(rf"^  idp\.password\.post\s+{NUMBER}\s+{NUMBER}", floor, re.MULTILINE)  # a step's row
    assert re.search(rf"^  2 CAPTCHA images\s+{NUMBER}$", floor, re.MULTILINE)
    assert re.search(rf"^  in all\s+{NUMBER} = {NUMBER} × argon2id$", floor, re.MULTILINE)
    assert "each in the box once, one émargement per voter: ok" in floor
    # waiting_room_rush (the run with the waiting room only): every journey done, the queue's order, the ballot box.
    assert re.search(r"^waiting room, capacity 2 \(.*\): 5 journeys, failed 0", out, re.MULTILINE)
    assert re.search(r"^  answers 5xx: 0; timeouts: 0; connection errors: 0$", out, re.MULTILINE)
    assert re.search(r"^  queue order: [1-9]\d* queued; .*: in order$", out, re.MULTILINE)
    # ballot_crypto: verification per core per scrutin size, with libsodium then libdecaf, in both proof formats;
    # encryption in chromium.
    assert re.search(rf"^\s+2(\s+{NUMBER}){{9}}\s+\d+$", out, re.MULTILINE)
    assert re.search(rf"^\s+libdecaf format 2 ÷ format 1: ×{NUMBER} \({NUMBER} → {NUMBER} ms\)$", out, re.M)
    assert re.search(rf"chromium, 2 lists \+ blank: encryption with proofs {NUMBER} ms", out)
    assert re.search(rf"^  base_double_non_secret 0·G \+ t·P\s+{NUMBER} µs$", out, re.MULTILINE)  # --primitives
    for fmt in (1, 2):
        assert re.search(
            rf"^model of format {fmt}.*: one option {NUMBER} µs, the exactly-one proof {NUMBER} µs", out, re.M
        )
    # ballot_tally: the timed steps and the totals found equal to the choices made.
    assert re.search(rf"aggregate with libsodium \(before\)\s+{NUMBER} s\s+CPU {NUMBER} s", out)
    assert re.search(rf"two trustees' partial decryptions\s+{NUMBER} s\s+\(each on their machine: the box", out)
    assert re.search(rf"tally of 60 ballots: {NUMBER} s \(goal ≤ 300 s\); totals match the choices made", out)
    # oidc_throughput: one row per endpoint, a cell per server (req/s, p50, p99, per core), the IdP's sign-in load,
    # the physical floor and the comparison with Keycloak's sizing.
    for endpoint in ("discovery", "jwks", "refresh_token grant", "userinfo", "introspection"):
        row = re.search(rf"^{re.escape(endpoint)}\s+\|(.*)$", out, re.MULTILINE)
        assert row, endpoint
        assert re.search(rf"\|\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s*$", row.group(0)), row.group(0)
        assert "err" not in row.group(1), row.group(0)
    assert re.search(rf"IdP SQLite .*: {NUMBER} sign-ins/s", out)
    assert re.search(rf"argon2id verify \(t=2, m=19 MiB\)\s+{NUMBER} /s", out)
    assert re.search(rf"ES256 sign .*\s{NUMBER} /s", out) and re.search(rf"RS256 sign .*\s{NUMBER} /s", out)
    assert re.search(rf"HMAC-SHA256 .*\s{NUMBER} /s", out)
    assert re.search(r"Keycloak: 15/s per vCPU", out) and re.search(r"Keycloak: 120/s per vCPU", out)
    # operations: each page of the operators' console counted and kept, with and without its indexes.
    for page in ("/participation", "/connexions", "/reassort", "/acheminement"):
        assert re.search(
            rf"^{page}\s+{NUMBER} ms\s+{NUMBER} ms\s+{NUMBER} ms \|\s+{NUMBER} ms\s+{NUMBER} ms$", out, re.M
        ), page
    # metrics_overhead: the observed request against the plain one, in multiprocess mode too.
    assert re.search(rf"^multiprocess\+log\s+{NUMBER}\s+[+-]{NUMBER}$", out, re.MULTILINE)  # tiny runs: either sign
    # Nothing left running or lying around.
