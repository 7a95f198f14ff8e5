"""A real webhook receiver on a loopback port (a thread serving HTTP), for tests and drills.

It keeps every request it answered 2xx (headers and body, in arrival order) and can be told to
answer the next N requests with an error (``fail_next``) or to stop listening and start again on
the same port (``down`` / ``up``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    # http.server listens with a backlog of 5: a sender opening more connections at once than that
    # waits for SYN retries (1 s, 3 s, ...), which a production receiver's listener never imposes
    request_queue_size = 128


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, port: int = 0, *, keep_alive: bool = False,
                 on_receive: Callable[[Received], None] | None = None) -> None:
        self.keep_alive = keep_alive
        self.on_receive = on_receive
        self.received: list[Received] = []
        self.refused = 0  # requests answered with an error
        self.delay = 0.0  # seconds each request takes to answer
        self._fail = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # keep-alive (as a production receiver would) only when asked: `down()` cannot close
            # a connection a handler thread keeps open
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                if len(raw) < length:  # the sender died mid-request: nothing was delivered
                    self.close_connection = True
                    return
                body = raw.decode()
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    failing = receiver._fail > 0
                    if failing:
                        receiver._fail -= 1
                        receiver.refused += 1
                    else:
                        received = Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
                        receiver.received.append(received)
                        if receiver.on_receive is not None:
                            receiver.on_receive(received)
                self.send_response(500 if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def up(self) -> None:
        server = _Server(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fail_next(self, n: int) -> None:
        with self._lock:
            self._fail = n

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return True
            time.sleep(0.02)
        return len(self.received) >= count




class ReceiverProcess:
    """The same receiver in a process of its own, as a subscriber's system would be: it does not
    share an interpreter lock with the process that appends (B9). Each 2xx-answered request is
    written to ``log`` as one line ``{"position", "at", "id"}``; ``arrivals()`` reads them back."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", str(log)],  # noqa: S603
                                      stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())
        self._seen = 0
        self._arrivals: list[tuple[int, float, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def arrivals(self) -> list[tuple[int, float, str]]:
        """``(position, arrival time, webhook-id)`` of every request answered 2xx so far, in order."""
        with self.log.open() as f:
            lines = f.read().splitlines()
        complete = lines if not lines or lines[-1].endswith("}") else lines[:-1]
        for line in complete[self._seen:]:
            item = json.loads(line)
            self._arrivals.append((item["position"], item["at"], item["id"]))
        self._seen = len(complete)
        return list(self._arrivals)

    def down(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


def _serve(log: TextIO) -> None:
    lock = threading.Lock()

    def note(received: Received) -> None:
        line = json.dumps({"position": received.json["data"]["position"], "at": received.at,
                           "id": received.headers.get("webhook-id")})
        with lock:
            log.write(line + "\n")
            log.flush()

    receiver = Receiver(keep_alive=True, on_receive=note)
    print(receiver.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    with open(sys.argv[1], "a") as out:
        _serve(out)
