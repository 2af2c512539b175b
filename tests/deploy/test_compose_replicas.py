"""The replicas of docker-compose.yml, options behind compose profiles: Redis Sentinel (``redis-sentinel``: a replica
and three Sentinels) and a PostgreSQL streaming standby (``postgres-replica``), with the apps configured for them
through .env. Docker has no engine here: the file is read, the values the operator is told to set are parsed by the
apps' own settings code, and ``docker-compose config`` resolves each profile.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from idp import config as idp_config
from infra.store.redis import RedisSettings
from tests.deploy.test_docker_compose import (
    COMPOSE_TEXT,
    DEPLOY,
    DOTENV,
    ROOT,
    SERVICES,
    _compose_cli,
    command,
    environment,
    interpolate,
)

SENTINELS = ["redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"]
PROFILES = {"redis-sentinel": {"redis-replica", *SENTINELS}, "postgres-replica": {"postgres-replica"}}
APP_SERVICES = {
    "IDP_": ["idp-1", "idp-2", "idp-worker", "idp-logouts", "idp-migrate"],
    "PORTAL_": ["portal-1", "portal-2", "portal-worker", "portal-mixer", "portal-migrate"],
    "FCDEV_": ["fc-dev-provider"],
    "OPERATOR_CONSOLE_": ["operator-console"],
}
#: Apps whose store holds nothing a failover must keep (no WAIT for the replica).
NO_WAIT = {"FCDEV_", "OPERATOR_CONSOLE_"}


def documented(name: str) -> str:
    """The value deploy/env.example tells the operator to give ``name`` with its profile (a commented line)."""
    text = (DEPLOY / "env.example").read_text(encoding="utf-8")
    found = re.search(rf"^#\s+{name}=(\S+)$", text, re.MULTILINE)
    assert found, f"deploy/env.example shows no value of {name} for its profile"
    return found.group(1)


def test_replicas_are_options_and_nothing_else_is() -> None:
    for profile, services in PROFILES.items():
        for name in services:
            assert SERVICES[name].get("profiles") == [profile], name
    optional = {name for name, service in SERVICES.items() if service.get("profiles")}
    assert optional == set().union(*PROFILES.values())


def test_three_sentinels_watch_the_primary_under_the_apps_name_with_a_quorum_of_two() -> None:
    master = idp_config.DEFAULTS["REDIS_SENTINEL_MASTER"]
    scripts = [" ".join(command(name)) for name in SENTINELS]
    assert len(set(scripts)) == 1, "the three Sentinels are configured alike"
    script = scripts[0]
    assert f"'sentinel monitor {master} redis 6379 2'" in script
    assert "'sentinel resolve-hostnames yes'" in script and "'port 26379'" in script
    assert "exec redis-sentinel /tmp/sentinel.conf" in script, "a Sentinel rewrites its file: a copy of its own"
    down_after = re.search(rf"down-after-milliseconds {master} (\d+)", script)
    assert down_after and int(down_after.group(1)) <= 5000
    for name in SENTINELS:
        assert SERVICES[name]["healthcheck"]["test"][1:] == ["redis-cli", "-p", "26379", "ping"]
        assert SERVICES[name]["networks"] == ["private"]


def test_redis_replica_follows_the_primary_and_keeps_what_it_holds() -> None:
    replica = command("redis-replica")
    assert replica[0] == "redis-server"
    assert replica[replica.index("--replicaof") + 1 : replica.index("--replicaof") + 3] == ["redis", "6379"]
    # As the primary: nothing evicted (lockouts, replay caches), an append-only file.
    assert "noeviction" in replica and "--appendonly" in replica
    assert "redisreplica:/data" in SERVICES["redis-replica"]["volumes"]


def test_every_app_finds_redis_through_the_sentinels_when_env_names_them() -> None:
    addresses = documented("ELECTIONS_REDIS_SENTINELS")
    listed = [address.split(":")[0] for address in addresses.split(",")]
    assert listed == SENTINELS and all(address.endswith(":26379") for address in addresses.split(","))
    with_sentinels = {**DOTENV, "ELECTIONS_REDIS_SENTINELS": addresses, "ELECTIONS_REDIS_WAIT_REPLICAS": "1"}
    for prefix, services in APP_SERVICES.items():
        for name in services:
            env = environment(name)
            variable = f"{prefix}REDIS_SENTINELS"
            assert variable in env, f"{name} does not take the Sentinels"
            assert interpolate(env[variable]) == "", "without the profile, Redis is reached directly"
            value = interpolate(env[variable], with_sentinels)
            settings = RedisSettings.from_config(
                {"REDIS_URL": interpolate(env[f"{prefix}REDIS_URL"]), "REDIS_SENTINELS": value}
            )
            assert settings is not None and [host for host, _ in settings.sentinels] == SENTINELS
            if prefix not in NO_WAIT:
                assert interpolate(env[f"{prefix}REDIS_WAIT_REPLICAS"], with_sentinels) == "1"


def test_apps_follow_the_writable_host_of_a_multi_host_url() -> None:
    for prefix, database in (("IDP_", "idp"), ("PORTAL_", "portal")):
        variable = f"ELECTIONS_{prefix}DATABASE_URL"
        for name in APP_SERVICES[prefix]:
            raw = environment(name)[f"{prefix}DATABASE_URL"]
            assert interpolate(raw) == f"postgresql+psycopg://elections@postgres:5432/{database}"
            url = make_url(interpolate(raw, {**DOTENV, variable: documented(variable)}))
            assert url.database == database and url.password is None, "the password stays in PGPASSFILE"
            assert url.query["host"] == ("postgres:5432", "postgres-replica:5432")
            assert url.query["target_session_attrs"] == "read-write"


def test_operators_console_follows_both_databases_like_the_apps() -> None:
    env = environment("operator-console")
    for variable, database in (("DATABASE_URL", "idp"), ("PORTAL_DATABASE_URL", "portal")):
        raw = env[f"OPERATOR_CONSOLE_{variable}"]
        name = f"ELECTIONS_{'IDP' if database == 'idp' else 'PORTAL'}_DATABASE_URL"
        assert interpolate(raw) == f"postgresql+psycopg://elections@postgres:5432/{database}"
        assert make_url(interpolate(raw, {**DOTENV, name: documented(name)})).query["host"] == (
            "postgres:5432",
            "postgres-replica:5432",
        )


def test_postgres_standby_copies_the_primary_and_streams_from_it() -> None:
    replica = SERVICES["postgres-replica"]
    assert replica["image"] == SERVICES["postgres"]["image"]
    assert replica["user"] == "postgres", "PostgreSQL refuses to run as root"
    script = " ".join(command("postgres-replica"))
    assert "pg_basebackup --host=postgres --username=elections" in script
    assert "--write-recovery-conf" in script and "--wal-method=stream" in script
    assert "exec postgres" in script and "hot_standby=on" in script
    assert replica["environment"]["PGPASSFILE"] == "/run/secrets/pgpass" and replica["secrets"] == ["pgpass"]
    assert "pgreplica:/var/lib/postgresql/data" in replica["volumes"]
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The primary lets it replicate, keeps WAL for it, and can make commits wait for it.
    hba = (DEPLOY / "postgres" / "20-replication.sh").read_text(encoding="utf-8")
    assert 'echo "host replication elections all scram-sha-256" >> "$PGDATA/pg_hba.conf"' in hba
    assert os.access(DEPLOY / "postgres" / "20-replication.sh", os.X_OK)
    raw = command("postgres")
    primary = [interpolate(word) for word in raw]
    assert primary[0] == "postgres" and "wal_keep_size=1024" in primary
    assert "synchronous_standby_names=" in primary, "asynchronous unless .env asks"
    synchronous = [interpolate(word, {**DOTENV, "ELECTIONS_PG_SYNCHRONOUS_STANDBYS": "*"}) for word in raw]
    assert "synchronous_standby_names=*" in synchronous


@pytest.mark.skipif(_compose_cli() is None, reason="no compose CLI (apt-get install docker-compose)")
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_compose_resolves_each_profile(profile: str, tmp_path: Path) -> None:
    cli = _compose_cli()
    assert cli is not None
    compose_file = tmp_path / "docker-compose.yml"
    text = COMPOSE_TEXT if cli == ["docker", "compose"] else re.sub(r"(?m)^name: .*\n", "", COMPOSE_TEXT)
    compose_file.write_text(text, encoding="utf-8")

    def services(*options: str) -> set[str]:
        files = ["--project-directory", str(ROOT), "--env-file", str(DEPLOY / "env.example"), "-f", str(compose_file)]
        done = subprocess.run(
            [*cli, *files, *options, "config", "--services"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path)},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return set(done.stdout.split())

    # Debian's docker-compose 1.29 lists every service in ``config`` whatever the profiles; what matters here is
    # that the file with the profile resolves, and holds the profile's services beside the base ones.
    base = services()
    assert services("--profile", profile) >= base | PROFILES[profile]


def test_compose_cli_is_here_in_ci() -> None:
    if os.environ.get("CI") == "true":
        assert shutil.which("docker-compose") or shutil.which("docker")
