"""One keep-alive connection pool for an app's calls to another service (the OpenID Provider), with ``requests``.

A ``requests.Session`` made and closed for every call (what Authlib's clients do) opens a new TCP connection, and a
TLS handshake in production, for each token, userinfo or JWKS request, and reads the proxy settings from the whole
process environment each time. :class:`SharedAdapter` is mounted on each such session instead of its own adapters:
the sessions come and go, the pool stays, and the connections are reused (thread safe: urllib3's pools are).

The client closes an idle connection before the server would (:data:`MAX_IDLE`): otherwise a request could go out
on a connection the server is closing at that instant and fail for nothing, the reset that infra/web_server.py keeps
off the proxy → application hop. A connection idle longer than that is closed when it is taken from the pool, and a
new one opened.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection

#: Seconds a pooled connection may stay idle before it is closed rather than reused: well under the idle timeout of
#: the servers it reaches (granian's 60 s, infra.web_server.APP_KEEP_ALIVE; Caddy's 5 minutes toward clients).
MAX_IDLE = 20.0


class _IdleLimit:
    """What both pool classes add to urllib3's (placed before it in their bases): the time each connection went back
    to the pool, and a stale one closed as it is taken out."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle: weakref.WeakKeyDictionary[HTTPConnection, float] | None = self.__dict__.get("_idle_since")
        since = idle.pop(conn, None) if idle is not None and conn is not None else None
        if since is not None and time.monotonic() - since > MAX_IDLE:
            conn.close()  # urllib3 opens it again for the request, as it does for a connection the server dropped
        return conn

    def _put_conn(self, conn: Any) -> None:
        idle: weakref.WeakKeyDictionary[HTTPConnection, float] = self.__dict__.setdefault(
            "_idle_since", weakref.WeakKeyDictionary()
        )
        if conn is not None:
            idle[conn] = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]


class _HTTPPool(_IdleLimit, HTTPConnectionPool):
    pass


class _HTTPSPool(_IdleLimit, HTTPSConnectionPool):
    pass


def _limit_idle(manager: PoolManager) -> PoolManager:
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class SharedAdapter(HTTPAdapter):
    """An adapter mounted on many short-lived sessions: closing a session leaves its pool open; :meth:`shutdown`
    closes it (the app that owns it goes away)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        _limit_idle(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        known = proxy in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return manager if known else _limit_idle(manager)

    def close(self) -> None:
        """A session that used the pool is closed: the pool stays for the next one."""

    def shutdown(self) -> None:
        super().close()


def shared_adapter(owner: object) -> SharedAdapter:
    """A :class:`SharedAdapter` whose connections are closed when ``owner`` (the app) is garbage collected."""
    adapter = SharedAdapter()
    weakref.finalize(owner, adapter.shutdown)
    return adapter
