"""Redis Sentinel: a primary ``kill -9``-ed, a replica promoted by three Sentinels, and the store following it
within 10 s with what it held (sessions, CAPTCHA answers, lockout counters) — on real ``redis-server`` and
``redis-sentinel`` processes of the test's own, and with each app's ``*_REDIS_SENTINELS`` setting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.store import StoreUnavailable, redis_settings
from infra.store import redis as redis_store
from infra.store.redis import RedisStore
from tests.redis_servers import RedisServer, SentinelGroup, wait_until


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer, SentinelGroup]]:
    primary = RedisServer(tmp_path).start()
    replica = RedisServer(tmp_path, replica_of=primary).start()
    primary.wait_for_replicas()
    sentinels = SentinelGroup(tmp_path, primary)
    yield primary, replica, sentinels
    sentinels.close()
    replica.close()
    primary.close()


def test_the_store_follows_a_promoted_replica_within_ten_seconds_and_keeps_what_it_held(
    cluster: tuple[RedisServer, RedisServer, SentinelGroup], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, replica, sentinels = cluster
    # WAIT gets 5 s here instead of the production 200 ms: this test is about what the promoted replica holds, and a
    # replica that needed more than 200 ms to acknowledge (seen once in a full run) would fail it for the wrong reason.
    monkeypatch.setattr(redis_store, "WAIT_TIMEOUT_MS", 5000)
    settings = redis_settings({"REDIS_SENTINELS": sentinels.addresses, "REDIS_WAIT_REPLICAS": 1})
    assert settings is not None
    store = RedisStore.from_settings(settings, "idp:")
    assert sentinels.primary_port() == primary.port
    # What a voter mid-journey has in the store: a session, a CAPTCHA answer, two password failures.
    store.set("session:abc", '{"data": {"user": "claire"}}', 1800, sid="op-sid")
    store.set("captcha:xyz", "40213", 300)
    store.incr("lockout:claire", 900)
    store.incr("lockout:claire", 900)
    assert store.unreplicated_writes == 0, "WAIT: the replica acknowledged every write"
    # From here the production budget: the promoted replica has no replica of its own, so each write waits it out.
    monkeypatch.setattr(redis_store, "WAIT_TIMEOUT_MS", 200)

    primary.kill()
    killed = time.monotonic()
    store.cooldown = 0.1

    def writes_again() -> bool:
        try:
            store.set("probe", "1", 60)
        except StoreUnavailable:
            return False
        return True

    wait_until(writes_again, 10, "the store writes to the promoted replica")
    recovered = time.monotonic() - killed
    assert recovered < 10
    assert sentinels.primary_port() == replica.port
    assert store.get("session:abc") == '{"data": {"user": "claire"}}'
    assert store.take("captcha:xyz") == "40213"
    assert store.incr("lockout:claire", 900) == 3, "the lockout counter goes on where it was"
    assert store.delete_tagged(sid="op-sid") == 1, "the tags followed too: a logout still ends the session"
    store.close()


@pytest.mark.parametrize(
    ("module", "prefix"),
    [
        ("idp.config", "IDP_"),
        ("relying_party.config", "PORTAL_"),
        ("audit_console.config", "AUDIT_CONSOLE_"),
        ("fc_dev_provider.config", "FCDEV_"),
    ],
)
def test_every_app_reads_its_sentinel_settings(module: str, prefix: str) -> None:
    import importlib

    config_module = importlib.import_module(module)
    settings = config_module.SETTINGS.load(
        {
            f"{prefix}REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379",
            f"{prefix}REDIS_SENTINEL_MASTER": "elections-prod",
            f"{prefix}REDIS_URL": "redis://:data-node-password@unused/3",
            f"{prefix}REDIS_TIMEOUT": "0.5",
            f"{prefix}REDIS_WAIT_REPLICAS": "1",
        }
    )
    redis = redis_settings(settings)
    assert redis is not None
    assert redis.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26379))
    assert (redis.master, redis.timeout, redis.wait_replicas) == ("elections-prod", 0.5, 1)
