"""The background loop of every follower and worker: ``run_once`` again and again on a daemon
thread until stopped, resting ``interval`` seconds after a round that found nothing to do (or
after every round, ``rest_always``), unless woken. A failing round is logged and tried again: a
follower that gave up would silently stop the read models, the alerts or the webhooks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Poller:
    def __init__(self, name: str, run_once: Callable[[], object], interval: float, *,
                 rest_always: bool = False) -> None:
        self.name, self.run_once, self.interval, self.rest_always = name, run_once, interval, rest_always
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Start the next round now (new work was committed)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - keep going; logged and retried
                log.exception("%s: round failed; retrying", self.name)
                busy = 0
            if self.rest_always or not busy:
                self._wake.wait(self.interval)
                self._wake.clear()
