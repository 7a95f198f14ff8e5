"""One signed ``POST`` to a checked target over a kept-alive connection (``urllib3``).

Contract: the connection goes to ``Target.address``, the address ``targets.resolve`` checked, never
to a fresh resolution of the host name; for ``https`` the server's certificate is verified against
the URL's host name (sent as SNI and checked), not against the address. No redirect is followed,
nothing is retried here (the delivery worker retries, with back-off), no proxy from the
environment is used, and at most ``max_body`` bytes of the answer are read: a longer answer's
connection is dropped instead of being kept.

``urllib3`` rather than ``httpx`` here: one delivery costs ~0.2 ms of CPU instead of ~0.4-0.6 ms
(measured on this project's 2-core machine), and the delivery worker sends hundreds a second.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping

import certifi
import urllib3
from urllib3.exceptions import HTTPError

from .targets import Target


class SendFailed(Exception):
    """The request got no HTTP answer (refused, timed out, TLS refused, connection broken)."""


class Transport:
    def __init__(self, *, timeout: float, connections: int, max_body: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.connections, self.max_body = connections, max_body
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                common = {"maxsize": self.connections, "block": False, "retries": False, "timeout": self.timeout}
                if target.scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        target.address, target.port, ssl_context=self.ssl_context, cert_reqs="CERT_REQUIRED",
                        server_hostname=target.host, assert_hostname=target.host, **common)
                else:
                    pool = urllib3.HTTPConnectionPool(target.address, target.port, **common)
                self._pools[key] = pool
            return pool

    def post(self, target: Target, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` to ``target``; the answer's status code, else ``SendFailed``."""
        try:
            answer = self._pool(target).urlopen("POST", target.path, body=body, headers=dict(headers),
                                                redirect=False, retries=False, preload_content=False)
        except (HTTPError, OSError) as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        try:
            read = answer.read(self.max_body)
        except (HTTPError, OSError):
            answer.close()
            return answer.status
        if len(read) >= self.max_body:
            answer.close()  # unread bytes may follow: this connection is not reused
        else:
            answer.release_conn()
        return answer.status

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
