"""The data generator: realistic journeys written directly through the Ledger, fast.

One real autologous journey is run through the application services (enrol, label, collect,
pack, ship with a logger reading every minute and an excursion, receive, derive, QC, assess and
release with e-signatures, ship back, a refused wrong-patient infusion, infusion). Its events
become a template: every case replays it with fresh COI, labels, unit streams, excursion id and
patient pseudonym, stopped at a stage drawn from STAGES (cases in progress are the common case),
through ``Ledger.append`` in batches (every event chained, hashed, sealed; e-signatures signed
by the real users' keys), in several processes when asked.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any
from uuid import UUID

from ledger.domain.identifiers import issue_coi, issue_unit_label
from ledger.services.journeys import DEMO_PASSWORD, DEMO_PRODUCT, run_autologous_journey, seed_identities
from ledger.settings import Settings
from ledger.store.application import Draft, EsignIntent
from ledger.streams import case_stream, lot_stream, product_stream, unit_stream

# (the step a case stops after, weight): enrolled; collected; received at the plant; released;
# infused. A case keeps the template's events up to that step's ``Backfilled`` record.
STAGES = (("CaseEnrolled", 0.20), ("MaterialCollected", 0.50), ("UnpackedFrom", 0.20),
          ("ProductReleased", 0.03), ("ProductInfused", 0.07))


@dataclass(frozen=True)
class Template:
    events: list[dict[str, Any]]  # type, stream, data, actor, site, on_behalf, occurred_at, meaning, signer
    tokens: dict[str, str]  # token in the template -> role ("coi", "label:2", "ref", ...)

    def to_json(self) -> str:
        return json.dumps({"events": self.events, "tokens": self.tokens})

    @classmethod
    def from_json(cls, text: str) -> Template:
        raw = json.loads(text)
        return cls(raw["events"], raw["tokens"])


def capture_template(services) -> Template:
    """Seed identities, run one real journey and turn its events into a template."""
    seed_identities(services)
    ledger = services.ledger
    start = ledger.last_position()
    run_autologous_journey(services)
    # The product's specification is written once per ledger (the journey's first steps); cases
    # only name the product, so the replayed part starts after it.
    product = str(product_stream(DEMO_PRODUCT))
    envs = [e.envelope for _, e in ledger.read_log(after=start, limit=1000) if e.envelope["stream"] != product]
    tokens: dict[str, str] = {}
    labels = 0
    for env in envs:
        data = env["data"]
        if env["type"] == "CaseEnrolled":
            tokens[data["coi"]], tokens[env["stream"]], tokens[data["patient_ref"]] = "coi", "case", "ref"
        elif env["type"] == "UnitLabelled":
            tokens[data["label"]], tokens[env["stream"]] = f"label:{labels}", f"unit:{labels}"
            labels += 1
        elif env["type"] == "ManufacturingStarted":  # the lot's stream follows from the COI
            tokens.setdefault(env["stream"], f"lot:{data['lot']}")  # also written on each input bag's stream
        elif env["type"] == "ExcursionDetected":
            tokens[data["excursion_id"]] = "excursion"
        elif env["type"] == "OperationRefused" and data.get("attempted", {}).get("patient_ref"):
            tokens.setdefault(data["attempted"]["patient_ref"], "wrong-ref")
        elif "tracking" in data:
            tokens.setdefault(data["tracking"], f"tracking:{data['tracking']}")
    events = [{
        "type": env["type"], "stream": env["stream"], "data": env["data"], "actor": env["actor"],
        "site": env["site"], "on_behalf": env["on_behalf"], "occurred_at": env["occurred_at"],
        "meaning": env["esign"]["meaning"] if env["esign"] else None,
        "signer": env["esign"]["signer"] if env["esign"] else None,
    } for env in envs]
    untokenised = {e["stream"] for e in events} - set(tokens)
    if untokenised:  # replayed as is, they would collide with the first case's streams
        raise RuntimeError(f"template streams without a per-case value: {sorted(untokenised)}")
    return Template(events, tokens)


def stage_cuts(events: list[dict[str, Any]]) -> list[int]:
    """For each stage of STAGES, how many template events a case stopped there keeps: up to and
    including the ``Backfilled`` record of the stage's step."""
    cuts = []
    for step, _ in STAGES:
        at = next(i for i, e in enumerate(events) if e["type"] == step)
        cuts.append(next((j + 1 for j in range(at, len(events)) if events[j]["type"] == "Backfilled"),
                         len(events)))
    return cuts


