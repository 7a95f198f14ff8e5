"""R4: 20 clients hand over the same unit at once: exactly one succeeds, the rest get 409."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from api.container import build_container
from ledger.services.journeys import HOSPITAL, Timeline
from ledger.timefmt import utc_now

from .conftest import FULL, report

CLIENTS = 20


@pytest.mark.req("URS-COC-1")
def test_twenty_simultaneous_handovers_one_wins(served):
    container = build_container(served.settings)
    try:
        s, time = container.services, Timeline(utc_now() - timedelta(hours=1))  # occurred_at may not lie ahead
        coi = s.cases.enrol(time.at("nurse", HOSPITAL), kind="autologous", product="CAR-T (drill)",
                            treating_site=HOSPITAL, mrn="MRN-R4-0001").result.answer["coi"]
        unit = s.units.label(time.at("nurse", HOSPITAL), coi=coi, kind="apheresis_bag").result.answer["unit_id"]
    finally:
        container.close()
    served.start(workers=2 if FULL else 1)
    token = served.token("nurse")
    import httpx

    barrier, statuses, bodies = threading.Barrier(CLIENTS), [], []
    parties = ["courier", "tech", "qa", "clinician", "admin"]

    def hand_over(index: int) -> None:
        with httpx.Client(base_url=served.server.url, timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            body = {"type": "CustodyTransferred", "unit_id": unit,
                    "data": {"to_party": parties[index % len(parties)], "location": HOSPITAL}}
            barrier.wait()
            response = client.post("/v1/events", json=body)
            statuses.append(response.status_code)
            bodies.append(response.json())

    threads = [threading.Thread(target=hand_over, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1), (statuses, bodies)
    winner = next(b for b, code in zip(bodies, statuses, strict=True) if code == 201)
    with served.client("auditor") as client:
        custody = client.get(f"/v1/units/{unit}/custody", params={"min_position": winner["position"]})
        assert custody.status_code == 200, custody.text
        transfers = custody.json()["transfers"]
        assert len(transfers) == 1 and custody.json()["custodian"] == "nurse"
    report("R4", clients=CLIENTS, workers=2 if FULL else 1, created=statuses.count(201),
           conflicts_409=statuses.count(409))
