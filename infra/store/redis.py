"""Ephemeral store on Redis: production, shared by every web process on every machine (Redis 6.2+, for GETDEL).

Redis is reached directly (``REDIS_URL``) or through Redis Sentinel (``REDIS_SENTINELS``), which names the current
primary: after the primary is lost and a replica promoted, the next command asks the Sentinels again and goes to
the new primary (redis-py's Sentinel support), with no change of configuration and no restart.

An outage must cost a request a bounded time, never a hang: every socket operation times out
(:attr:`RedisSettings.timeout`), a failed command is retried once at most (a pooled connection that died with a
restart or a failover), and after a failure the store answers :class:`StoreUnavailable` at once for
:attr:`RedisStore.cooldown` seconds instead of sending every request to wait on a server that just failed (no retry
storm). What Redis answers when it refuses to serve (read-only replica, not enough replicas, out of memory, loading)
is an outage too; any other error is a bug and raises as itself.

Replication is asynchronous: a write acknowledged by a primary that dies before its replica got it is lost at the
failover. ``REDIS_WAIT_REPLICAS`` makes every write wait (``WAIT``, at most :data:`WAIT_TIMEOUT_MS`) until that many
replicas have it, which narrows that window to nothing in practice at the cost measured by
``python -m benchmarks.store_replication`` (docs/operators/resilience.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from infra.store.interface import Entry, StoreUnavailable

T = TypeVar("T")

# INCR then set the expiry only when the counter was just created: a fixed window, atomically.
_INCR_WITH_EXPIRY = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return value
"""

# INCR unless a guard key (KEYS[2..]) is live: {0, the longest guard's milliseconds left} without counting, else
# {the new value, 0}, the expiry set when the counter is created. One script: checked and counted atomically.
_INCR_UNLESS = """
local left = 0
for i = 2, #KEYS do
  local ms = redis.call('PTTL', KEYS[i])
  if ms > left then left = ms end
end
if left > 0 then return {0, left} end
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {value, 0}
"""

# Add a key to a tag's set, and make the set live at least as long as that key (never shorten it).
_TAG = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

#: Tag sets live under this part of the prefix; no caller's key starts with it.
TAG_NAMESPACE = "tags:"
#: Default name under which the Sentinels monitor the primary (``sentinel monitor elections …``).
DEFAULT_MASTER = "elections"
#: Default seconds a connection attempt or a reply may take.
DEFAULT_TIMEOUT = 1.0
#: Longest wait, in milliseconds, for the replicas' acknowledgement of a write (``REDIS_WAIT_REPLICAS``).
WAIT_TIMEOUT_MS = 200
#: Error replies by which a Redis server refuses to serve now (not a mistake of ours): a replica, a primary without
#: enough replicas (``min-replicas-to-write``), full (``noeviction``), loading its data, or without its primary.
_REFUSALS = ("READONLY", "NOREPLICAS", "OOM", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")


@dataclass(frozen=True)
class RedisSettings:
    """How an app reaches Redis: ``url``, or the Sentinels that know the primary of ``master``.

    With Sentinels, ``url`` (optional) gives only the database number, the user name, the password and TLS
    (``rediss://``) of the data nodes; its host is not used. ``sentinel_password`` is the Sentinels' own password.
    """

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = DEFAULT_MASTER
    sentinel_password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    wait_replicas: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RedisSettings | None:
        """The settings of an app's ``REDIS_*`` keys, or None when the app uses no Redis (neither URL nor
        Sentinels). Raises ValueError naming the setting whose value is unusable."""
        url = str(config.get("REDIS_URL") or "") or None
        sentinels = parse_sentinels(str(config.get("REDIS_SENTINELS") or ""))
        if url is None and not sentinels:
            return None
        raw_timeout = config.get("REDIS_TIMEOUT")
        try:
            timeout = DEFAULT_TIMEOUT if raw_timeout is None else float(raw_timeout)
        except (TypeError, ValueError):
            raise ValueError("REDIS_TIMEOUT must be a number of seconds") from None
        if not 0 < timeout <= 30:
            raise ValueError("REDIS_TIMEOUT must be between 0 and 30 seconds")
        try:
            wait_replicas = int(config.get("REDIS_WAIT_REPLICAS") or 0)
        except (TypeError, ValueError):
            raise ValueError("REDIS_WAIT_REPLICAS must be an integer") from None
        if wait_replicas < 0:
            raise ValueError("REDIS_WAIT_REPLICAS must be 0 or more")
        return cls(
            url=url,
            sentinels=sentinels,
            master=str(config.get("REDIS_SENTINEL_MASTER") or DEFAULT_MASTER),
            sentinel_password=str(config.get("REDIS_SENTINEL_PASSWORD") or "") or None,
            timeout=timeout,
            wait_replicas=wait_replicas,
        )


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """``"s1:26379, s2:26379, [::1]:26379"`` → ``(("s1", 26379), ("s2", 26379), ("::1", 26379))``."""
    addresses: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"REDIS_SENTINELS must list host:port pairs separated by commas, got {item!r}")
        addresses.append((host, int(port)))
    return tuple(addresses)