def signers(template: Template) -> set[tuple[str, str]]:
    """The (meaning, signer) pairs of the template's e-signatures."""
    return {(e["meaning"], e["signer"]) for e in template.events if e["meaning"]}


class Replayer:
    """Turns the template into the drafts of case number ``n`` (deterministic per seed)."""

    def __init__(self, template: Template, intents: dict[tuple[str, str], EsignIntent], seed: int) -> None:
        self.text = json.dumps(template.events)
        self.tokens = template.tokens
        self.pattern = re.compile("|".join(re.escape(t) for t in sorted(template.tokens, key=len, reverse=True)))
        self.intents = intents
        self.rng = random.Random(seed)
        self.stages, self.weights = stage_cuts(template.events), [w for _, w in STAGES]

    def case(self) -> list[Draft]:
        rng = self.rng
        coi = issue_coi(rng)
        roles = sorted(set(self.tokens.values()), key=lambda r: not r.startswith("label"))
        values: dict[str, str] = {}
        for role in roles:  # labels first: unit streams follow from them
            kind, _, arg = role.partition(":")
            if kind == "label":
                values[role] = issue_unit_label(rng)
            elif kind == "unit":
                values[role] = str(unit_stream(values[f"label:{arg}"]))
            elif kind == "lot":
                values[role] = str(lot_stream(coi, arg))
            elif kind == "excursion":
                values[role] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            elif kind == "tracking":
                values[role] = f"{arg}-{coi}"
            else:
                values[role] = {"coi": coi, "case": str(case_stream(coi)),
                                "ref": hashlib.sha256(f"ref{coi}".encode()).hexdigest(),
                                "wrong-ref": hashlib.sha256(f"wrong{coi}".encode()).hexdigest()}[kind]
        by_token = {token: values[role] for token, role in self.tokens.items()}
        events = json.loads(self.pattern.sub(lambda m: by_token[m.group(0)], self.text))
        keep = rng.choices(self.stages, self.weights)[0]
        seen: set[str] = set()
        drafts = []
        for e in events[:keep]:  # every stream is new: its first event expects an empty stream
            first = e["stream"] not in seen
            seen.add(e["stream"])
            drafts.append(Draft(type=e["type"], stream=UUID(e["stream"]), data=e["data"], actor=e["actor"],
                                site=e["site"], on_behalf=e["on_behalf"], occurred_at=e["occurred_at"],
                                expected_seq=0 if first else None,
                                esign=self.intents[e["meaning"], e["signer"]] if e["meaning"] else None))
        return drafts


def _worker(args: tuple[str, str, int, int, int]) -> tuple[int, float]:
    settings_json, template_json, events, seed, batch = args
    from api.container import build_container

    container = build_container(Settings.model_validate_json(settings_json))
    try:
        identity = container.services.identity
        template = Template.from_json(template_json)
        intents = {(m, u): identity.signoff(user_id=u, password=DEMO_PASSWORD, meaning=m).intent
                   for m, u in signers(template)}
        replay = Replayer(template, intents, seed)
        written, pending, started = 0, [], time.perf_counter()
        while written < events:
            pending.extend(replay.case())
            if len(pending) >= batch or written + len(pending) >= events:
                container.ledger.append(pending[: min(len(pending), 1000)])
                written += len(pending[:1000])
                pending = pending[1000:]
        return written, time.perf_counter() - started
    finally:
        container.close()


def generate(bench_ledger, events: int, *, processes: int = 2, batch: int = 500, seed: int = 7) -> dict:
    """Write about ``events`` events (whole cases) and return what was written and how fast."""
    container = bench_ledger.container()
    try:
        template = capture_template(container.services)
    finally:
        container.close()
    settings = bench_ledger.settings
    raw = settings.model_dump(mode="json")
    for name in ("key_passphrase", "site_secret", "token_secret"):
        raw[name] = getattr(settings, name).get_secret_value()
    settings_json = json.dumps(raw)
    shares = [events // processes + (1 if i < events % processes else 0) for i in range(processes)]
    tasks = [(settings_json, template.to_json(), n, seed * 1000 + i, batch) for i, n in enumerate(shares) if n]
    started = time.perf_counter()
    if len(tasks) == 1:
        results = [_worker(tasks[0])]
    else:
        with ProcessPoolExecutor(len(tasks), mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_worker, tasks))
    elapsed = time.perf_counter() - started
    written = sum(n for n, _ in results)
    return {"events": written, "seconds": round(elapsed, 2), "events_per_s": round(written / elapsed),
            "processes": len(tasks), "template_events": len(template.events)}
