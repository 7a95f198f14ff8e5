"""``ledger scan``: courier mode. One scan per line on stdin (what a keyboard-wedge scanner types),
each posted to ``POST /v1/scans`` with a short coloured verdict per line.

Offline it keeps working: a scan the server cannot take (no connection, timeout, 5xx, 408, 429) is
appended to a local JSON-lines queue (fsync'd) and sent later, in order, with its own
``Idempotency-Key`` and its original ``occurred_at``, so a resend never records a scan twice.
Queue line: ``{"key": "<uuid4>", "body": {<the POST /v1/scans body>}, "first_attempt": "<RFC 3339 Z>"}``.
Exit codes: 0 every scan sent and MATCH; 2 usage; 3 scans remain queued; 4 scans remain queued because
the server refused the credentials (401: nothing was recorded, so they are kept, not dropped); 5 a scan
was not MATCH or an ``--accept`` was refused (5 wins over 3 and 4). ``--accept`` (purpose receipt)
acknowledges the handover after each MATCH (``scan_steps``), so the courier then holds the unit.
"""

from __future__ import annotations

import enum
import getpass
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import httpx
import typer
from rich.console import Console
from rich.text import Text

from ledger.domain.events_unit import SCAN_PURPOSES

from .scan_steps import acknowledgement

PURPOSES = SCAN_PURPOSES
Purpose = enum.Enum("Purpose", {p: p for p in PURPOSES}, type=str)  # type: ignore[misc]
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
VERDICTS = {"match": ("MATCH", "bold green"), "mismatch": ("MISMATCH", "bold red"), "expired": ("EXPIRED", "yellow"),
            "wrong_step": ("WRONG STEP", "yellow"), "unknown": ("UNKNOWN", "yellow")}
EXIT_OK, EXIT_USAGE, EXIT_QUEUED, EXIT_AUTH, EXIT_NOT_MATCHED = 0, 2, 3, 4, 5
_LINE_END = re.compile(rb"[\r\n]")


class Unavailable(Exception):
    """The server did not take the scan (unreachable, timeout, 5xx): keep it queued."""


class AuthRefused(Exception):
    """The server refused the credentials: nothing was recorded."""


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def visible(raw: str) -> str:
    """The raw scan, printable: GS as ``<GS>``, other control characters as ``\\xNN``."""
    return "".join("<GS>" if c == "\x1d" else f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c
                   for c in raw)


def read_scans(stream: BinaryIO) -> Iterator[str]:
    """Each scan as soon as its CR or LF arrives (no look-ahead); only the line end is removed."""
    read = getattr(stream, "read1", stream.read)
    pending = b""
    while chunk := read(65536):
        *lines, pending = _LINE_END.split(pending + chunk)
        yield from (line.decode("utf-8", "replace") for line in lines if line.strip())
    if pending.strip():
        yield pending.decode("utf-8", "replace")


def problem(reply: httpx.Response) -> tuple[str, str]:
    try:
        body = reply.json()
        return str(body.get("code") or f"HTTP_{reply.status_code}"), str(body.get("detail") or "")
    except (ValueError, AttributeError):
        return f"HTTP_{reply.status_code}", reply.text[:200]