def connect(settings: RedisSettings) -> redis.Redis:
    """A client of the primary, with bounded timeouts and one quick retry (see the module's docstring)."""
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.timeout,
        "socket_connect_timeout": settings.timeout,
        # One retry, 20 ms later, after a connection error only: enough for a pooled connection that died with a
        # restart or a failover (the retry opens a new one, to the new primary behind Sentinels), never a storm
        # against a server that is down. A timeout is not retried: a server that hangs would cost twice as long.
        "retry": Retry(
            ExponentialBackoff(cap=0.05, base=0.02), 1, supported_errors=(redis.exceptions.ConnectionError,)
        ),
    }
    if not settings.sentinels:
        assert settings.url is not None
        return redis.Redis.from_url(settings.url, **common)
    node: dict[str, Any] = {}
    if settings.url:
        parsed = parse_url(settings.url)  # type: ignore[no-untyped-call]
        node = {name: parsed[name] for name in ("db", "username", "password") if parsed.get(name) is not None}
        if settings.url.startswith("rediss://"):
            node["ssl"] = True
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(settings.sentinels),
        sentinel_kwargs={
            "socket_timeout": settings.timeout,
            "socket_connect_timeout": settings.timeout,
            "password": settings.sentinel_password,
            "decode_responses": True,
        },
    )
    return cast(redis.Redis, sentinel.master_for(settings.master, **common, **node))  # type: ignore[no-untyped-call]


