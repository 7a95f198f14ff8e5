"""`ledger scan` as a courier runs it: a real server process, scans piped into a real CLI process,
the server stopped and started again under it, the offline queue sent in order exactly once."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import get_args

import httpx
import pytest

from api.routes.scans import Purpose
from ledger.domain.identifiers import purpose_key, scan_digest
from ledger.services.journeys import DEMO_PASSWORD
from ledger.settings import DEV_SITE_SECRET
from ledger_cli.scan import PURPOSES
from ledger_cli.scan_steps import PURPOSE_HELP
from scanners.own import ldg1_payload

CLI = [sys.executable, "-m", "ledger_cli.main"]
GS1_WITH_GS = "]C1010950600013435210LOT42\x1d17301231"  # symbology prefix, GS before the next AI
SCANNER = "integrator"
"""Who scans the demo case's units: bound to its sites. A courier may scan only what it holds or is
offered (site scope of writes), as in the pickup tests at the end."""


class LiveServer:
    """`ledger serve` on a free loopback port; stop() and start() again on the same database."""

    def __init__(self, env: dict[str, str], log_path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url, self.env, self.log_path, self.proc = f"http://127.0.0.1:{self.port}", env, log_path, None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([*CLI, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def token(self, user: str) -> str:
        reply = httpx.post(f"{self.url}/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
        assert reply.status_code == 200, reply.text
        return reply.json()["access_token"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("scan")
    unset = ("LEDGER_SERVER", "LEDGER_TOKEN", "LEDGER_PASSWORD", "LEDGER_SCAN_QUEUE", "FORCE_COLOR", "NO_COLOR")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return clean | {"LEDGER_ENV": "dev", "LEDGER_DATABASE_URL": f"sqlite:///{home}/l.sqlite",
                    "LEDGER_KEYS_DIR": str(home / "keys"), "LEDGER_INSECURE_FAST_HASHING": "true"}


@pytest.fixture(scope="module")
def cois(env):
    demo = subprocess.run([*CLI, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    return json.loads(demo.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def server(env, cois, tmp_path_factory):
    live = LiveServer(env, tmp_path_factory.mktemp("log") / "server.log")
    try:
        live.start()
        yield live
    finally:
        live.stop()


@pytest.fixture
def up(server):
    """The server, running again after a test that stopped it."""
    if server.proc is None:
        server.start()
    return server


@pytest.fixture(scope="module")
def units(server, cois):
    """Units of the autologous demo case: kind -> [(unit_id, LDG1 payload)]."""
    headers = {"Authorization": f"Bearer {server.token(SCANNER)}"}
    coi = cois["autologous"]
    graph = httpx.get(f"{server.url}/v1/cases/{coi}/genealogy", headers=headers).json()
    found: dict[str, list[tuple[str, str]]] = {}
    for node in graph["nodes"]:
        if node["type"] == "unit":
            found.setdefault(node["kind"], []).append((node["id"], ldg1_payload(node["label"], coi)))
    return found


def run_scan(server, env, tmp_path, *args, stdin="", timeout=60, user=SCANNER):
    return subprocess.run([*CLI, "scan", "--server", server.url, "--queue", str(tmp_path / "q.jsonl"),
                           "--user", user, "--password", DEMO_PASSWORD, "--timeout", "2", *args],
                          env=env, input=stdin.encode(), capture_output=True, timeout=timeout)


def words(result) -> list[str]:
    return [line[:10].strip() for line in result.stdout.decode().splitlines()]


def audit(server, sentinel: str, **filters) -> list[dict]:
    """UnitScanned rows in log order, once the read models have caught up with a fresh sentinel scan
    (so every earlier append is visible); the sentinel itself is left out."""
    scanner = {"Authorization": f"Bearer {server.token(SCANNER)}"}
    mark = httpx.post(f"{server.url}/v1/scans", headers=scanner, json={"raw": sentinel, "purpose": "verify"})
    assert mark.status_code == 201, mark.text
    auditor = {"Authorization": f"Bearer {server.token('auditor')}"}
    reply = httpx.get(f"{server.url}/v1/audit-trail", headers=auditor, params={
        "type": "UnitScanned", "limit": 1000, "min_position": mark.json()["event"]["position"], **filters})
    assert reply.status_code == 200, reply.text
    return [row for row in reply.json()["items"] if row["event_id"] != mark.json()["event"]["event_id"]]


def scans_of(server, unit: tuple[str, str]) -> list[dict]:
    return audit(server, unit[1], unit_id=unit[0])


def test_the_cli_offers_exactly_the_purposes_of_the_api():
    assert get_args(Purpose) == PURPOSES


def test_one_verdict_per_line_plain_when_piped(up, env, units, tmp_path):
    shipper_scan, bag_scan = units["shipper"][0][1], units["apheresis_bag"][0][1]
    stdin = f"{shipper_scan}\r\n\n   \nnot a label\n{bag_scan}\r{GS1_WITH_GS}"  # CRLF, CR, LF, no final newline
    result = run_scan(up, env, tmp_path, "--purpose", "verify", stdin=stdin)
    assert result.returncode == 5, result.stderr  # two scans were refused
    out = result.stdout.decode()
    # the demo's apheresis bag kept 72 h from its collection, three weeks ago
    assert words(result) == ["MATCH", "REFUSED", "EXPIRED", "REFUSED"], out
    assert "REFUSED    UNKNOWN_IDENTIFIER: scan not recognised" in out
    assert shipper_scan.split("|")[1].removeprefix("unit=") in out.splitlines()[0]
    assert "\x1b[" not in out  # no colours when stdout is not a terminal
    assert "sent 4; 0 queued" in result.stderr.decode()
    assert not (tmp_path / "q.jsonl").exists() or (tmp_path / "q.jsonl").read_bytes() == b""


def test_verdicts_are_coloured_on_a_terminal(up, env, units, tmp_path):
    import pty

    master, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([*CLI, "scan", "--server", up.url, "--queue", str(tmp_path / "q.jsonl"), "--user",
                                 SCANNER, "--password", DEMO_PASSWORD], env=env | {"TERM": "xterm-256color"},
                                stdin=subprocess.PIPE, stdout=terminal, stderr=subprocess.PIPE)
        os.close(terminal)
        proc.communicate(f"{units['shipper'][0][1]}\nnot a label\n".encode(), timeout=60)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    assert proc.returncode == 5  # "not a label" was refused
    assert b"\x1b[1;32mMATCH" in shown and b"\x1b[1;31mREFUSED" in shown, shown


def test_mismatches_wrong_steps_and_unknown_units(up, env, units, cois, tmp_path):
    unit_id, payload = units["shipper"][0]
    donor = cois["donor"]
    wrong_patient = run_scan(up, env, tmp_path, "--purpose", "infusion", "--expect-coi", donor, stdin=payload + "\n")
    assert words(wrong_patient) == ["MISMATCH"] and wrong_patient.returncode == 5, wrong_patient.stdout
    assert f"COI_MISMATCH: {payload.split('=')[1].split('|')[0]} carries" in wrong_patient.stdout.decode()
    checks = run_scan(up, env, tmp_path, "--purpose", "receipt", "--expect-coi", cois["autologous"],
                      "--location", "courier-hub-1", stdin=f"{payload}\n{GS1_WITH_GS}\n")
    assert words(checks) == ["WRONG STEP", "UNKNOWN"] and checks.returncode == 5, checks.stdout
    assert "no handover awaits receipt" in checks.stdout.decode()
    other = run_scan(up, env, tmp_path, "--purpose", "verify", "--expect-coi", donor, stdin=payload + "\n")
    assert words(other) == ["MISMATCH"], other.stdout
    # The GS character and the symbology prefix reach the ledger untouched (as the keyed digest
    # of the exact text: a scan that matches no unit keeps no text).
    recorded = [r for r in scans_of(up, (unit_id, payload)) if r["detail"]["purpose"] == "receipt"]
    assert recorded and recorded[-1]["detail"]["location"] == "courier-hub-1"
    on_the_case = audit(up, payload, coi=cois["autologous"])
    key = purpose_key(env.get("LEDGER_SITE_SECRET", DEV_SITE_SECRET).encode(), "scan")
    unknown = [r["detail"] for r in on_the_case if r["detail"].get("verdict") == "unknown"]
    assert [d["scanned"] for d in unknown] == [
        {"kind": "gs1", "length": len(GS1_WITH_GS), "digest": scan_digest(key, GS1_WITH_GS)}]
    assert not any(d.get("raw") for d in unknown) and unknown[0]["parsed"] == {}


def test_refused_credentials_keep_the_scan_queued(up, env, units, tmp_path):
    _, payload = units["shipper"][0]
    result = subprocess.run([*CLI, "scan", "--server", up.url, "--queue", str(tmp_path / "q.jsonl"), "--token", "nope"],
                            env=env, input=(payload + "\n").encode(), capture_output=True, timeout=60)
    assert result.returncode == 4, result.stderr
    assert words(result) == ["QUEUED"] and "INVALID_TOKEN" in result.stderr.decode()
    assert len((tmp_path / "q.jsonl").read_bytes().splitlines()) == 1
    assert run_scan(up, env, tmp_path, "--flush").returncode == 0


@pytest.mark.req("URS-OFF-2")
def test_offline_scans_are_queued_then_sent_in_order_exactly_once(server, env, units, tmp_path):
    picked = [units["shipper"][0], units["shipper"][1], units["final_product_bag"][1]]
    server.stop()
    try:
        offline = run_scan(server, env, tmp_path, "--purpose", "verify",
                           stdin="".join(payload + "\n" for _, payload in picked))
        assert offline.returncode == 3, offline.stderr
        assert words(offline) == ["QUEUED"] * 3
        assert "3 queued" in offline.stderr.decode()
        entries = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
        assert [e["body"]["raw"] for e in entries] == [payload for _, payload in picked]
        assert len({e["key"] for e in entries}) == 3
        stamps = [e["body"]["occurred_at"] for e in entries]
        assert stamps == sorted(stamps) and all(s.endswith("Z") for s in stamps)
        shutil.copy(tmp_path / "q.jsonl", tmp_path / "copy.jsonl")
        server.start()
        flushed = run_scan(server, env, tmp_path, "--flush")
        assert flushed.returncode == 0, flushed.stderr
        assert words(flushed) == ["MATCH"] * 3
        assert [s in line for s, line in zip(stamps, flushed.stdout.decode().splitlines(), strict=True)] == [True] * 3
        assert (tmp_path / "q.jsonl").read_bytes() == b""
        # A crash between sending and rewriting the queue: the same entries are sent again.
        shutil.copy(tmp_path / "copy.jsonl", tmp_path / "q.jsonl")
        again = run_scan(server, env, tmp_path, "--flush")
        assert again.returncode == 0 and words(again) == ["MATCH"] * 3, again.stdout
        positions = []
        for unit, stamp in zip(picked, stamps, strict=True):
            rows = [r for r in scans_of(server, unit) if r["occurred_at"] == stamp]
            assert len(rows) == 1, rows  # exactly once, with the time it was scanned
            positions.append(rows[0]["position"])
        assert positions == sorted(positions)  # recorded in the order scanned
    finally:
        if server.proc is None:
            server.start()


def test_a_later_line_sends_the_queue_first_and_a_cut_short_line_is_skipped(server, env, units, tmp_path):
    (_, first), (_, second) = units["shipper"][0], units["shipper"][1]
    (tmp_path / "q.jsonl").write_bytes(b'{"key":"cut-short","body":{"raw":"LDG1|un')  # a crash mid-append
    proc = subprocess.Popen([*CLI, "scan", "--server", server.url, "--queue", str(tmp_path / "q.jsonl"), "--user",
                             SCANNER, "--password", DEMO_PASSWORD, "--timeout", "2"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(b.decode()) for b in proc.stdout], daemon=True).start()

    def scan(payload: str) -> str:
        proc.stdin.write(payload.encode() + b"\n")
        proc.stdin.flush()
        return lines.get(timeout=20)

    try:
        assert scan(first).startswith("MATCH")
        server.stop()
        assert scan(second).startswith("QUEUED")
        server.start()
        sent_from_queue = scan(first)
        assert sent_from_queue.startswith("MATCH") and "sent from the queue" in sent_from_queue
        assert lines.get(timeout=20).startswith("MATCH")  # the new scan, after the queued one
        proc.stdin.close()
        assert proc.wait(30) == 0
        assert "truncated last line" in proc.stderr.read().decode()
        assert (tmp_path / "q.jsonl.bad").read_bytes().startswith(b'{"key":"cut-short"')
        queued_row = scans_of(server, units["shipper"][1])[-1]
        new_row = scans_of(server, units["shipper"][0])[-1]
        assert queued_row["position"] < new_row["position"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if server.proc is None:
            server.start()


def test_garbage_is_unknown_with_only_what_was_read(up, env, cois, tmp_path):
    coi = cois["autologous"]
    result = run_scan(up, env, tmp_path, "--purpose", "receipt", "--expect-coi", coi, stdin="hello world\n")
    assert words(result) == ["UNKNOWN"] and result.returncode == 5, result.stdout
    line = result.stdout.decode().splitlines()[0]
    assert "hello world" in line and coi not in line, line  # the expected COI is not what was read


def test_every_purpose_is_explained_in_the_help():
    assert set(PURPOSE_HELP) == set(PURPOSES)
    shown = subprocess.run([*CLI, "scan", "--help"], capture_output=True, text=True, timeout=60,
                           env=os.environ | {"COLUMNS": "100"})
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    for purpose, text in PURPOSE_HELP.items():
        assert any(purpose in line and text in line for line in lines), (purpose, shown.stdout)
    assert "5  a scan was not MATCH" in shown.stdout


def _pickup(server, coi: str) -> tuple[str, str, str]:
    """The nurse labels a bag and a shipper, packs the bag and offers the shipper to the courier."""
    nurse = {"Authorization": f"Bearer {server.token('nurse')}"}

    def label(kind: str, spec: dict | None = None) -> dict:
        reply = httpx.post(f"{server.url}/v1/units", headers=nurse,
                           json={"coi": coi, "kind": kind} | ({"spec": spec} if spec else {}))
        assert reply.status_code == 201, reply.text
        return reply.json()["answer"]

    bag, shipper = label("cryobag", {"min_celsius": -196, "max_celsius": -150}), label("shipper")
    for body in ({"type": "PackedInto", "unit_id": bag["unit_id"], "data": {"container_id": shipper["unit_id"]}},
                 {"type": "CustodyTransferred", "unit_id": shipper["unit_id"],
                  "data": {"to_party": "courier", "location": "hospital-1"}}):
        reply = httpx.post(f"{server.url}/v1/events", headers=nurse, json=body)
        assert reply.status_code == 201, reply.text
    return bag["label"], bag["unit_id"], shipper["unit_id"]


@pytest.mark.req("URS-COC-1")
def test_a_courier_picks_up_correct_labels_and_then_holds_them(up, env, cois, tmp_path):
    coi = cois["autologous"]
    bag_label, bag, shipper = _pickup(up, coi)
    # the README's pickup: the courier scans the bag's label in the shipper offered to them
    readme = run_scan(up, env, tmp_path, "--purpose", "receipt", "--accept", "--location", "hospital-1",
                      "--expect-coi", coi, stdin=bag_label + "\n", user="courier")
    assert readme.returncode == 0, (readme.stdout, readme.stderr)
    assert words(readme) == ["MATCH", "ACCEPTED"], readme.stdout
    mark = httpx.post(f"{up.url}/v1/scans", headers={"Authorization": f"Bearer {up.token('courier')}"},
                      json={"raw": bag_label, "purpose": "verify"}).json()["event"]["position"]
    auditor = {"Authorization": f"Bearer {up.token('auditor')}"}
    for unit in (shipper, bag):
        custody = httpx.get(f"{up.url}/v1/units/{unit}/custody", params={"min_position": mark}, headers=auditor)
        assert custody.status_code == 200 and custody.json()["custodian"] == "courier", custody.text
    # taken: scanning for receipt again is the wrong step, and the exit code says so
    again = run_scan(up, env, tmp_path, "--purpose", "receipt", "--accept", stdin=bag_label + "\n", user="courier")
    assert words(again) == ["WRONG STEP"] and again.returncode == 5, again.stdout
    assert run_scan(up, env, tmp_path, "--purpose", "verify", "--accept", stdin="", user="courier").returncode == 2


@pytest.mark.req("URS-P11-10f")
def test_a_handover_scan_at_pickup_is_the_wrong_step(up, env, cois, tmp_path):
    """Why the README's pickup uses receipt: handover is the sender's scan, before offering."""
    coi = cois["autologous"]
    bag_label, _, _ = _pickup(up, coi)
    sender_step = run_scan(up, env, tmp_path, "--purpose", "handover", "--expect-coi", coi, stdin=bag_label + "\n",
                           user="courier")
    assert words(sender_step) == ["WRONG STEP"] and sender_step.returncode == 5, sender_step.stdout