@dataclass
class Entry:
    key: str
    body: dict[str, Any]
    first_attempt: str

    def line(self) -> bytes:
        item = {"key": self.key, "body": self.body, "first_attempt": self.first_attempt}
        return json.dumps(item, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Queue:
    """Scans waiting for the server, oldest first, one JSON line each. Appends are fsync'd; removing
    sent entries rewrites the file atomically (temporary file, fsync, ``os.replace``). A line that
    does not parse (a write cut short by a crash) is reported, moved to ``<file>.bad`` and skipped."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        self.path, self.warn = path, warn
        self._lock: Any = None

    def lock(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path.with_name(self.path.name + ".lock"), "ab")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def load(self) -> list[Entry]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        entries, bad, lines = [], [], data.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                entries.append(Entry(str(item["key"]), dict(item["body"]), str(item["first_attempt"])))
            except (ValueError, KeyError, TypeError):
                what = "truncated last line" if number == len(lines) else "unreadable line"
                self.warn(f"{self.path}:{number}: {what} skipped ({len(line)} bytes, kept in {self.path.name}.bad)")
                bad.append(line)
        if bad:
            with open(self.path.with_name(self.path.name + ".bad"), "ab") as aside:
                aside.write(b"".join(line + b"\n" for line in bad))
                aside.flush()
                os.fsync(aside.fileno())
            self.rewrite(entries)
        return entries

    def append(self, entry: Entry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a+b") as file:
            if file.tell() and (file.seek(-1, os.SEEK_END), file.read(1))[1] != b"\n":
                file.write(b"\n")  # never glue a new entry onto a cut-short line
            file.write(entry.line())
            file.flush()
            os.fsync(file.fileno())
        if new:
            _fsync_dir(self.path.parent)

    def rewrite(self, entries: list[Entry]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as file:
            file.write(b"".join(e.line() for e in entries))
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)


class Server:
    """``POST /v1/scans`` with a bearer token (given, or signed in for with user and password)."""

    def __init__(self, url: str, token: str | None, user: str | None, password: str | None, timeout: float):
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers={"User-Agent": "ledger-scan"})
        self.token, self.user, self.password = token, user, password

    def _sign_in(self) -> str:
        try:
            reply = self.http.post("/v1/auth/token", data={"username": self.user, "password": self.password})
        except httpx.TransportError as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None
        if reply.status_code == 200:
            return reply.json()["access_token"]
        if reply.status_code in TRANSIENT or reply.status_code >= 500:
            raise Unavailable(f"sign-in answered {reply.status_code}")
        raise AuthRefused("{}: {}".format(*problem(reply)))

    def post(self, entry: Entry) -> httpx.Response:
        """The final answer (201 or a 4xx refusal); raises Unavailable or AuthRefused."""
        return self.call("POST", "/v1/scans", json=entry.body, key=entry.key)

    def call(self, method: str, path: str, *, json: Any = None, key: str | None = None) -> httpx.Response:
        for attempt in (1, 2):
            if self.token is None:
                self.token = self._sign_in()
            headers = {"Authorization": f"Bearer {self.token}"} | ({"Idempotency-Key": key} if key else {})
            try:
                reply = self.http.request(method, path, json=json, headers=headers)
            except httpx.TransportError as exc:
                raise Unavailable(f"{type(exc).__name__}: {exc}") from None
            if reply.status_code == 401 and self.user and attempt == 1:
                self.token = None  # the session ended: sign in again, once
                continue
            if reply.status_code == 401:
                raise AuthRefused("{}: {}".format(*problem(reply)))
            if reply.status_code in TRANSIENT or not (reply.status_code in (200, 201)
                                                      or 400 <= reply.status_code < 500):
                raise Unavailable(f"server answered {reply.status_code}")
            return reply
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class Courier:
    server: Server
    queue: Queue
    out: Console
    err: Console
    accept: bool = False
    sent: int = 0
    not_matched: int = 0
    why: str = ""
    auth_error: str | None = None

    def say(self, word: str, style: str, rest: str) -> None:
        self.out.print(Text.assemble((f"{word:<10}", style), " ", rest))

    def flush(self) -> bool:
        """Send queued scans, oldest first, stopping at the first that cannot be sent; True when empty."""
        entries = self.queue.load()
        done = 0
        try:
            while done < len(entries) and self.send(entries[done], queued=True):
                done += 1
        finally:
            if done:
                self.queue.rewrite(entries[done:])
        return done == len(entries)

    def send(self, entry: Entry, *, queued: bool) -> bool:
        if self.auth_error:
            return False
        try:
            reply = self.server.post(entry)
        except Unavailable as exc:
            self.why = str(exc)
            return False
        except AuthRefused as exc:
            self.auth_error = str(exc)
            self.err.print(Text.assemble(("credentials refused ", "bold red"), str(exc),
                                         "; scans stay queued: fix them, then run `ledger scan --flush`"))
            return False
        self.sent += 1
        self.report(entry, reply, f"  (scanned {entry.body['occurred_at']}, sent from the queue)" if queued else "")
        return True

    def report(self, entry: Entry, reply: httpx.Response, note: str) -> None:
        if reply.status_code != 201:
            code, detail = problem(reply)
            self.not_matched += 1
            self.say("MISMATCH" if code == "COI_MISMATCH" else "REFUSED", "bold red", f"{code}: {detail}{note}")
            return
        data = reply.json()
        verdict = str(data.get("verdict"))
        word, style = VERDICTS.get(verdict, (verdict.upper(), "yellow"))
        reason = f"  {data['reason']}" if data.get("reason") else ""
        if not data.get("unit_id"):  # only what was read: the raw scan, no expected COI beside it
            self.not_matched += 1
            self.say(word, style, f"{visible(entry.body['raw'])}{reason}{note}")
            return
        label = next((i["value"] for i in data.get("identifiers", []) if i.get("kind") == "unit_label"),
                     data["unit_id"])
        self.say(word, style, f"{label}  {data.get('coi') or '-'}{reason}{note}")
        if verdict != "match":
            self.not_matched += 1
        elif self.accept:
            self.take(entry, data["unit_id"], label)

    def take(self, entry: Entry, unit_id: str, label: str) -> None:
        """Acknowledge the handover of what was scanned (its container's, if packed)."""
        try:
            unit = self.server.call("GET", f"/v1/units/{unit_id}")
            if unit.status_code != 200:
                raise RuntimeError("{}: {}".format(*problem(unit)))
            body = acknowledgement(unit.json(), occurred_at=entry.body["occurred_at"],
                                   location=entry.body.get("location"), site=entry.body.get("site"))
            reply = self.server.call("POST", "/v1/events", json=body, key=f"{entry.key}-accept")
            if reply.status_code != 201:
                raise RuntimeError("{}: {}".format(*problem(reply)))
        except (Unavailable, AuthRefused, RuntimeError) as exc:
            self.not_matched += 1
            self.say("REFUSED", "bold red", f"{label} not accepted: {exc}")
            return
        held = "" if body["unit_id"] == unit_id else f" in its container {unit.json().get('container')}"
        self.say("ACCEPTED", "bold green", f"{label}{held}: you hold it now")

    def scan(self, raw: str, template: dict[str, Any]) -> None:
        """Flush what waits first (order), then post; queue the scan if the server does not take it."""
        entry = Entry(str(uuid.uuid4()), {**template, "raw": raw, "occurred_at": now_utc()}, now_utc())
        if self.flush() and self.send(entry, queued=False):
            return
        self.queue.append(entry)
        waiting = len(self.queue.load())
        why = "credentials refused" if self.auth_error else self.why or "server unavailable"
        self.say("QUEUED", "yellow", f"{visible(raw)}  ({why}; {waiting} waiting)")


def scan(
    server: Annotated[str, typer.Option(envvar="LEDGER_SERVER", help="Ledger API base URL.")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="LEDGER_TOKEN", help="Bearer token (device or user).")] = None,
    user: Annotated[str | None, typer.Option(help="Sign in as this user instead of --token.")] = None,
    password: Annotated[str | None, typer.Option(envvar="LEDGER_PASSWORD", help="Password for --user.")] = None,
    purpose: Annotated[Purpose, typer.Option(help="The step the scan is for (see Purposes below).")] = Purpose.verify,  # type: ignore[attr-defined]
    location: Annotated[str | None, typer.Option(help="Where the scan happens.")] = None,
    site: Annotated[str | None, typer.Option(help="Site acted at (default: your first site).")] = None,
    expect_coi: Annotated[str | None, typer.Option(help="COI every scanned unit must carry.")] = None,
    expect_unit: Annotated[str | None, typer.Option(help="Unit id (UUID) every scan must name.")] = None,
    queue: Annotated[Path, typer.Option(envvar="LEDGER_SCAN_QUEUE", help="Offline queue (JSON lines).")] = Path(
        "var/scan-queue.jsonl"),
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the server.")] = 5.0,
    flush: Annotated[bool, typer.Option("--flush", help="Only send the queued scans, read no stdin.")] = False,
    accept: Annotated[bool, typer.Option("--accept", help=(
        "With --purpose receipt: after each MATCH, acknowledge the handover (take custody of the unit, "
        "or of the container it is packed in, with its contents)."))] = False,
) -> None:
    """Courier mode: post one scan per stdin line, print a verdict each; queue scans while offline."""
    out, err = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)
    if user:
        token = None
        if password is None and sys.stdin.isatty():
            password = getpass.getpass(f"password for {user}: ")
        if password is None:
            err.print("[red]--user needs --password (or LEDGER_PASSWORD): stdin carries the scans[/red]")
            raise typer.Exit(EXIT_USAGE)
    elif not token:
        err.print("[red]give --token (or LEDGER_TOKEN) or --user and --password[/red]")
        raise typer.Exit(EXIT_USAGE)
    if accept and purpose.value != "receipt":
        err.print("[red]--accept takes custody after a MATCH on receipt: use it with --purpose receipt[/red]")
        raise typer.Exit(EXIT_USAGE)
    if expect_unit is not None:
        try:
            expect_unit = str(uuid.UUID(expect_unit))
        except ValueError:
            err.print(f"[red]--expect-unit must be a unit id (UUID), not {expect_unit!r}[/red]")
            raise typer.Exit(EXIT_USAGE) from None
    store = Queue(queue, lambda message: err.print(Text(message, style="yellow")))
    try:
        locked = store.lock()
    except OSError as exc:
        err.print(Text(f"cannot use the queue {queue}: {exc}", style="red"))
        raise typer.Exit(EXIT_USAGE) from None
    if not locked:
        err.print(Text(f"another `ledger scan` is using {queue}", style="red"))
        raise typer.Exit(EXIT_USAGE)
    template: dict[str, Any] = {"purpose": purpose.value}
    template |= {k: v for k, v in (("location", location), ("site", site)) if v}
    if expect_coi or expect_unit:
        template["expect"] = {k: v for k, v in (("coi", expect_coi), ("unit_id", expect_unit)) if v}
    courier = Courier(Server(server, token, user, password, timeout), store, out, err, accept=accept)
    try:
        if not flush:
            if sys.stdin.isatty():
                err.print(f"scanning for {purpose.value} -> {server}  (Ctrl-D to finish)")
            try:
                for raw in read_scans(sys.stdin.buffer):
                    courier.scan(raw, template)
            except KeyboardInterrupt:
                err.print("interrupted: sending what is queued")
        courier.flush()
    finally:
        courier.server.http.close()
    remaining = len(store.load())
    err.print(f"sent {courier.sent}; {remaining} queued in {queue}"
              + (f" ({courier.auth_error or courier.why})" if remaining else ""))
    if courier.not_matched:
        err.print(f"{courier.not_matched} scan(s) not MATCH or not accepted")
        raise typer.Exit(EXIT_NOT_MATCHED)
    if remaining:
        raise typer.Exit(EXIT_AUTH if courier.auth_error else EXIT_QUEUED)
