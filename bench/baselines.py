"""Same-run baselines: what the library, the CPU and the crypto do alone."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from ledger.domain.catalogue import typed
from ledger.envelope import canonical
from ledger.store.database import Database
from ledger.store.rawstore import RawLog, connect
from projections.read_models import GROUP_NAME, read_models
from projections.rebuild import log_head

from .env import create_pg_database, drop_pg_database


def sample_states(ledger, limit: int = 2000) -> list[bytes]:
    """Stored states of real events (for baselines that need realistic sizes)."""
    return [bytes(n.state) for n in ledger.recorder.select_notifications(1, limit)]


def library_insert(states: list[bytes], *, per_txn: int, threads: int, seconds: float) -> dict:
    """The ``eventsourcing`` PostgreSQL recorder alone inserting these states (no hashing,
    signing or HTTP), ``per_txn`` events a transaction, from ``threads`` threads."""
    name = create_pg_database("bench_lib")
    try:
        datastore = PostgresDatastore(dbname=name, host="127.0.0.1", port="5432", user="postgres", password="",
                                      pool_size=threads, max_overflow=threads)
        recorder = PostgresApplicationRecorder(datastore, events_table_name="lib_events")
        recorder.create_table()
        counts, latencies = [0] * threads, []
        stop = time.perf_counter() + seconds

        def run(index: int) -> None:
            i = 0
            while time.perf_counter() < stop:
                stream = uuid.uuid4()
                batch = [StoredEvent(stream, v + 1, "bench:Event", states[(i + v) % len(states)])
                         for v in range(per_txn)]
                began = time.perf_counter()
                recorder.insert_events(batch)
                latencies.append(time.perf_counter() - began)
                i += per_txn
                counts[index] += per_txn

        started = time.perf_counter()
        workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - started
        datastore.close()
    finally:
        drop_pg_database(name)
    latencies.sort()
    return {"events_per_s": round(sum(counts) / elapsed, 1), "transactions": len(latencies),
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
            "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 2)}


def library_read_log(ledger, *, page: int = 1000) -> dict:
    """The library's recorder reading the whole notification log, page by page (raw rows)."""
    started, count, after = time.perf_counter(), 0, 0
    while True:
        rows = ledger.recorder.select_notifications(after + 1, page)
        if not rows:
            break
        count += len(rows)
        after = rows[-1].id
    elapsed = time.perf_counter() - started
    return {"events": count, "seconds": round(elapsed, 2), "events_per_s": round(count / elapsed, 1)}


FLOOR_SCHEMA = "bench_floor"


def replay_floor(database: Database, *, processes: int, baseline: float) -> dict:
    """What any rebuild of this design pays before one read model runs, each part measured alone
    on the ledger whose read models were just rebuilt (PostgreSQL):

    * ``decode``: one process reading the log and converting each event to its typed data, as each
      share of a rebuild does (CPU seconds);
    * ``rows``: PostgreSQL inserting the rows the read models now hold (and their stream-directory
      rows) into empty tables with the same keys and indexes, server-side (``INSERT ... SELECT``:
      no parsing, no round trips);
    * ``ceiling``: the most events/s a rebuild by ``processes`` shares could reach on this
      machine's cores if its read models cost nothing: events / ((processes x decode + rows) /
      cores), and that as a ratio to ``baseline`` (B5's, the same run's log read)."""
    with connect(database) as conn:  # read-only
        started, events, after = time.process_time(), 0, 0
        log = RawLog(database, conn, log_head(database))
        while batch := log.read_log(after=after, limit=1000):
            for _, event in batch:
                typed(event.envelope["type"], event.envelope["data"])
            events, after = events + len(batch), batch[-1][0]
        decode = time.process_time() - started
    tables = (*(table for model in read_models() for table in model.tables), "stream_directory")
    with psycopg.connect(database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {FLOOR_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {FLOOR_SCHEMA}")
        try:
            for table in tables:
                conn.execute(f"CREATE TABLE {FLOOR_SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
            started, rows = time.perf_counter(), 0
            with conn.transaction():
                for table in tables:  # the stream directory: the read models' rows only
                    only = " WHERE owner = %s" if table == "stream_directory" else ""
                    rows += conn.execute(f"INSERT INTO {FLOOR_SCHEMA}.{table} SELECT * FROM public.{table}{only}",
                                         (GROUP_NAME,) if only else None).rowcount
            inserting = time.perf_counter() - started
        finally:
            conn.execute(f"DROP SCHEMA {FLOOR_SCHEMA} CASCADE")
    ceiling = events / ((processes * decode + inserting) / (os.cpu_count() or 1))
    return {"events": events, "decode_cpu_s": round(decode, 2), "rows": rows, "rows_s": round(inserting, 2),
            "processes": processes, "ceiling_events_per_s": round(ceiling, 1),
            "ceiling_ratio": round(ceiling / baseline, 3)}


def _ed25519_rate(seconds: float) -> float:
    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), hashlib.sha256(b"x").hexdigest().encode()
    signature, count, stop = key.sign(message), 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        for _ in range(100):
            public.verify(signature, message)
        count += 100
    return count / seconds


def ed25519_verify_rate(seconds: float = 2.0) -> dict:
    """Ed25519 verifications/s of every core at once (one process per core, summed).

    Measured together, not one core times the cores: two vCPUs of a VM busy at once each run
    5-13 % slower here than one alone, and ``ledger verify`` keeps them all busy."""
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores) as pool:
        rates = list(pool.map(_ed25519_rate, [seconds] * cores))
    return {"per_core_per_s": [round(r, 1) for r in rates], "cores": cores, "baseline_per_s": round(sum(rates), 1)}


def _jcs_sha_rate(states: list[bytes]) -> int:
    envelopes = [json.loads(s)["envelope"] for s in states]
    for envelope in envelopes:
        hashlib.sha256(canonical(envelope)).hexdigest()
    return len(envelopes)


def jcs_sha_rate(states: list[bytes], *, repeat: int = 3) -> dict:
    """SHA-256 + JCS of real envelopes (JSON decoding excluded), one process per core."""
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    with ProcessPoolExecutor(cores) as pool:
        done = sum(pool.map(_jcs_sha_rate, [states] * (repeat * cores)))
    elapsed = time.perf_counter() - started
    return {"events_per_s": round(done / elapsed, 1), "cores": cores}
