"""Prometheus in the deployment: every process is scraped on its metrics port, which the public proxy never routes
and the host never publishes; the alert rules are valid and fire on the series the suite exposes (promtool, from
Debian's prometheus package, which .ci/run installs: in CI its absence is a failure, not a skip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_docker_compose import DEPLOY, SERVICES, command, environment, interpolate

PROMETHEUS = DEPLOY / "prometheus"
CONFIG = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
#: deploy/Caddyfile with its upstreams at their defaults (docker-compose's services).
CADDYFILE = re.sub(r"\{\$(?!SITE_)[A-Z_]+:([^}]*)\}", r"\1", (DEPLOY / "Caddyfile").read_text(encoding="utf-8"))
#: Every process of the suite that runs until stopped: web processes, workers, verifiers.
PROCESSES = {
    "idp-1": "IDP_",
    "idp-2": "IDP_",
    "idp-worker": "IDP_",
    "idp-logouts": "IDP_",
    "idp-audit": "IDP_",
    "portal-1": "PORTAL_",
    "portal-2": "PORTAL_",
    "portal-worker": "PORTAL_",
    "portal-mixer": "PORTAL_",
    "portal-audit": "PORTAL_",
    "fc-dev-provider": "FCDEV_",
    "operator-console": "OPERATOR_CONSOLE_",
}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian package prometheus, installed by .ci/run)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False)


def targets() -> dict[str, str]:
    """``host`` → job of every scrape target."""
    found: dict[str, str] = {}
    for job in CONFIG["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                found[target.split(":")[0]] = job["job_name"]
    return found


def test_every_process_serves_metrics_on_the_private_network_and_is_scraped() -> None:
    scraped = targets()
    for name, prefix in PROCESSES.items():
        env = {k: interpolate(v) for k, v in environment(name).items()}
        port = env.get(prefix + "METRICS_PORT")
        assert port == "9100", f"{name} serves no metrics"
        assert env[prefix + "METRICS_BIND"] == "0.0.0.0"  # inside its container, reachable by the private network
        assert name in scraped, f"Prometheus does not scrape {name}"
        assert "private" in SERVICES[name]["networks"]
        for published in SERVICES[name].get("ports", []):
            assert not str(published).endswith(port), f"{name} publishes its metrics port on the host"
    assert set(scraped) == set(PROCESSES), "a target that is no process of the suite"
    assert "private" in SERVICES["prometheus"]["networks"]
    assert SERVICES["prometheus"]["ports"] == ["127.0.0.1:9090:9090"], "Prometheus's UI on the host's loopback only"
    for name in ["idp-1", "idp-2", "portal-1", "portal-2", "fc-dev-provider", "operator-console"]:
        # Several workers per process: multiprocess mode in a directory empty at each start of the container.
        directory = environment(name)["PROMETHEUS_MULTIPROC_DIR"]
        assert directory in SERVICES[name]["tmpfs"], f"{name}: the metrics directory is a tmpfs"
        assert command(name)[0] == "granian" and "--workers" in command(name)
    assert command("idp-audit")[:4] == ["idp", "audit", "verify", "--every"]
    assert command("portal-audit")[:4] == ["portal", "audit", "verify", "--every"]


def test_the_proxy_routes_no_metrics_port_and_sets_a_request_id() -> None:
    upstreams = re.findall(r"reverse_proxy\s+([^{\n]+)\{", CADDYFILE)
    assert upstreams
    for line in upstreams:
        for target in line.split():
            assert not target.endswith(":9100") and not target.endswith(":9090"), target
    assert "metrics" not in CADDYFILE.replace("# The metrics ports (9100) are never routed", "")
    assert CADDYFILE.count("header_up X-Request-Id {http.request.uuid}") == len(upstreams)
    for name, prefix in {
        "idp-1": "IDP_",
        "portal-1": "PORTAL_",
        "fc-dev-provider": "FCDEV_",
        "operator-console": "OPERATOR_CONSOLE_",
    }.items():
        assert interpolate(environment(name)[prefix + "TRUSTED_PROXIES"]) == "1", "the proxy's request id is trusted"


def test_prometheus_configuration_and_rules_are_valid() -> None:
    config = run("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    rules = run("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 14 rules found" in rules.stdout


def test_alerts_fire_on_the_series_the_suite_exposes() -> None:
    result = run("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_the_issue_asks_for_exists_and_uses_metrics_the_suite_exposes() -> None:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    rules = {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}
    wanted = {
        "ElectionsErrorRate": "elections_http_requests_total",
        "ElectionsSlowRequests": "elections_http_request_duration_seconds_bucket",
        "ElectionsOutboxStuck": "elections_outbox_oldest_age_seconds",
        "ElectionsDeliveryFailures": "elections_deliveries_total",
        "ElectionsDatabaseUnreachable": "elections_dependency_up",
        "ElectionsStoreUnreachable": "elections_worker_dependency_up",
        "ElectionsBackchannelBacklog": "elections_backchannel_pending",
        "ElectionsAuditLogDamaged": "elections_audit_log_intact",
    }
    for alert, metric in wanted.items():
        assert metric in rules[alert], alert
    from prometheus_client import REGISTRY

    import idp.metrics  # noqa: F401 - registers the IdP's families
    import relying_party.metrics  # noqa: F401

    exposed = {metric.name for metric in REGISTRY.collect()}
    computed = {
        "elections_outbox_oldest_age_seconds",
        "elections_outbox_messages",
        "elections_backchannel_pending",
        "elections_backchannel_oldest_age_seconds",
        "elections_worker_dependency_up",
        "elections_scrape_errors",
    }
    for expr in rules.values():
        for name in set(re.findall(r"\b(elections_[a-z_]+)", expr)):
            base = re.sub(r"_(total|bucket|count|sum)$", "", name)
            assert base in exposed or name in computed, f"{name} is exposed by no process"


def test_ci_installs_promtool() -> None:
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert "command -v promtool" in ci and "missing+=(prometheus)" in ci