def is_outage(error: BaseException) -> bool:
    """Whether a redis-py error means the server cannot serve now (rather than a mistake in the command)."""
    if isinstance(error, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return True  # MasterNotFoundError (no Sentinel knows a primary) and BusyLoadingError are ConnectionErrors
    if isinstance(error, redis.exceptions.ResponseError):
        return isinstance(error, redis.exceptions.ReadOnlyError) or str(error).upper().startswith(_REFUSALS)
    return False


class RedisStore:
    """Implements :class:`infra.store.interface.EphemeralStore` on Redis; every key starts with ``prefix``.

    Tags are sets of keys (``<prefix>tags:sid:<sid>``) that live as long as their longest-lived member.
    """

    #: Seconds during which, after an outage was met, operations fail at once (:class:`StoreUnavailable`).
    cooldown = 0.5

    def __init__(self, client: redis.Redis, prefix: str = "", *, wait_replicas: int = 0) -> None:
        self.client = client
        self.prefix = prefix
        self.wait_replicas = wait_replicas
        # Scripts go by their SHA-1 (EVALSHA) in the pipelines of ``_write``, which loads them when a server does
        # not know them: redis-py's pipeline scripts would ask SCRIPT EXISTS first, one more round trip each time.
        self._incr = client.register_script(_INCR_WITH_EXPIRY)
        self._incr_unless = client.register_script(_INCR_UNLESS)
        self._tag = client.register_script(_TAG)
        self._failed_until = 0.0
        self._lock = threading.Lock()
        #: Per thread, the writes of an open :meth:`batched` block not sent yet (each queues its commands).
        self._held = threading.local()
        #: Writes the replicas had not all acknowledged within WAIT_TIMEOUT_MS (``REDIS_WAIT_REPLICAS``).
        self.unreplicated_writes = 0

    @classmethod
    def from_url(cls, url: str, prefix: str = "") -> RedisStore:
        return cls.from_settings(RedisSettings(url=url), prefix)

    @classmethod
    def from_settings(cls, settings: RedisSettings, prefix: str = "") -> RedisStore:
        return cls(connect(settings), prefix, wait_replicas=settings.wait_replicas)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _tag_key(self, kind: str, value: str) -> str:
        return f"{self.prefix}{TAG_NAMESPACE}{kind}:{value}"

    def _call(self, operation: Callable[[], T]) -> T:
        """Run ``operation``; an outage raises :class:`StoreUnavailable` (and opens the cooldown)."""
        if time.monotonic() < self._failed_until:
            raise StoreUnavailable("Redis failed moments ago")
        try:
            return operation()
        except redis.exceptions.RedisError as exc:
            if not is_outage(exc):
                raise
            with self._lock:
                self._failed_until = time.monotonic() + self.cooldown
            raise StoreUnavailable(f"Redis: {type(exc).__name__}") from exc

    def _write(self, queue: Callable[[Any], None]) -> list[Any]:
        """Run the commands ``queue`` adds to a pipeline (one round trip), then ``WAIT`` for the replicas if asked;
        return the commands' replies."""

        def execute() -> list[Any]:
            with self.client.pipeline(transaction=False) as pipe:
                queue(pipe)
                if self.wait_replicas:
                    pipe.execute_command("WAIT", self.wait_replicas, WAIT_TIMEOUT_MS)  # type: ignore[no-untyped-call]
                return pipe.execute()

        def run() -> list[Any]:
            try:
                replies = execute()
            except redis.exceptions.NoScriptError:
                # A server that does not know our scripts yet (restarted, or a replica promoted): load them, then
                # run the commands again (each is idempotent, or was refused before it ran: an EVALSHA of an
                # unknown script does nothing).
                self._load_scripts()
                replies = execute()
            if self.wait_replicas:
                acknowledged = int(replies.pop())
                if acknowledged < self.wait_replicas:
                    with self._lock:
                        self.unreplicated_writes += 1
            return replies

        return self._call(run)

    def _one(self, command: Callable[[Any], Any]) -> Any:
        """One write command (``command`` calls it on a client or queues it on a pipeline); return its reply.

        Writes this thread holds (:meth:`batched`) go first in the same pipeline when none of them runs a script:
        then nothing in it can be refused for an unknown script but the command itself, which did nothing if it
        was, so running the pipeline again (:meth:`_write`) repeats only idempotent writes (``SET``, ``DEL``) and
        never a non-idempotent command that ran (``GETDEL``, ``SET NX``, an ``INCR``). Writes that run a script (a
        tag) are sent on their own first.

        Otherwise, without ``WAIT``, the command goes straight through the client: the same round trip as a
        pipeline of one, without building and unpacking a pipeline (a few µs each). An ``EVALSHA`` refused because
        the server does not know the script did nothing: the scripts are loaded and the command sent again.
        """
        held = getattr(self._held, "writes", None)
        if held and not held.scripted:
            queued = held.take()

            def queue(pipe: Any) -> None:
                _queue_all(pipe, queued)
                command(pipe)

            return self._write(queue)[-1]
        self._send_held()
        if self.wait_replicas:
            return self._write(command)[0]

        def run() -> Any:
            try:
                return command(self.client)
            except redis.exceptions.NoScriptError:
                self._load_scripts()
                return command(self.client)

        return self._call(run)

    def _load_scripts(self) -> None:
        for script in (_INCR_WITH_EXPIRY, _INCR_UNLESS, _TAG):
            self.client.script_load(script)

    @contextmanager
    def batched(self, *, sets: bool = True) -> Iterator[None]:
        held = getattr(self._held, "writes", None)
        if held is not None:  # nested: the outermost block sends
            if held.sets or not sets:
                yield
                return
            held.sets = True  # an inner block's sets are held while it runs, and then stay held
            try:
                yield
            finally:
                held.sets = False
            return
        held = _Held(sets=sets)
        self._held.writes = held
        try:
            yield
        except BaseException:
            self._held.writes = None
            with suppress(StoreUnavailable):
                self._send_held(held)
            raise
        self._held.writes = None
        self._send_held(held)

    def _send_held(self, held: _Held | None = None) -> None:
        """Send the writes held by this thread's :meth:`batched` block (one round trip), before another call."""
        writes = held if held is not None else getattr(self._held, "writes", None)
        if writes:
            queued = writes.take()
            self._write(lambda pipe: _queue_all(pipe, queued))

    def _read(self, read: Callable[[Any], Any], direct: Callable[[], T]) -> T:
        """A read (``direct``), or, while this thread holds writes, the same read (``read`` queues it) in one
        pipeline after them: idempotent commands only, the pipeline may run twice (:meth:`_write`)."""
        writes = getattr(self._held, "writes", None)
        if not writes:
            return self._call(direct)
        queued = writes.take()
        return cast(T, self._write(lambda pipe: _queue_all(pipe, [*queued, read]))[-1])

    def set(
        self,
        key: str,
        value: str,
        ttl: int,
        *,
        sid: str | None = None,
        sub: str | None = None,
        retiring: Entry | None = None,
    ) -> None:
        ttl = max(1, int(ttl))

        def queue(pipe: Any) -> None:
            if retiring is not None:
                old = retiring
                self._queue_set(pipe, old.key, old.value, max(1, int(old.ttl)), old.sid, old.sub)
            self._queue_set(pipe, key, value, ttl, sid, sub)

        scripted = bool(sid or sub or (retiring is not None and (retiring.sid or retiring.sub)))
        held = getattr(self._held, "writes", None)
        if held is not None and held.sets:
            held.hold(queue, scripted=scripted)
            return
        if held:  # what the block holds goes first, in the same round trip (idempotent writes: see _one)
            queued = held.take()
            self._write(lambda pipe: _queue_all(pipe, [*queued, queue]))
            return
        self._write(queue)

    def _queue_set(self, pipe: Any, key: str, value: str, ttl: int, sid: str | None, sub: str | None) -> None:
        # Tags first: the pipeline is not a transaction (WAIT cannot wait inside one), and a tag without its entry
        # (a failure between the two) is harmless, whereas an entry without its tag would outlive a logout.
        for kind, tag in (("sid", sid), ("sub", sub)):
            if tag:
                pipe.evalsha(self._tag.sha, 1, self._tag_key(kind, tag), key, ttl)
        pipe.set(self._key(key), value, ex=ttl)

    def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._one(lambda r: r.set(self._key(key), value, ex=max(1, int(ttl)), nx=True)))

    def get(self, key: str) -> str | None:
        name = self._key(key)
        return cast("str | None", self._read(lambda pipe: pipe.get(name), lambda: self.client.get(name)))

    def take(self, key: str, *, leaving: Entry | None = None) -> str | None:
        name = self._key(key)
        if leaving is None:
            return cast("str | None", self._one(lambda r: r.getdel(name)))
        mark, value, ttl = self._key(leaving.key), leaving.value, max(1, int(leaving.ttl))

        def queue(pipe: Any) -> None:
            pipe.getdel(name)
            pipe.set(mark, value, ex=ttl)

        # A pipeline of two, after what this thread holds when none of it runs a script (as _one does): no script
        # in it, so it is never run again (GETDEL is not idempotent).
        held = getattr(self._held, "writes", None)
        queued = held.take() if held and not held.scripted else []
        self._send_held()
        return cast("str | None", self._write(lambda pipe: _queue_all(pipe, [*queued, queue]))[-2])

    def incr(self, key: str, ttl: int) -> int:
        return int(self._one(lambda r: r.evalsha(self._incr.sha, 1, self._key(key), max(1, int(ttl)))))

    def incr_unless(self, key: str, ttl: int, guards: Sequence[str]) -> tuple[int, int | None]:
        keys = [self._key(key), *(self._key(g) for g in guards)]
        reply = self._one(lambda r: r.evalsha(self._incr_unless.sha, len(keys), *keys, max(1, int(ttl))))
        count, left_ms = (int(v) for v in reply)
        return count, (math.ceil(left_ms / 1000) if left_ms > 0 else None)

    def ttl(self, key: str) -> int | None:
        # PTTL rounded up, as the SQL store does: TTL would round a live key's last half second down to 0 and
        # report it absent. PTTL answers -2 for an absent key (and -1 for one without expiry, which we never set).
        name = self._key(key)
        left_ms = int(self._read(lambda pipe: pipe.pttl(name), lambda: self.client.pttl(name)))
        return math.ceil(left_ms / 1000) if left_ms > 0 else None

    def delete(self, key: str, *, deferrable: bool = False) -> None:
        name = self._key(key)
        held = getattr(self._held, "writes", None)
        if deferrable and held is not None:
            held.hold(lambda pipe: pipe.delete(name), scripted=False)
            return
        self._one(lambda r: r.delete(name))

    def delete_tagged(self, *, sid: str | None = None, sub: str | None = None) -> int:
        if sid:
            tag = self._tag_key("sid", sid)
        elif sub:
            tag = self._tag_key("sub", sub)
        else:
            return 0
        self._send_held()
        members = cast("set[str]", self._call(lambda: self.client.smembers(tag)))

        def queue(pipe: Any) -> None:
            if members:
                pipe.delete(*(self._key(m) for m in members))
            pipe.delete(tag)

        replies = self._write(queue)
        return int(replies[0]) if members else 0

    def purge_expired(self) -> int:
        return 0

    def close(self) -> None:
        self.client.close()


class _Held:
    """The writes of one thread's open :meth:`RedisStore.batched` block not sent yet, in order (each queues its
    commands on a pipeline), whether one of them runs a script, and whether the block holds sets now."""

    def __init__(self, *, sets: bool) -> None:
        self.queued: list[Callable[[Any], None]] = []
        self.scripted = False
        self.sets = sets

    def __bool__(self) -> bool:
        return bool(self.queued)

    def hold(self, queue: Callable[[Any], None], *, scripted: bool) -> None:
        self.queued.append(queue)
        self.scripted = self.scripted or scripted

    def take(self) -> list[Callable[[Any], None]]:
        """The held writes, to send now; none are held afterwards."""
        queued, self.queued, self.scripted = self.queued, [], False
        return queued


def _queue_all(pipe: Any, queued: Sequence[Callable[[Any], None]]) -> None:
    for queue in queued:
        queue(pipe)
