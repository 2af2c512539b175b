"""The fault benchmark's bounded subset, in ``make test``: ``python -m benchmarks.faults --smoke`` starts the suite
in its production shape on components of its own, drives voting and réassort journeys, and injects, under that load:
Redis stopped then started empty, PostgreSQL restarted, SMTP down, the delivery worker killed mid-send, and the
backup and restore drill. Each prints its figures and its checks; the run exits 1 if any check failed.

This test holds the harness itself (it runs, injects, measures, cleans up) and, through its checks, what must hold:
French 503 pages answered within 2 s, receipts shown again after Redis restarted empty, service back within 10 s of
PostgreSQL, no link lost and the outbox oldest first, no link waiting two minutes for a lease, the restored copy
matching the backup's moment with both audit chains verifying, every acknowledged ballot and link in the database,
every worker still running. The whole matrix (failovers, gunicorn kill and rolling restart, SMS gateway, back-channel
receiver) is ``python -m benchmarks.faults --replicas`` (docs/operators/resilience.md).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from benchmarks.faults import SMOKE
from tests.backends import unavailable
from tests.benchmarks.runs import run_benchmark

CHECKS = {
    "redis-stop": ["503 answered within 2 s", "every 503 is the French page", "receipts shown again after the restart"],
    "pg-restart": ["service back within 10 s of PostgreSQL"],
    "smtp-down": ["no link lost", "the waiting e-mails leave oldest first"],
    "delivery-worker-kill": ["no link lost", "no link waits two minutes for a lease"],
    "backup": ["the restored copy matches the backup's moment and verifies"],
}
EVERY_FAULT = [
    "no raw server error page",
    "every worker still running",
    "every « Votre vote a été enregistré » is in the ballot box",
    "every « Un lien vient de vous être envoyé » has its link in the database",
]


#: The rolling restart behind the proxy, then Redis stopped behind it: a short run of the production shape.
PROXY_RUN = ["--server", "granian", "--faults", "rolling-restart-proxy,redis-stop", "--outage", "4", "--settle", "1"]
PROXY_RUN += ["--concurrency", "3", "--reassorts", "1"]


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("bench-faults-")}


def test_the_bounded_fault_matrix_holds() -> None:
    for binary in ("redis-server", "pg_ctlcluster"):
        if shutil.which(binary) is None:
            unavailable(f"{binary} is not installed (.ci/run installs it)")
    assert set(CHECKS) == set(SMOKE)
    out = run_benchmark(["benchmarks.faults", "--smoke"], prefix="faults-", timeout=900, leftovers=_leftovers)
    sections = {block.split(":", 1)[0]: block for block in out.split("\n\n")}
    for fault, checks in CHECKS.items():
        section = sections.get(fault)
        assert section is not None, f"no report for {fault}: {out[-3000:]}"
        assert "requests sent: " in section and "pages seen on errors: " in section
        assert "journeys completed " in section
        for check in [*checks, *EVERY_FAULT]:
            assert f"[ok] {check}" in section, f"{fault}: {check}\n{section}"
    # Each outage was seen by the voters as the French page, and each ended.
    assert "Service momentanément indisponible" in sections["redis-stop"]
    assert re.search(r"\[ok\] receipts shown again after the restart: [1-9]\d* voters", sections["redis-stop"])
    assert "recovered (both /healthz 200)" in sections["pg-restart"]
    assert "idp audit verify on the copy: exit 0" in sections["backup"]
    assert "[ok] idp audit chain verifies" in out and "[ok] portal audit chain verifies" in out
    assert "FAILED" not in out and out.rstrip().endswith("every check held")


@pytest.mark.long
def test_the_rolling_restart_behind_the_proxy_loses_nothing() -> None:
    """The election-day procedure (deploy/rolling-restart.sh) on the production shape: Caddy running deploy/Caddyfile
    in front of two granian replicas of each app, each drained, restarted and back in turn under load, with no
    request lost; then Redis stopped behind that proxy, the voters still getting the apps' French page (Caddy's
    check asks no dependency). About 4 minutes: ``make test-long``."""
    for binary in ("redis-server", "pg_ctlcluster", "caddy"):
        if shutil.which(binary) is None:
            unavailable(f"{binary} is not installed (.ci/run installs it)")
    out = run_benchmark(["benchmarks.faults", *PROXY_RUN], prefix="faults-", timeout=1200)
    sections = {block.split(":", 1)[0]: block for block in out.split("\n\n")}
    restart = sections["rolling-restart-proxy"]
    for check in ["the rolling restart costs no request", "no journey fails meanwhile", *EVERY_FAULT]:
        assert f"[ok] {check}" in restart, f"{check}\n{restart}"
    for replica in ("idp", "idp-2", "portal", "portal-2"):
        assert f"s {replica}: draining" in restart and f"s {replica}: ready" in restart, replica
    for check in ["503 answered within 2 s", "every 503 is the French page"]:
        assert f"[ok] {check}" in sections["redis-stop"], check
    assert out.rstrip().endswith("every check held")
