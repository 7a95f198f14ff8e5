"""The site scope of writes (``ledger.services.scope``) through the executor, on a real ledger:
a scoped context appends only to streams within its sites, by custody, or through its case's
units; an empty scope is unrestricted; a case's units widen only through the index given."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.errors import Forbidden
from ledger.services import build_services
from ledger.services.executor import Context
from ledger.services.journeys import FACTORY, HOSPITAL
from projections.db import make_engine

OTHER = "hospital-2"


def scoped(actor: str, site: str, *sites: str) -> Context:
    return Context(actor=actor, site=site, scope=(site, *sites))


@pytest.fixture
def world(seeded):
    seeded.identity.register_site(Context(actor="system"), site_id=OTHER, name="Other", kind="hospital")
    nurse = scoped("nurse", HOSPITAL)
    coi = seeded.cases.enrol(nurse, kind="autologous", product="p", treating_site=HOSPITAL,
                             mrn="MRN-1").result.answer["coi"]
    bag = UUID(seeded.units.label(nurse, coi=coi, kind="apheresis_bag").result.answer["unit_id"])
    return seeded, coi, bag


def forbidden(call) -> None:
    with pytest.raises(Forbidden) as refused:
        call()
    assert refused.value.code == "SITE_FORBIDDEN"


def test_another_site_is_refused_and_nothing_is_appended(world):
    services, coi, bag = world
    before = services.ledger.last_position()
    forbidden(lambda: services.cases.hold(scoped("nurse2", OTHER), coi=coi, reason="r"))
    forbidden(lambda: services.quality.record_qc(scoped("nurse2", OTHER), unit_id=bag, test="t", result="fail"))
    forbidden(lambda: services.units.label(scoped("nurse2", OTHER), coi=coi, kind="sample"))
    assert services.ledger.last_position() == before
    services.cases.hold(scoped("nurse", HOSPITAL), coi=coi, reason="r")  # own site
    services.cases.resume(Context(actor="system"), coi=coi, reason="r")  # no scope: unrestricted


def test_a_new_case_names_only_the_principals_sites(world):
    services, _, _ = world
    forbidden(lambda: services.cases.enrol(scoped("integrator2", OTHER), kind="autologous", product="p",
                                           treating_site=OTHER, collection_site=HOSPITAL, mrn="MRN-2"))
    services.cases.enrol(scoped("integrator", OTHER, HOSPITAL), kind="autologous", product="p",
                         treating_site=OTHER, collection_site=HOSPITAL, mrn="MRN-3")


def test_custody_grants_scope_over_the_unit_only(world):
    services, coi, bag = world
    courier = scoped("courier", "courier-hub-1")
    forbidden(lambda: services.units.acknowledge(courier, unit_id=bag))
    services.units.handover(scoped("nurse", HOSPITAL), unit_id=bag, to_party="courier")
    services.units.acknowledge(courier, unit_id=bag)  # the pending recipient
    services.units.dispatch(courier, unit_id=bag, carrier="c", tracking="t", from_site=HOSPITAL,
                            to_site=FACTORY)  # the custodian
    forbidden(lambda: services.cases.hold(courier, coi=coi, reason="r"))


def test_a_cases_units_widen_its_scope_only_through_the_index(world, domain_ledger, database):
    services, coi, bag = world
    services.units.handover(scoped("nurse", HOSPITAL), unit_id=bag, to_party="tech")
    services.units.acknowledge(scoped("tech", FACTORY), unit_id=bag, location=FACTORY)
    tech = scoped("tech", FACTORY)
    forbidden(lambda: services.cases.hold(tech, coi=coi, reason="r"))  # no index given: refused (fails closed)
    engine = make_engine(database)
    try:
        indexed = build_services(domain_ledger, engine, master_secret=b"test-master-secret",
                                 case_units=lambda c: [bag] if c == coi else [])
        indexed.units.label(tech, coi=coi, kind="shipper")  # the bag is at the factory
        indexed.cases.hold(tech, coi=coi, reason="deviation")
        forbidden(lambda: indexed.cases.resume(scoped("nurse2", OTHER), coi=coi, reason="r"))
    finally:
        engine.dispose()

