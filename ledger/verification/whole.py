"""Both passes of ``ledger verify`` at once: the streams and the global log.

The stream pass (:func:`~ledger.verification.verify.verify_database`) keeps every core busy
with its process pool until its last partitions, then the cores idle while the log pass
(:func:`~ledger.verification.verify_log.verify_log`) reads the table again in commit order. Run
one after the other, the log pass is pure added time; run here in a thread of this process (which
otherwise only waits for the pool's results) it overlaps the stream pass. The thread starts once
the pool's processes are forked (forking while it reads would copy its locks mid-use). Each pass
reads its own connections and reports exactly what it reports alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from ..keys.sealing import KeyRing
from ..store.database import Database
from .verify import Report, verify_database
from .verify_log import LogReport, verify_log


def verify_store(
    database: Database,
    keyring: KeyRing,
    *,
    workers: int | None = None,
    signatures: bool = True,
    witness: Sequence[str] = (),
    on_partition: Callable[[Report], None] | None = None,
    on_events: Callable[[int], None] | None = None,
    events: int | None = None,
) -> tuple[Report, LogReport]:
    """``(stream report, log report)``: :func:`verify_database` and :func:`verify_log` run
    concurrently with these arguments (``events``, when known, sizes the stream pass's tasks).
    An exception of either pass is raised here, after the other pass has ended."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-log") as log_pass:
        log: list[Future[LogReport]] = []

        def start_log_pass() -> None:
            log.append(log_pass.submit(verify_log, database, keyring, witness=witness, on_events=on_events))

        report = verify_database(database, keyring, workers=workers, on_partition=on_partition,
                                 signatures=signatures, started=start_log_pass, events=events)
    return report, log[0].result()  # leaving the block waited for the log pass, however the other ended


__all__ = ["verify_store"]
