"""One signed ``POST`` to a checked target over a kept-alive connection (``urllib3``).

Contract: the connection goes to ``Target.address``, the address ``targets.resolve`` checked, never
to a fresh resolution of the host name; for ``https`` the server's certificate is verified against
the URL's host name (sent as SNI and checked), not against the address. No redirect is followed,
nothing is retried here (the delivery worker retries, with back-off), no proxy from the
environment is used, and at most ``max_body`` bytes of the answer are read: a longer answer's
connection is dropped instead of being kept. An exchange ends by its ``deadline`` (a watchdog shuts its
socket down then): urllib3's timeouts bound each wait for bytes, not the whole, so a receiver sending
a byte a second would otherwise hold a delivery thread, and its stream's lease, as long as it liked.

``urllib3`` rather than ``httpx`` here: one delivery costs ~0.2 ms of CPU instead of ~0.4-0.6 ms
(measured on this project's 2-core machine), and the delivery worker sends hundreds a second.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Mapping
from contextlib import suppress

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError

from .targets import Target


class SendFailed(Exception):
    """The request got no HTTP answer (refused, timed out, TLS refused, connection broken)."""


class _Exchange:
    """One request and its answer, on the connection that carries it (set once it connects or sends)."""

    __slots__ = ("connection", "cut", "deadline")

    def __init__(self, deadline: float) -> None:
        self.deadline, self.connection, self.cut = deadline, None, False


_running = threading.local()  # the exchange this thread is running: its connection joins it


class _Joins:
    """A connection that joins the exchange of the thread using it, new (at connect, before TLS)
    or kept alive (at request)."""

    def _join(self) -> None:
        exchange = getattr(_running, "exchange", None)
        if exchange is not None:
            exchange.connection = self

    def connect(self) -> None:
        self._join()
        super().connect()  # type: ignore[misc]

    def request(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - urllib3's signature
        self._join()
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTP(_Joins, HTTPConnection):
    pass


class _HTTPS(_Joins, HTTPSConnection):
    pass


class _Watchdog:
    """Shuts down the socket of every exchange still running at its deadline (checked every TICK)."""

    TICK = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: set[_Exchange] = set()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, exchange: _Exchange) -> None:
        with self._lock:
            self._exchanges.add(exchange)
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()

    def done(self, exchange: _Exchange) -> bool:
        """Stop watching; whether the exchange was cut (then its connection must not be kept)."""
        with self._lock:
            self._exchanges.discard(exchange)
            return exchange.cut

    def _run(self) -> None:
        while not self._closed.wait(self.TICK):
            now, late = time.monotonic(), []
            with self._lock:  # the socket is taken while the exchange is still running: never another's
                for exchange in [e for e in self._exchanges if e.deadline <= now]:
                    self._exchanges.discard(exchange)
                    exchange.cut = True
                    late.append(getattr(exchange.connection, "sock", None))
            for sock in late:
                if sock is not None:
                    with suppress(OSError):  # already closed, or never connected
                        sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join()


class Transport:
    def __init__(self, *, timeout: float, connections: int, max_body: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.timeout = timeout
        self.connections, self.max_body = connections, max_body
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()
        self._watchdog = _Watchdog()

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                common = {"maxsize": self.connections, "block": False, "retries": False}
                if target.scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        target.address, target.port, ssl_context=self.ssl_context, cert_reqs="CERT_REQUIRED",
                        server_hostname=target.host, assert_hostname=target.host, **common)
                    pool.ConnectionCls = _HTTPS
                else:
                    pool = urllib3.HTTPConnectionPool(target.address, target.port, **common)
                    pool.ConnectionCls = _HTTP
                self._pools[key] = pool
            return pool

    def post(self, target: Target, body: bytes, headers: Mapping[str, str], deadline: float | None = None) -> int:
        """POST ``body`` to ``target``; the answer's status code, else ``SendFailed``. The exchange
        ends by ``deadline`` (``time.monotonic()``; default: ``timeout`` from now), answered or not."""
        deadline = time.monotonic() + self.timeout if deadline is None else deadline
        left = min(self.timeout, deadline - time.monotonic())
        if left <= 0:
            raise SendFailed("no time left before the deadline")
        exchange = _Exchange(deadline)
        self._watchdog.watch(exchange)
        _running.exchange = exchange
        try:
            answer = self._pool(target).urlopen(
                "POST", target.path, body=body, headers=dict(headers), redirect=False, retries=False,
                preload_content=False, timeout=urllib3.Timeout(connect=left, read=left))
        except (HTTPError, OSError) as error:
            cut = self._watchdog.done(exchange)
            raise SendFailed("no answer by the deadline" if cut else f"{type(error).__name__}: {error}") from None
        finally:
            _running.exchange = None
        try:
            read: bytes | None = answer.read(self.max_body)
        except (HTTPError, OSError):
            read = None  # the status line came: it counts; the body broke off (or was cut)
        if self._watchdog.done(exchange) or read is None or len(read) >= self.max_body:
            answer.close()  # cut, broken, or unread bytes may follow: this connection is not reused
        else:
            answer.release_conn()
        return answer.status

    def close(self) -> None:
        self._watchdog.close()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
