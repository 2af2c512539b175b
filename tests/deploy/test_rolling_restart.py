"""deploy/rolling-restart.sh: the documented rolling restart, run against stand-ins for ``docker`` and ``sleep``.

The script's steps (drain, wait for the proxy's in-flight requests, recreate, wait healthy, wait for the proxy's
check) are what ``python -m benchmarks.faults --faults rolling-restart-proxy`` measured under load; here the order
of the commands it sends, its figures against the deployment's (docker-compose.yml, deploy/Caddyfile,
infra/web_server.py), and its refusals are checked. The stand-ins answer as docker compose and Caddy's admin API do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import web_server
from tests.deploy.test_docker_compose import SERVICES, _sites, environment

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "rolling-restart.sh"
TEXT = SCRIPT.read_text(encoding="utf-8")

#: A ``docker`` that logs its arguments and answers as docker compose would: the proxy's admin API reports one
#: request in flight to each replica the first time it is asked, none afterwards; every container is healthy.
FAKE_DOCKER = r"""#!/bin/sh
echo "docker $*" >> "$LOG"
case "$*" in
  *"exec -T proxy wget"*)
    for replica in idp-1 idp-2 portal-1 portal-2; do
      if [ -e "$STATE/$replica.asked" ]; then count=0; else count=1; fi
      printf '{"address":"%s:8000","num_requests":%s,"fails":0},' "$replica" "$count"
    done | sed 's/^/[/; s/,$/]/'
    for replica in idp-1 idp-2 portal-1 portal-2; do
      if [ -e "$STATE/$replica.drained" ]; then touch "$STATE/$replica.asked"; fi
    done
    ;;
  *"exec -T "*" touch "*)
    replica=$(echo "$*" | sed 's/.*exec -T \([^ ]*\) touch.*/\1/')
    touch "$STATE/$replica.drained"
    ;;
  *"ps -q "*) echo "container-of-$4" ;;
  "inspect "*) echo healthy ;;
esac
"""
FAKE_SLEEP = """#!/bin/sh
echo "sleep $*" >> "$LOG"
"""


@pytest.fixture
def stand_ins(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in (("docker", FAKE_DOCKER), ("sleep", FAKE_SLEEP)):
        (bin_dir / name).write_text(body, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "LOG": str(log),
        "STATE": str(state),
    }
    return env, log


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_each_replica_is_drained_emptied_recreated_and_back_before_the_next(
    stand_ins: tuple[dict[str, str], Path],
) -> None:
    env, log = stand_ins
    done = run(env)
    assert done.returncode == 0, done.stderr
    calls = log.read_text(encoding="utf-8").splitlines()
    replicas = ["idp-1", "idp-2", "portal-1", "portal-2"]
    steps = []
    for call in calls:
        for replica in replicas:
            if f"exec -T {replica} touch /run/elections-drain/draining" in call:
                steps.append((replica, "drain"))
            elif call == f"docker compose up -d --no-deps --force-recreate {replica}":
                steps.append((replica, "recreate"))
            elif call == f"docker inspect --format {{{{.State.Health.Status}}}} container-of-{replica}":
                steps.append((replica, "healthy"))
    assert steps == [(r, step) for r in replicas for step in ("drain", "recreate", "healthy")]
    # Between the drain and the recreation: the proxy's check interval waited, then the in-flight count asked
    # until it was 0 (one request in flight at the first question, a second question after a pause).
    first = calls.index("docker compose exec -T idp-1 touch /run/elections-drain/draining")
    recreate = calls.index("docker compose up -d --no-deps --force-recreate idp-1")
    between = calls[first + 1 : recreate]
    wait = 2 * web_server.PROXY_HEALTH_INTERVAL + 1
    assert between[0] == f"sleep {wait}"
    asked = [c for c in between if "exec -T proxy wget -q -O - http://127.0.0.1:2019/reverse_proxy/upstreams" in c]
    assert len(asked) == 2
    assert "sleep 1" in between
    # Back in the rotation before the next replica is drained.
    healthy = calls.index("docker inspect --format {{.State.Health.Status}} container-of-idp-1")
    assert calls[healthy + 1] == f"sleep {wait}"
    assert "done: idp-1 idp-2 portal-1 portal-2" in done.stdout


def test_only_web_replicas_behind_the_proxy_are_accepted(stand_ins: tuple[dict[str, str], Path]) -> None:
    env, log = stand_ins
    done = run(env, "postgres")
    assert done.returncode == 2
    assert "postgres is not a web replica behind the proxy" in done.stderr
    assert not log.exists(), "nothing was sent to docker"


def test_an_upstream_the_proxy_does_not_know_stops_the_restart(stand_ins: tuple[dict[str, str], Path]) -> None:
    env, log = stand_ins
    done = run(env, "idp-9")
    assert done.returncode == 1
    assert "the proxy does not route to idp-9:8000" in done.stderr
    assert "--force-recreate" not in log.read_text(encoding="utf-8")


def test_the_script_matches_the_deployment() -> None:
    """Its default replicas are the proxy's upstreams; its drain file, its check interval and its wait for the
    requests in flight are the deployment's; the admin address is the Caddyfile's default."""
    upstreams = {target.split(":")[0] for site, targets in _sites().items() for target in targets.split()}
    replicas = {name for name in upstreams if re.fullmatch(r"(idp|portal)-\d+", name)}
    assert re.search(r"set -- (.+)\n", TEXT).group(1).split() == sorted(replicas)  # type: ignore[union-attr]
    for name in replicas:
        prefix = "IDP_" if name.startswith("idp") else "PORTAL_"
        assert environment(name)[f"{prefix}DRAIN_PATH"] == re.search(r"DRAIN_PATH=(\S+)", TEXT).group(1)  # type: ignore[union-attr]
        assert name in SERVICES
    assert f"HEALTH_INTERVAL={web_server.PROXY_HEALTH_INTERVAL}\n" in TEXT
    assert f"IN_FLIGHT_TIMEOUT={web_server.GRACEFUL_TIMEOUT}\n" in TEXT
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert "admin {$CADDY_ADMIN:localhost:2019}" in caddyfile
    assert SCRIPT.stat().st_mode & 0o111, "executable"


def test_the_script_is_valid_sh() -> None:
    assert subprocess.run(["sh", "-n", str(SCRIPT)], check=False).returncode == 0
    checker = shutil.which("shellcheck")
    if checker is not None:
        found = subprocess.run([checker, "-s", "sh", str(SCRIPT)], capture_output=True, text=True, check=False)
        assert found.returncode == 0, found.stdout
