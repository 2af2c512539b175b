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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import prepend_scheme_if_needed, select_proxy
from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPSConnectionPool, PoolManager, Timeout
from urllib3 import exceptions as urllib3_errors
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


@dataclass(frozen=True)
class Route:
    """Where the requests to one URL go, as ``requests`` would send them: the pool manager (direct or the proxy's),
    the pool's key and the request target (the path, or the whole URL through a plain-http proxy)."""

    manager: PoolManager
    host: Mapping[str, Any]
    pool_kwargs: Mapping[str, Any]
    target: str


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

    def route(self, url: str, settings: Mapping[str, Any]) -> Route:
        """Where ``url`` is sent with ``settings`` (``requests``' merged environment settings: ``proxies``,
        ``verify``, ``cert``), worked out as :meth:`HTTPAdapter.send` does for each request."""
        prepared = requests.PreparedRequest()
        prepared.prepare(method="GET", url=url)
        proxies = settings.get("proxies") or {}
        proxy = select_proxy(url, proxies)
        host, pool_kwargs = self.build_connection_pool_key_attributes(prepared, settings["verify"], settings["cert"])
        manager = (
            self.proxy_manager_for(prepend_scheme_if_needed(proxy, "http"))  # type: ignore[no-untyped-call]
            if proxy
            else self.poolmanager
        )
        return Route(manager, host, pool_kwargs, self.request_url(prepared, proxies))

    def send_on(
        self, route: Route, method: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> BaseHTTPResponse:
        """One request on ``route``'s pool, its answer read whole; a failure raised as ``requests`` raises it."""
        pool = route.manager.connection_from_host(**route.host, pool_kwargs=dict(route.pool_kwargs))
        try:
            return pool.urlopen(
                method,
                route.target,
                body=body,
                headers=dict(headers),
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=True,
                retries=self.max_retries,
                timeout=Timeout(connect=timeout, read=timeout),
            )
        except urllib3_errors.MaxRetryError as exc:
            reason = exc.reason
            if isinstance(reason, urllib3_errors.ConnectTimeoutError):
                raise requests.ConnectTimeout(exc) from exc
            if isinstance(reason, urllib3_errors.ProxyError):
                raise requests.exceptions.ProxyError(exc) from exc
            if isinstance(reason, urllib3_errors.SSLError):
                raise requests.exceptions.SSLError(exc) from exc
            raise requests.ConnectionError(exc) from exc
        except urllib3_errors.ProxyError as exc:
            raise requests.exceptions.ProxyError(exc) from exc
        except urllib3_errors.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        except urllib3_errors.ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from exc
        except (urllib3_errors.HTTPError, OSError) as exc:
            raise requests.ConnectionError(exc) from exc


def shared_adapter(owner: object) -> SharedAdapter:
    """A :class:`SharedAdapter` whose connections are closed when ``owner`` (the app) is garbage collected."""
    adapter = SharedAdapter()
    weakref.finalize(owner, adapter.shutdown)
    return adapter
